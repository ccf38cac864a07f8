"""`status` of an experiment with nothing recorded where it looks says so, instead of a bare Pending."""
from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from nasctl.cli import app
from reconciler.session import Session
from state.snapshot import save_experiment
from tests.conftest import nb201_spec

runner = CliRunner()


def _warnings(spec) -> list[str]:
    result = runner.invoke(app, ["status", "-f", str(spec), "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["warnings"]


def test_status_names_the_place_it_found_nothing_until_something_is_recorded(tmp_path):
    document = nb201_spec()
    document["spec"]["stateUri"] = str(tmp_path / "state")
    spec = tmp_path / "exp.yaml"
    spec.write_text(yaml.safe_dump(document))
    (warning,) = _warnings(spec)
    assert warning.startswith(f"nothing is recorded at {tmp_path / 'state'}/") and "relative stateUri" in warning
    session = Session.open(spec)
    save_experiment(session.store, session.state())
    assert _warnings(spec) == []
