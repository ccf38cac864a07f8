"""Job records and the JobState machine, as the service moves CustomJobs and NasJobs.

States (aiplatform_v1 ``JobState``): QUEUED (just created) -> PENDING (waiting for quota, workers starting) ->
RUNNING (every worker up) -> SUCCEEDED | FAILED; cancel: -> CANCELLING -> CANCELLED. Cancelling a
finished job is FAILED_PRECONDITION. Timestamps follow the field docs: ``create_time`` at create,
``start_time`` when the job first enters RUNNING, ``end_time`` on entering SUCCEEDED, FAILED or
CANCELLED, ``update_time`` on every change; ``error`` only on FAILED / CANCELLED (code 1 CANCELLED
after a cancel).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from vertex_emulator.errors import RPC_CODE, ApiError

QUEUED, PENDING, RUNNING = "JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"
SUCCEEDED, FAILED = "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"
CANCELLING, CANCELLED = "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
_NEXT = {
    QUEUED: {PENDING, CANCELLING, FAILED},
    PENDING: {RUNNING, CANCELLING, FAILED},
    RUNNING: {SUCCEEDED, FAILED, CANCELLING},
    CANCELLING: {CANCELLED},
}


def _set_time(message: Message, name: str, seconds: float) -> None:
    getattr(message, name).FromNanoseconds(int(seconds * 1e9))


@dataclass
class Job:
    """One CustomJob or NasJob: its raw proto (the resource served) plus the emulator's bookkeeping."""

    collection: str  # "customJobs" | "nasJobs"
    resource: Any  # raw protobuf CustomJob / NasJob
    region: str
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def name(self) -> str:
        return str(self.resource.name)

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    @property
    def state(self) -> str:
        return self.resource.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_number[self.resource.state].name

    @property
    def start_seconds(self) -> float | None:
        return self.resource.start_time.ToNanoseconds() / 1e9 if self.resource.HasField("start_time") else None

    def move(self, state: str, now: float, error: tuple[str, str] | None = None) -> None:
        """Enter `state` at job time `now`; `error` is (google.rpc code name, message)."""
        with self.lock:
            if state not in _NEXT.get(self.state, set()):
                raise AssertionError(f"{self.name}: no transition {self.state} -> {state}")
            self.resource.state = self.resource.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_name[state].number
            if state == RUNNING and not self.resource.HasField("start_time"):
                _set_time(self.resource, "start_time", now)
            if state in TERMINAL:
                _set_time(self.resource, "end_time", now)
            if error:
                self.resource.error.code = RPC_CODE[error[0]]
                self.resource.error.message = error[1]
            _set_time(self.resource, "update_time", now)

    def request_cancel(self, now: float) -> None:
        with self.lock:
            if self.state in TERMINAL:
                raise ApiError("FAILED_PRECONDITION",
                               f"Cannot cancel {self.name}: the job is already in state {self.state}.")
            if self.state != CANCELLING:
                self.move(CANCELLING, now)


def new_job(collection: str, resource: Any, name: str, region: str, now: float) -> Job:
    """A just-created job: output-only fields reset, QUEUED, create/update time `now`."""
    for output_only in ("state", "start_time", "end_time", "update_time", "error", "nas_job_output"):
        if output_only in resource.DESCRIPTOR.fields_by_name:
            resource.ClearField(output_only)
    resource.name = name
    _set_time(resource, "create_time", now)
    _set_time(resource, "update_time", now)
    resource.state = resource.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_name[QUEUED].number
    return Job(collection, resource, region)
