"""`nasctl diff -f FOLDER` (what CI runs on pull requests): every spec is planned, every bad one reported."""
from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from nasctl.cli import app
from tests.conftest import nb201_spec

runner = CliRunner()


def _spec(folder, name: str, experiment: str, state: str) -> None:
    document = nb201_spec(max_trials=4, top_n=None)
    document["metadata"]["name"] = experiment
    document["spec"]["stateUri"] = state
    (folder / name).write_text(yaml.safe_dump(document))


def test_bad_specs_stop_none_of_the_others_and_each_is_reported(tmp_path):
    _spec(tmp_path, "a.yaml", "first", str(tmp_path / "state"))
    (tmp_path / "b.yaml").write_text("kind: NASExperiment\n")
    _spec(tmp_path, "c.yml", "second", str(tmp_path / "state"))
    (tmp_path / "d.yaml").write_text("spec: [\n")
    result = runner.invoke(app, ["diff", "-f", str(tmp_path), "-o", "json"])
    assert result.exit_code == 1
    views = json.loads(result.stdout)
    assert [v.get("name") for v in views] == ["first", "second", None, None]
    assert [v["file"] for v in views[2:]] == [str(tmp_path / "b.yaml"), str(tmp_path / "d.yaml")]
    assert all(v["errors"] for v in views[2:])


def test_two_specs_of_one_folder_sharing_a_state_are_errors_naming_both(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        _spec(tmp_path, name, "same", str(tmp_path / "state"))
    result = runner.invoke(app, ["diff", "-f", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'a.yaml'}: records into {tmp_path / 'state' / 'same'} like {tmp_path / 'b.yaml'}" in result.output


def test_an_empty_folder_is_an_error_not_a_clean_plan(tmp_path):
    result = runner.invoke(app, ["diff", "-f", str(tmp_path), "--detailed-exitcode"])
    assert result.exit_code == 1 and "no *.yaml or *.yml spec in this folder" in result.output

