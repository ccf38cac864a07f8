"""`nasctl cost` and `nasctl apply --dry-run` from the command line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nasctl.cli import app
from state.local import LocalStore
from state.records import SUCCEEDED, TrialRecord
from state.snapshot import load_state, save_experiment, save_trials

EXAMPLE = Path(__file__).resolve().parents[2] / "specs" / "examples" / "test-drive-vertex.yaml"
runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """The test-drive example with its state in a local folder (no cloud needed)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["stateUri"] = str(tmp_path / "state")
    path = tmp_path / "test-drive.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cost_json(spec: Path) -> None:
    result = runner.invoke(app, ["cost", "-f", str(spec), "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (stage,) = report["stages"]
    assert (stage["runtimeHours"], stage["gpuHours"], stage["quotaGpus"]) == (12.5, 150, 12)
    assert report["totalCostUsd"] == pytest.approx(185, rel=0.25) and report["spentUsd"] == 0


def test_dry_run_shows_the_preview_and_writes_nothing(spec: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["apply", "-f", str(spec), "--dry-run"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "12.5" in result.output and "$185" in result.output and "Dry run: nothing was applied." in result.output
    assert "* search: quota also 96 vCPUs (aiplatform.googleapis.com/custom_model_training_cpus)" in result.output
    assert not (tmp_path / "state").exists()


def test_cost_of_an_experiment_under_way(spec: Path, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "state" / "mnasnet-test-drive")
    state = load_state(store, "mnasnet-test-drive", "g")
    state.add([TrialRecord(id=f"search-{i:04d}", stage="search", index=i, dna=[i], arch={}, status=SUCCEEDED,
                           launched_at=1000.0, finished_at=1000.0 + 2 * 3600) for i in range(5)])
    save_experiment(store, state)  # as apply records it, before any trial
    save_trials(store, state)
    report = json.loads(runner.invoke(app, ["cost", "-f", str(spec), "-o", "json"]).output)
    (stage,) = report["stages"]
    assert (stage["hoursPerTrial"], stage["hoursSource"], stage["finishedTrials"]) == (2.0, "measured", 5)
    assert stage["runtimeHours"] == pytest.approx(25 * 2 / 6)
    assert report["spentUsd"] == pytest.approx(report["totalCostUsd"] * 5 / 25, abs=0.02)
    assert report["remainingUsd"] == pytest.approx(report["totalCostUsd"] - report["spentUsd"], abs=0.02)
