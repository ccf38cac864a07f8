"""docs/trainers.md lists every argument of the prebuilt trainers with the default and meaning the code has."""
from __future__ import annotations

import json

import pytest

from tests.conftest import REPO
from trainers_jax.trainer_args import ClassifierArgs, LatencyArgs, TabularArgs


@pytest.mark.parametrize("model", [ClassifierArgs, LatencyArgs, TabularArgs])
def test_every_argument_is_documented_as_the_code_has_it(model) -> None:
    text = (REPO / "docs" / "trainers.md").read_text(encoding="utf-8")
    for name, field in model.model_fields.items():
        default = field.default if field.default_factory is None else field.default_factory()
        row = f"| `{field.alias or name}` | `{json.dumps(default)}` | {field.description} |"
        assert field.description and row in text, f"docs/trainers.md lacks (or differs from): {row}"
