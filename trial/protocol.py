"""The trial protocol: files in the trial's directory, the same locally and on Vertex.

The files are read and written through :mod:`trial.dirs`. Written by the reconciler: ``trial.json`` (architecture, trainer, merged args), ``stop.json`` (stop
signals). Written by the trial: ``metrics.jsonl`` (one line per evaluation cycle), ``result.json``
(final status and metrics). A running trial holds an ``flock`` on ``run.lock``: that is how the
reconciler tells a live trial from a dead one without trusting pids.

This module imports no JAX: the reconciler reads these files too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from state.records import REASON_ERROR, REASON_NAN, REASON_OOM, REASON_TIMEOUT

TRIAL_FILE = "trial.json"
METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "result.json"
STOP_FILE = "stop.json"
LATENCY_FILE = "latency.json"
RUN_LOCK_FILE = "run.lock"
LAUNCH_FILE = "launch.json"
LOG_FILE = "trial.log"
CHECKPOINT_DIR = "checkpoints"
COMPILATION_CACHE_ENV = "NASCTL_JAX_CACHE_DIR"  # XLA's persistent cache, shared by a backend's trials

# Final statuses a trial may write.
SUCCEEDED = "succeeded"
FAILED = "failed"
FAILED_NAN = "failed_nan"
FAILED_OOM = "failed_oom"
TIMEOUT = "timeout"
FINAL_STATUSES = (SUCCEEDED, FAILED, FAILED_NAN, FAILED_OOM, TIMEOUT)
_FAILURE_REASONS = {FAILED_NAN: REASON_NAN, FAILED_OOM: REASON_OOM, TIMEOUT: REASON_TIMEOUT, FAILED: REASON_ERROR}


def failure_reason(status: str) -> str:
    """The trial record's reason for a failed result's status."""
    return _FAILURE_REASONS.get(status, REASON_ERROR)


class TrialFailure(Exception):
    """Raised by a trainer to end its trial with a classified failure status."""

    def __init__(self, status: str, message: str):
        if status not in FINAL_STATUSES or status == SUCCEEDED:
            raise ValueError(f"not a failure status: {status}")
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StopSignal:
    """Why a trial should stop early. 0.0 is a real value here, not "unset" (a Vertex bug)."""

    desired_fraction: float | None = None  # stop once this fraction of training is done
    max_seconds: float | None = None  # stop once training has run this long


@dataclass(frozen=True)
class TrialResult:
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
