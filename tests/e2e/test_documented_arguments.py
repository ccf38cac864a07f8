"""The docs list every argument of the prebuilt trainers (docs/trainers.md) and every setting of the search
algorithms (README.md) with the default and meaning the code has."""
from __future__ import annotations

import json

import pytest

from reconciler.controllers.settings import SETTINGS
from tests.conftest import REPO
from trainers_jax.trainer_args import ClassifierArgs, LatencyArgs, TabularArgs


def _rows(model, first_cells: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        default = field.default if field.default_factory is None else field.default_factory()
        rows.append(f"| {first_cells}`{field.alias or name}` | `{json.dumps(default)}` | {field.description} |")
    return rows


@pytest.mark.parametrize("model", [ClassifierArgs, LatencyArgs, TabularArgs])
def test_every_trainer_argument_is_documented_as_the_code_has_it(model) -> None:
    text = (REPO / "docs" / "trainers.md").read_text(encoding="utf-8")
    for row in _rows(model):
        assert row in text, f"docs/trainers.md lacks (or differs from): {row}"


@pytest.mark.parametrize("algorithm", sorted(SETTINGS))
def test_every_algorithm_setting_is_documented_as_the_code_has_it(algorithm: str) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for row in _rows(SETTINGS[algorithm], f"`{algorithm}` | "):
        assert row in text, f"README.md lacks (or differs from): {row}"
