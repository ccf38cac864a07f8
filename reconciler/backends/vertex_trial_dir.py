"""The trial protocol files (``trainers_jax.protocol``) in a ``gs://`` trial directory.

The reconciler writes ``trial.json`` and ``stop.json`` here before and during a Vertex trial, and
reads ``metrics.jsonl``, ``result.json`` and ``latency.json`` back; the trial sees the same files
through the Cloud Storage FUSE mount. Same formats as the local directory, read the same way.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from reconciler.gcs_store import make_client, parse_gs_uri
from trainers_jax.protocol import (
    LATENCY_FILE,
    METRICS_FILE,
    RESULT_FILE,
    STOP_FILE,
    TRIAL_FILE,
    StopSignal,
    TrialResult,
)

if TYPE_CHECKING:
    from google.cloud.storage import Client


class GcsTrialDir:
    def __init__(self, uri: str, client: "Client | None" = None):
        self.uri = uri.rstrip("/")
        bucket, self._prefix = parse_gs_uri(self.uri)
        self._client = client or make_client()
        self._bucket = self._client.bucket(bucket)

    def _read(self, name: str) -> bytes | None:
        from google.api_core import exceptions  # noqa: PLC0415
        from google.cloud.storage.retry import DEFAULT_RETRY  # noqa: PLC0415

        try:
            return self._bucket.blob(f"{self._prefix}/{name}").download_as_bytes(retry=DEFAULT_RETRY)
        except exceptions.NotFound:
            return None

    def _read_json(self, name: str) -> Any | None:
        raw = self._read(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{self.uri}/{name}: not valid JSON ({exc})") from None

    def _write_json(self, name: str, data: Any) -> None:
        # Whole-object uploads are atomic in GCS: a reader sees the old or the new document.
        self._bucket.blob(f"{self._prefix}/{name}").upload_from_string(
            json.dumps(data, sort_keys=True), content_type="application/json")

    def exists(self, name: str) -> bool:
        from google.cloud.storage.retry import DEFAULT_RETRY  # noqa: PLC0415

        return self._bucket.blob(f"{self._prefix}/{name}").exists(retry=DEFAULT_RETRY)

    def write_spec(self, spec: dict[str, Any]) -> None:
        self._write_json(TRIAL_FILE, spec)

    def write_stop(self, signal: StopSignal) -> None:
        self._write_json(STOP_FILE, {"desired_fraction": signal.desired_fraction, "max_seconds": signal.max_seconds})

    def read_result(self) -> TrialResult | None:
        data = self._read_json(RESULT_FILE)
        if data is None:
            return None
        latency = self._read_json(LATENCY_FILE) or {}
        extra = {k: float(v) for k, v in latency.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return TrialResult(status=data["status"], metrics={**data.get("metrics", {}), **extra},
                           message=data.get("message", ""))

    def read_metrics(self) -> list[dict[str, Any]]:
        """Per-cycle records; a torn last line is ignored, as locally."""
        raw = self._read(METRICS_FILE)
        records = []
        for line in (raw or b"").decode("utf-8", "replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records
