"""One trial directory, written once: the protocol files read and written the same locally and on GCS.

:class:`TrialDir` holds the protocol (file names, formats, the latency merge); an implementation only
moves bytes: :class:`LocalTrialDir` (a directory; also Vertex's ``/gcs/`` FUSE view from inside a job)
and :class:`GcsTrialDir` (a ``gs://`` prefix, what the reconciler reads while a Vertex trial runs).
The trial itself writes metrics and its result through a local path, so only :class:`LocalTrialDir`
can append metrics.
"""
from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptors import gcp
from adaptors.gcp import parse_gs_uri
from state.files import atomic_write
from trial.protocol import (
    CHECKPOINT_DIR, FAILED, FINAL_STATUSES, LATENCY_FILE, LOG_FILE, METRICS_FILE, RESULT_FILE, RUN_LOCK_FILE, STOP_FILE, TRIAL_FILE,
    StopSignal, TrialResult,
)

if TYPE_CHECKING:
    from google.cloud.storage import Client


def numeric_entries(values: dict[str, Any]) -> dict[str, float]:
    """The numeric values of a mapping as floats (booleans are not numbers here)."""
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class TrialDir(ABC):
    """The protocol files of one trial; subclasses say where the bytes live."""

    uri: str

    @abstractmethod
    def read_bytes(self, name: str) -> bytes | None:
        """The file's content, or None when it does not exist."""

    @abstractmethod
    def write_bytes(self, name: str, payload: bytes) -> None:
        """Replace the whole file atomically."""

    def _read_json(self, name: str) -> Any | None:
        raw = self.read_bytes(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{self.uri}/{name}: not valid JSON ({exc})") from None

    def _write_json(self, name: str, data: Any) -> None:
        self.write_bytes(name, json.dumps(data, sort_keys=True).encode())

    # -- written by the reconciler -----------------------------------------------------------------
    def write_spec(self, spec: dict[str, Any]) -> None:
        self._write_json(TRIAL_FILE, spec)

    def read_spec(self) -> dict[str, Any]:
        spec = self._read_json(TRIAL_FILE)
        if spec is None:
            raise FileNotFoundError(f"{self.uri}/{TRIAL_FILE}: trial spec missing")
        return spec

    def write_stop(self, signal: StopSignal) -> None:
        self._write_json(STOP_FILE, {"desired_fraction": signal.desired_fraction, "max_seconds": signal.max_seconds})

    def read_stop(self) -> StopSignal:
        data = self._read_json(STOP_FILE) or {}
        return StopSignal(data.get("desired_fraction"), data.get("max_seconds"))

    # -- written by the trial (and the latency calculator) -----------------------------------------
    def read_metrics(self) -> list[dict[str, Any]]:
        """Per-cycle records; a torn last line (trial killed mid-write) is ignored."""
        records = []
        for line in (self.read_bytes(METRICS_FILE) or b"").decode("utf-8", "replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def read_result(self) -> TrialResult | None:
        """The trial's own result.json, as it wrote it."""
        try:
            data = self._read_json(RESULT_FILE)
        except ValueError as exc:
            return TrialResult(FAILED, message=str(exc))
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("status") not in FINAL_STATUSES:
            status = data.get("status") if isinstance(data, dict) else type(data).__name__
            return TrialResult(FAILED, message=f"{self.uri}/{RESULT_FILE}: not a trial result (status {status!r}; "
                                               f"expected one of {', '.join(FINAL_STATUSES)})")
        metrics = data.get("metrics")
        message = data.get("message")
        return TrialResult(status=data["status"], metrics=numeric_entries(metrics) if isinstance(metrics, dict) else {},
                           message=message if isinstance(message, str) else "")

    def final_result(self) -> TrialResult | None:
        """The result with the latency calculator's numbers (latency.json) merged into its metrics."""
        result = self.read_result()
        if result is None:
            return None
        try:
            latency = self.read_latency()
        except ValueError:
            latency = None  # a torn latency.json: the reward says what is missing
        extra = numeric_entries(latency) if isinstance(latency, dict) else {}
        return TrialResult(result.status, {**result.metrics, **extra}, result.message) if extra else result

    def read_latency(self) -> dict[str, Any] | None:
        return self._read_json(LATENCY_FILE)

    def write_latency(self, data: dict[str, Any]) -> None:
        self._write_json(LATENCY_FILE, data)


class LocalTrialDir(TrialDir):
    """A trial directory on a file system: the local backend's, or a Vertex job's ``/gcs/`` mount."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.uri = str(self.path)

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_bytes(self, name: str, payload: bytes) -> None:
        atomic_write(self.path / name, payload)

    def append_metrics(self, step: int, fraction: float, seconds: float, metrics: dict[str, float]) -> None:
        record = {"step": step, "fraction": fraction, "seconds": seconds, "metrics": metrics}
        with open(self.path / METRICS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()

    def write_result(self, result: TrialResult) -> None:
        self._write_json(RESULT_FILE, {"status": result.status, "metrics": result.metrics,
                                       "message": result.message, "finished_at": time.time()})

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def run_lock(self) -> Path:
        return self.path / RUN_LOCK_FILE

    @property
    def log(self) -> Path:
        return self.path / LOG_FILE


class GcsTrialDir(TrialDir):
    """A ``gs://`` trial directory. Whole-object uploads are atomic in GCS."""

    def __init__(self, uri: str, client: "Client | None" = None):
        self.uri = uri.rstrip("/")
        bucket, self._prefix = parse_gs_uri(self.uri)
        self._bucket = (client or gcp.storage_client()).bucket(bucket)

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return self._bucket.blob(f"{self._prefix}/{name}").download_as_bytes(
                retry=gcp.storage_retry().DEFAULT_RETRY)
        except gcp.api_exceptions().NotFound:
            return None

    def write_bytes(self, name: str, payload: bytes) -> None:
        self._bucket.blob(f"{self._prefix}/{name}").upload_from_string(payload, content_type="application/json")

    def exists(self, name: str) -> bool:
        return self._bucket.blob(f"{self._prefix}/{name}").exists(retry=gcp.storage_retry().DEFAULT_RETRY)
