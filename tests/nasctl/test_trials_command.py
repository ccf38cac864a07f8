"""`nasctl trials` and `status` on a search with failures, stopped and diverged trials: narrowed to what a user asks,
one row a trial that says why a failure failed, strict JSON."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from nasctl import render
from nasctl.cli import app
from state.local import LocalStore
from state.records import FAILED, STOPPED, SUCCEEDED, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState, save_experiment, save_trials
from tests.conftest import nb201_spec

TRACEBACK = "Traceback (most recent call last):\n  File \"train.py\", line 3\nRuntimeError: CUDA out of memory"


def _trial(index: int, status: str, reward: float | None = None, **fields: object) -> TrialRecord:
    return TrialRecord(f"search-{index:04d}", "search", index, [index], {"cell": f"arch-{index}"}, status=status,
                       reward=reward, metrics={"accuracy": reward, "steps": 100} if reward is not None else {},
                       launched_at=1000.0, finished_at=1000.0 + 60 * (index + 1), **fields)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    document = nb201_spec(max_trials=10, parallel=2, top_n=None)
    document["spec"]["stateUri"] = str(tmp_path / "state")
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(document))
    store = LocalStore(tmp_path / "state" / "exp")
    state = ExperimentState(ExperimentRecord(name="exp", generation="g"), {t.id: t for t in [
        _trial(0, SUCCEEDED, 0.70), _trial(1, SUCCEEDED, 0.90), _trial(2, SUCCEEDED, 0.80),
        _trial(3, FAILED, reason="oom", message=TRACEBACK), _trial(4, STOPPED, reason="deleted"),
        _trial(5, FAILED, reason="nan", message="reward: reward is nan (accuracy = nan)"),
    ]})
    state.trials["search-0005"].metrics = {"accuracy": math.nan}
    save_experiment(store, state)
    save_trials(store, state)
    return path


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_top_n_are_the_best_by_the_ranking_best_first(spec: Path) -> None:
    best = json.loads(_run("trials", "-f", str(spec), "--top", "2", "-o", "json"))
    assert [t["id"] for t in best] == ["search-0001", "search-0002"]


def test_a_status_narrows_and_a_failure_says_why_on_its_row(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "console", Console(width=160))  # a wide terminal: each row on one line
    failed = json.loads(_run("trials", "-f", str(spec), "--status", "failed", "-o", "json"))
    assert [t["id"] for t in failed] == ["search-0003", "search-0005"]
    text = _run("trials", "-f", str(spec), "--status", "failed")
    assert "RuntimeError: CUDA out of memory" in text and "Traceback" not in text  # the error, not the trace
    assert len([line for line in text.splitlines() if "search-00" in line]) == 2  # one row each


def test_json_is_strict_and_carries_each_trials_timing(spec: Path) -> None:
    raw = _run("trials", "-f", str(spec), "-o", "json")
    views = {t["id"]: t for t in json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))}
    assert views["search-0005"]["metrics"] == {"accuracy": None}
    assert (views["search-0002"]["launchedAt"], views["search-0002"]["seconds"]) == (1000.0, 180.0)
    assert views["search-0002"]["metrics"]["steps"] == 100


def test_status_counts_stopped_trials(spec: Path) -> None:
    counts = json.loads(_run("status", "-f", str(spec), "-o", "json"))["trials"]
    assert counts == {"total": 6, "succeeded": 3, "failed": 2, "running": 0, "pending": 0, "stopped": 1}


@pytest.mark.parametrize("option, value, needle", [
    ("--stage", "serach", "no stage 'serach'; this experiment's stages: search"),
    ("--status", "done", "no trial status 'done'; expected one of pending, running, succeeded, failed, stopped"),
])
def test_a_misspelt_filter_is_an_error_not_an_empty_table(spec: Path, option: str, value: str, needle: str) -> None:
    result = CliRunner().invoke(app, ["trials", "-f", str(spec), option, value])
    assert result.exit_code == 1 and needle in result.stderr


def test_trials_are_listed_in_the_stage_graphs_order() -> None:
    from nasctl.views import trials_view
    from reconciler.graph import STAGE_NAMES

    trials = [TrialRecord(f"{stage}-{index:04d}", stage, index, [index], None, status=SUCCEEDED, reward=0.5)
              for stage in reversed(STAGE_NAMES) for index in (1, 0)]
    listed = [(view["stage"], view["index"]) for view in trials_view(ExperimentState(
        ExperimentRecord(name="exp", generation="g"), {t.id: t for t in trials}))]
    assert listed == [(stage, index) for stage in STAGE_NAMES for index in (0, 1)]
