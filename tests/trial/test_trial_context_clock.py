"""A trial's clock (`TrialContext.elapsed`, the seconds of each reported cycle) runs over all its launches."""
from __future__ import annotations

from pathlib import Path

from trial.context import TrialContext
from trial.dirs import LocalTrialDir


def _trial(tmp_path: Path) -> LocalTrialDir:
    trial = LocalTrialDir(tmp_path / "t")
    trial.path.mkdir()
    trial.write_spec({"id": "t", "stage": "search", "arch": {}, "args": {}})
    return trial


def test_a_first_launch_starts_its_clock_at_zero(tmp_path: Path) -> None:
    ctx = TrialContext(_trial(tmp_path).path)
    assert ctx.resumed_seconds == 0.0 and 0.0 <= ctx.elapsed() < 5.0


def test_a_relaunch_continues_from_the_last_reported_cycle(tmp_path: Path) -> None:
    trial = _trial(tmp_path)
    first = TrialContext(trial.path)
    first.report(10, {"accuracy": 0.5}, fraction=0.1, seconds=300.0)  # a trainer's own training time
    relaunched = TrialContext(trial.path)
    assert relaunched.resumed_seconds == 300.0 and 300.0 <= relaunched.elapsed() < 305.0
    relaunched.report(20, {"accuracy": 0.6}, fraction=0.2)  # without seconds: the clock over both launches
    (_, second) = trial.read_metrics()
    assert 300.0 <= second["seconds"] < 305.0
