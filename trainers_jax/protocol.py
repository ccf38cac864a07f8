"""The trial protocol: files in the trial's directory, the same locally and on Vertex.

Written by the reconciler: ``trial.json`` (architecture, trainer, merged args), ``stop.json`` (stop
signals). Written by the trial: ``metrics.jsonl`` (one line per evaluation cycle), ``result.json``
(final status and metrics). A running trial holds an ``flock`` on ``run.lock``: that is how the
reconciler tells a live trial from a dead one without trusting pids.

This module imports no JAX: the reconciler reads these files too.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


class TrialFailure(Exception):
    """Raised by a trainer to end its trial with a classified failure status."""

    def __init__(self, status: str, message: str):
        if status not in FINAL_STATUSES or status == SUCCEEDED:
            raise ValueError(f"not a failure status: {status}")
        super().__init__(message)
        self.status = status


def atomic_write(path: Path, payload: bytes) -> None:
    """Write via a temp file in the same directory and os.replace: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, sort_keys=True).encode())


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


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


class TrialDir:
    """Typed access to one trial's directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- written by the reconciler -----------------------------------------------------------------
    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json_atomic(self.path / TRIAL_FILE, spec)

    def read_spec(self) -> dict[str, Any]:
        spec = _read_json(self.path / TRIAL_FILE)
        if spec is None:
            raise FileNotFoundError(f"{self.path / TRIAL_FILE}: trial spec missing")
        return spec

    def write_stop(self, signal: StopSignal) -> None:
        write_json_atomic(self.path / STOP_FILE, {"desired_fraction": signal.desired_fraction,
                                                  "max_seconds": signal.max_seconds})

    def read_stop(self) -> StopSignal:
        data = _read_json(self.path / STOP_FILE) or {}
        return StopSignal(data.get("desired_fraction"), data.get("max_seconds"))

    # -- written by the trial ----------------------------------------------------------------------
    def append_metrics(self, step: int, fraction: float, seconds: float, metrics: dict[str, float]) -> None:
        record = {"step": step, "fraction": fraction, "seconds": seconds, "metrics": metrics}
        with open(self.path / METRICS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """Per-cycle records; a torn last line (trial killed mid-write) is ignored."""
        try:
            lines = (self.path / METRICS_FILE).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def write_result(self, result: TrialResult) -> None:
        write_json_atomic(self.path / RESULT_FILE, {"status": result.status, "metrics": result.metrics,
                                                    "message": result.message, "finished_at": time.time()})

    def read_result(self) -> TrialResult | None:
        data = _read_json(self.path / RESULT_FILE)
        if data is None:
            return None
        return TrialResult(status=data["status"], metrics=data.get("metrics", {}), message=data.get("message", ""))

    def read_latency(self) -> dict[str, Any] | None:
        return _read_json(self.path / LATENCY_FILE)

    def write_latency(self, data: dict[str, Any]) -> None:
        write_json_atomic(self.path / LATENCY_FILE, data)

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def run_lock(self) -> Path:
        return self.path / RUN_LOCK_FILE

    @property
    def log(self) -> Path:
        return self.path / LOG_FILE
