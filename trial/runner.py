"""Trial process entry point: ``python -m trial.runner TRIAL_DIR`` (a ``/gcs/`` path on Vertex, see trial.fuse).

Runs the trainer named in trial.json and always leaves a result.json with a classified status:
a trainer's exception never escapes as a crash without a reason.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import traceback
from typing import Mapping

from trial.context import TRIAL_DIR_ENV, TrialContext
from trial.fuse import local_path
from trial.protocol import FAILED, FAILED_NAN, SUCCEEDED, TrialFailure, TrialResult
from trial.trainers import resolve_trainer


def _run_command(ctx: TrialContext) -> TrialResult:
    """A command trainer writes result.json itself; exit 0 without one takes the last reported metrics."""
    command = ctx.spec["trainer"]["command"]
    env = dict(os.environ, **{TRIAL_DIR_ENV: str(ctx.dir.path)})
    code = subprocess.call(command, env=env, cwd=ctx.spec.get("workdir") or None)
    written = ctx.dir.read_result()
    if written is not None:
        return written
    if code != 0:
        return TrialResult(FAILED, message=f"command exited with code {code}")
    cycles = ctx.dir.read_metrics()
    return TrialResult(SUCCEEDED, metrics=cycles[-1]["metrics"] if cycles else {})


def _check_finite(metrics: dict[str, float]) -> None:
    bad = [name for name, value in metrics.items() if isinstance(value, float) and not math.isfinite(value)]
    if bad:
        raise TrialFailure(FAILED_NAN, f"non-finite final metrics: {', '.join(bad)}")


def is_primary_replica(env: Mapping[str, str]) -> bool:
    """Whether this process writes the trial's result: the only one, or the primary replica of a
    multi-replica Vertex job (``CLUSTER_SPEC`` task workerpool0 #0) or TPU slice (``TPU_WORKER_ID`` 0)."""
    if env.get("CLUSTER_SPEC"):
        try:
            task = json.loads(env["CLUSTER_SPEC"]).get("task", {})
        except ValueError:
            return True  # the trainer reports a malformed cluster description itself
        return task.get("type", "workerpool0") == "workerpool0" and int(task.get("index", 0)) == 0
    return env.get("TPU_WORKER_ID", "0") == "0"


def run(trial_dir: str) -> TrialResult:
    ctx = TrialContext(trial_dir)
    trainer = ctx.spec["trainer"]
    try:
        if trainer.get("command"):
            result = _run_command(ctx)
            if result.status == SUCCEEDED:  # what it wrote or reported is held to the same rule
                _check_finite(result.metrics)
        else:
            metrics = resolve_trainer(trainer.get("prebuilt"), trainer.get("module"))(ctx)
            _check_finite(metrics)
            result = TrialResult(SUCCEEDED, metrics=dict(metrics))
    except TrialFailure as failure:
        result = TrialResult(failure.status, message=str(failure))
    except Exception as exc:  # noqa: BLE001 - every trainer error becomes a recorded failure
        traceback.print_exc()
        result = TrialResult(FAILED, message=f"{type(exc).__name__}: {exc}")
    if is_primary_replica(os.environ):
        ctx.dir.write_result(result)
    return result


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m trial.runner TRIAL_DIR", file=sys.stderr)
        return 2
    result = run(str(local_path(sys.argv[1])))
    return 0 if result.status == SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
