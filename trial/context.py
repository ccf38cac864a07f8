"""The API a trainer sees: its architecture, its args, where to report, when to stop.

Prebuilt trainers and users' own ``module:function`` trainers receive a :class:`TrialContext` and
return their final metrics (a dict) or raise :class:`~trial.protocol.TrialFailure`.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from trial.protocol import StopSignal
from trial.dirs import LocalTrialDir
from trial.tensorboard import TENSORBOARD_LOG_DIR_ENV, ScalarEvents

TRIAL_DIR_ENV = "NASCTL_TRIAL_DIR"


class TrialContext:
    def __init__(self, trial_dir: str | Path):
        self.dir = LocalTrialDir(trial_dir)
        self.spec = self.dir.read_spec()
        self.started = time.monotonic()
        # A relaunched trial (preempted, or its process lost) continues its clock from the last cycle it
        # reported, as its step count continues from the checkpoint: the seconds per step stay true.
        recorded = self.dir.read_metrics()
        self.resumed_seconds = float(recorded[-1].get("seconds") or 0.0) if recorded else 0.0
        # Vertex sets AIP_TENSORBOARD_LOG_DIR when the job names a TensorBoard resource: curves go there too
        self.events = ScalarEvents(self.dir.path, os.environ.get(TENSORBOARD_LOG_DIR_ENV))

    @classmethod
    def from_env(cls) -> "TrialContext":
        """For command trainers: the trial directory comes from NASCTL_TRIAL_DIR."""
        try:
            return cls(os.environ[TRIAL_DIR_ENV])
        except KeyError:
            raise RuntimeError(f"{TRIAL_DIR_ENV} is not set: run this trainer through nasctl") from None

    @property
    def trial_id(self) -> str:
        return self.spec["id"]

    @property
    def stage(self) -> str:
        return self.spec["stage"]

    def arch(self) -> Any:
        """The materialised architecture (plain JSON: dicts, lists, strings, numbers)."""
        return self.spec["arch"]

    @property
    def args(self) -> dict[str, Any]:
        """Trainer args: trainer.args merged with the stage's trainerArgs."""
        return self.spec.get("args", {})

    @property
    def seed(self) -> int:
        return int(self.spec.get("seed", 0))

    def elapsed(self) -> float:
        """Seconds this trial has run, over all its launches."""
        return self.resumed_seconds + time.monotonic() - self.started

    def report(self, step: int, metrics: dict[str, float], fraction: float | None = None,
               seconds: float | None = None) -> None:
        """Append one evaluation cycle (metrics.jsonl, TensorBoard); `fraction` = share of the full training done.

        `seconds` is the training time so far; a trainer that times its training steps passes it, so that the
        time of evaluations is left out (the proxy-task tools' hours per step: Vertex's rule). Without it, the
        wall time of the trial so far (:meth:`elapsed`)."""
        fraction = fraction if fraction is not None else math.nan
        self.dir.append_metrics(step, fraction, self.elapsed() if seconds is None else seconds, metrics)
        self.events.add(step, metrics, fraction)

    def stop_signal(self) -> StopSignal:
        return self.dir.read_stop()

    def should_stop(self, fraction_done: float | None = None) -> bool:
        """True when a stop signal applies: desired fraction reached or time limit passed."""
        signal = self.stop_signal()
        if signal.max_seconds is not None and self.elapsed() >= signal.max_seconds:
            return True
        return (
            signal.desired_fraction is not None
            and fraction_done is not None
            and fraction_done >= signal.desired_fraction
        )

    def checkpoint_dir(self) -> Path:
        path = self.dir.checkpoint_dir
        path.mkdir(parents=True, exist_ok=True)
        return path
