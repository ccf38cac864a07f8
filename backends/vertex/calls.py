"""Deadlines and retries for every Vertex call: a 25-day apply must survive a 503 and a stalled connection.

The aiplatform_v1 client sets neither for job calls. Here every call gets a per-attempt deadline
(the transport's timeout), and transient errors (429, 5xx, deadlines, dropped connections) are
retried with capped exponential backoff and jitter until a total deadline. Reads and cancels are
idempotent. A create is not: after a transient error the job may exist, so :meth:`CallPolicy.create`
first looks it up by its labels (``find``) and only creates again when the lookup finds nothing; after
a timeout (the request may still be on its way) it waits one call deadline before looking.

A 429 is RESOURCE_EXHAUSTED for two reasons. Rate limiting ("Quota exceeded for ... requests per
minute") passes, so it is retried. A job needing more accelerators or CPUs than the project's whole
quota ("The following quota metrics exceed quota limits: aiplatform.googleapis.com/
custom_model_training_nvidia_l4_gpus", what the service answers a create; the emulator answers the
same) never passes: it is raised at once as :class:`QuotaExhausted`, which says to request more quota.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from adaptors import gcp
from specs.model import VertexRetrySpec

T = TypeVar("T")
log = logging.getLogger(__name__)
QUOTA_LIMIT_MESSAGE = "exceed quota limits"  # the service's words for a job larger than the project's quota


class QuotaExhausted(RuntimeError):
    """A job needs more of a resource than the project's quota allows: retrying cannot help."""

    def __init__(self, detail: str):
        super().__init__(
            f"Vertex AI quota exhausted: {detail}. Request more quota for that metric in this region "
            "(Google Cloud console, IAM & Admin > Quotas) or make one trial need less of it: a lower "
            "acceleratorCount or replicaCount, or a smaller machineType (one job alone is over the limit).")
        self.detail = detail


def is_quota_exhausted(error: BaseException) -> bool:
    """A 429 for a project quota (permanent), as opposed to rate limiting (transient)."""
    return (isinstance(error, gcp.api_exceptions().TooManyRequests)
            and QUOTA_LIMIT_MESSAGE in str(getattr(error, "message", error)))


@dataclass
class CallPolicy:
    call_timeout_s: float = 60.0
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    total_s: float = 600.0
    retries: int = 0  # transient errors absorbed so far (for reports and tests)

    @classmethod
    def from_spec(cls, spec: VertexRetrySpec) -> CallPolicy:
        return cls(spec.call_timeout_seconds, spec.initial_backoff_seconds, spec.max_backoff_seconds,
                   spec.total_seconds)

    def run(self, call: Callable[[float], T]) -> T:
        """``call(timeout)`` until it returns or fails permanently; transient errors past `total_s` are raised."""
        transient = gcp.transient_errors()
        deadline = time.monotonic() + self.total_s
        backoff = self.initial_backoff_s
        while True:
            try:
                return call(self.call_timeout_s)
            except transient as error:
                if is_quota_exhausted(error):
                    raise QuotaExhausted(str(getattr(error, "message", error))) from error
                if time.monotonic() + backoff > deadline:
                    raise
                self.retries += 1
                wait = backoff * random.uniform(0.5, 1.0)
                log.warning("Vertex answered %s (retrying in %.1f s)", gcp.describe_error(error), wait)
                time.sleep(wait)
                backoff = min(self.max_backoff_s, backoff * 2)

    def create(self, create: Callable[[float], T], find: Callable[[], T | None]) -> T:
        """Create a resource idempotently: after a transient error, adopt what `find` sees before trying again."""
        transient, timeouts = gcp.transient_errors(), gcp.timeout_errors()
        attempted = False

        def attempt(timeout: float) -> T:
            nonlocal attempted
            if attempted and (found := find()) is not None:
                return found
            attempted = True
            try:
                return create(timeout)
            except timeouts:
                time.sleep(self.call_timeout_s)  # let a create still in flight land before the lookup
                raise

        try:
            return self.run(attempt)
        except transient:
            found = find()
            if found is None:
                raise
            return found


def cancel_job(calls: CallPolicy, cancel: Any, name: str) -> None:
    """Cancel a job; one that ended meanwhile (a retried cancel, a race) answers 400 and needs nothing more."""
    try:
        calls.run(lambda timeout: cancel(name=name, timeout=timeout))
    except gcp.api_exceptions().BadRequest:  # FAILED_PRECONDITION arrives as HTTP 400 over REST
        pass
