"""The custom-trainer API (module:function with a TrialContext) and command trainers."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

from trial.context import TrialContext
from trial.protocol import FAILED, FAILED_NAN, SUCCEEDED, StopSignal
from trial.dirs import LocalTrialDir
from trial.runner import run

MakeTrial = Callable[..., LocalTrialDir]


def counting_trainer(ctx: TrialContext) -> dict[str, Any]:
    """A user's trainer: reads its arch and args, reports per cycle, honours stop signals, checkpoints."""
    marker = ctx.checkpoint_dir() / "last_step"
    step = int(marker.read_text()) if marker.exists() else 0
    total = ctx.args["steps"]
    while step < total and not ctx.should_stop(step / total):
        step += 1
        ctx.report(step, {"accuracy": step / total * ctx.arch()["scale"]}, fraction=step / total)
        marker.write_text(str(step))
    return {"accuracy": step / total * ctx.arch()["scale"], "steps": step}


def test_module_trainer_reports_stops_and_resumes(make_trial: MakeTrial) -> None:
    trial = make_trial(arch={"scale": 0.5}, args={"steps": 10},
                       trainer={"module": f"{__name__}:counting_trainer"}, stop=StopSignal(desired_fraction=0.4))
    first = run(str(trial.path))
    assert first.status == SUCCEEDED and first.metrics["steps"] == 4
    trial.write_stop(StopSignal(desired_fraction=1.0))
    second = run(str(trial.path))
    assert second.metrics == {"accuracy": 0.5, "steps": 10}
    assert [c["step"] for c in trial.read_metrics()] == list(range(1, 11))


def test_module_trainer_time_limit_stops_it(make_trial: MakeTrial) -> None:
    trial = make_trial(arch={"scale": 1.0}, args={"steps": 10},
                       trainer={"module": f"{__name__}:counting_trainer"}, stop=StopSignal(max_seconds=0.0))
    assert run(str(trial.path)).metrics["steps"] == 0  # 0.0 is a real limit, not "unset"


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "user_trainer.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_command_trainer_gets_trial_dir_and_architecture(make_trial: MakeTrial, tmp_path: Path) -> None:
    command = _script(tmp_path, """
        from trial.context import TrialContext
        ctx = TrialContext.from_env()
        depth = len(ctx.arch()["layers"])
        ctx.report(1, {"accuracy": 0.1 * depth}, fraction=1.0)
    """)
    trial = make_trial(arch={"layers": [1, 2, 3]}, trainer={"command": command})
    result = run(str(trial.path))
    assert result.status == SUCCEEDED
    assert abs(result.metrics["accuracy"] - 0.3) < 1e-9


def test_command_trainer_nonzero_exit_is_a_failure(make_trial: MakeTrial, tmp_path: Path) -> None:
    trial = make_trial(trainer={"command": _script(tmp_path, "raise SystemExit(3)")})
    result = run(str(trial.path))
    assert result.status == FAILED and "code 3" in result.message


def test_command_trainer_reporting_nan_is_a_nan_failure(make_trial: MakeTrial, tmp_path: Path) -> None:
    """Exit 0 after a diverged last cycle is no success: held to the rule prebuilt and module trainers follow."""
    command = _script(tmp_path, """
        from trial.context import TrialContext
        TrialContext.from_env().report(1, {"accuracy": float("nan")}, fraction=1.0)
    """)
    trial = make_trial(trainer={"command": command})
    result = run(str(trial.path))
    assert result.status == FAILED_NAN and "accuracy" in result.message
    assert trial.read_result().status == FAILED_NAN
