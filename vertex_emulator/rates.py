"""Request rate quotas: what Vertex AI's quotas page sets per project and region, per minute.

* **Job or LRO submission requests: 60** a minute. Creating or deleting a job is one (the page's list:
  "create or delete custom job", hyperparameter tuning and NAS jobs alike).
* **Resource management (CRUD) requests: 600** a minute: every other JobService request (get, list,
  cancel, the NAS trial details).

A request over its quota answers 429 ``RESOURCE_EXHAUSTED`` "Quota exceeded for quota metric '...' and
limit '... per minute per region' ...", Google APIs' wording for a rate quota, which passes (unlike a job
larger than the project's accelerator quota, which never does: quota.py). A refused request uses none
of the quota. The emulator counts over a sliding window of wall time, whatever ``time_scale`` does to
job time: the service meters its callers' real minutes.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Mapping

from specs.vertex_quotas import CRUD_REQUESTS_PER_MINUTE, JOB_SUBMISSIONS_PER_MINUTE
from vertex_emulator.errors import ApiError

SUBMISSION, CRUD = "submission", "crud"
DEFAULT_RATE_LIMITS: Mapping[str, int] = {SUBMISSION: JOB_SUBMISSIONS_PER_MINUTE, CRUD: CRUD_REQUESTS_PER_MINUTE}
QUOTA_NAMES = {SUBMISSION: "Job or LRO submission requests", CRUD: "Resource management (CRUD) requests"}


def request_kind(rpc: str) -> str:
    """Which rate quota one call of `rpc` (e.g. ``"CreateCustomJob"``) counts against."""
    return SUBMISSION if rpc.startswith(("Create", "Delete")) else CRUD


def rate_exceeded(kind: str, project: str = "project") -> ApiError:
    name = QUOTA_NAMES[kind]
    return ApiError("RESOURCE_EXHAUSTED",
                    f"Quota exceeded for quota metric '{name}' and limit '{name} per minute per region' of service "
                    f"'aiplatform.googleapis.com' for consumer 'project_number:{project}'.")


class RateQuotas:
    """Sliding-window counters per (project, region, kind). ``limits``: requests per window for each kind
    (a kind left out is unlimited); ``window_s``: the window, 60 s as on the service (tests shorten it).
    ``refused`` counts the 429s answered, per kind."""

    def __init__(self, limits: Mapping[str, int] = DEFAULT_RATE_LIMITS, window_s: float = 60.0):
        unknown = set(limits) - set(QUOTA_NAMES)
        if unknown:
            raise ValueError(f"rate limits are per {sorted(QUOTA_NAMES)}, not {sorted(unknown)}")
        self.limits = dict(limits)
        self.window_s = window_s
        self.refused: Counter[str] = Counter()
        self._admitted: dict[tuple[str, str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, rpc: str, project: str, region: str) -> None:
        """Count one call of `rpc` in `project`'s `region`, or raise the 429 when its quota is spent."""
        kind = request_kind(rpc)
        limit = self.limits.get(kind)
        if limit is None:
            return
        now = time.monotonic()
        with self._lock:
            admitted = self._admitted.setdefault((project, region, kind), deque())
            while admitted and admitted[0] <= now - self.window_s:
                admitted.popleft()
            if len(admitted) >= limit:
                self.refused[kind] += 1
                raise rate_exceeded(kind, project)
            admitted.append(now)
