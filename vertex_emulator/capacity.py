"""Stockouts: the region has no machines for an accelerator, whatever the project's quota.

Quota is the project's allowance (quota.py); capacity is Google's hardware. When a zone runs out of an
accelerator, the training service keeps the job waiting and then fails it with RESOURCE_EXHAUSTED (code 8)
and "Resources are insufficient in region: <region>. Please try a different region. If you use K80, please
consider using P100 or V100 instead." (the service's words, as users report them). Such a job never ran
its code. Tests declare a stockout for the next N requests for an accelerator in a region; each CustomJob
turned away waits ``wait_seconds`` of job time in PENDING, then fails; a NasJob trial is INFEASIBLE at
once (nas.py). Other jobs are not affected.

A job whose ``scheduling.strategy`` is FLEX_START (Dynamic Workload Scheduler) queues for its machines
instead: turned away, it asks again every ``wait_seconds`` (each ask during the stockout uses up one of
its N) and starts once machines are free, or fails with RESOURCE_EXHAUSTED when
``scheduling.max_wait_duration`` (default 24 h, 0 = no limit: the field's documentation) has passed; that
message is the emulator's own.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from vertex_emulator.quota import Key, demand

DEFAULT_WAIT_SECONDS = 600.0
FLEX_START = 6  # aiplatform_v1.Scheduling.Strategy.FLEX_START (a test checks the number)
DEFAULT_MAX_WAIT_SECONDS = 24 * 3600.0
READY, WAITING, TURNED_AWAY = "ready", "waiting", "turned away"


def stockout_message(region: str) -> str:
    return (f"Resources are insufficient in region: {region}. Please try a different region. If you use K80, "
            "please consider using P100 or V100 instead.")


class Capacity:
    def __init__(self) -> None:
        self._stockouts: Counter[Key] = Counter()  # (region, accelerator) -> jobs still to turn away
        self.wait_seconds = DEFAULT_WAIT_SECONDS
        self._lock = threading.Lock()

    def stockout(self, region: str, accelerator: str, jobs: int, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        """The next `jobs` jobs needing `accelerator` in `region` fail for lack of machines."""
        with self._lock:
            self._stockouts[(region, accelerator)] += jobs
            self.wait_seconds = wait_seconds

    def turns_away(self, region: str, needed: Counter[str]) -> bool:
        """Whether a job needing `needed` in `region` meets a stockout (and uses it up)."""
        with self._lock:
            for accelerator in needed:
                if self._stockouts[(region, accelerator)] > 0:
                    self._stockouts[(region, accelerator)] -= 1
                    return True
            return False


def flex_start_message(max_wait_seconds: float) -> str:
    return (f"The requested resources could not be provisioned within the maximum wait duration of "
            f"{max_wait_seconds:g}s (scheduling.max_wait_duration).")


@dataclass
class MachineWait:
    """How one job (or NasJob trial) gets its machines: at the first ask it is turned away or not; turned
    away, a FLEX_START job asks again every ``wait_seconds`` until its max wait, any other job gives up after
    ``wait_seconds`` (or at once, ``gives_up_at_once``: a NasJob trial)."""

    region: str
    job_spec: Any  # the CustomJobSpec whose machines are asked for
    gives_up_at_once: bool = False
    since: float | None = None  # the first ask
    next_ask: float = 0.0
    state: str = WAITING

    @property
    def flex_start(self) -> bool:
        return self.job_spec.scheduling.strategy == FLEX_START

    @property
    def max_wait_seconds(self) -> float:
        """FLEX_START's wait limit; 0 waits for ever."""
        wait = self.job_spec.scheduling
        return wait.max_wait_duration.ToTimedelta().total_seconds() if wait.HasField("max_wait_duration") \
            else DEFAULT_MAX_WAIT_SECONDS

    def ask(self, capacity: Capacity, now: float) -> str:
        """READY once the machines are there, WAITING, or TURNED_AWAY for good (the job fails, never runs)."""
        if self.state != WAITING:
            return self.state
        if self.since is None or (self.flex_start and now >= self.next_ask):
            self.since = now if self.since is None else self.since
            self.next_ask = now + capacity.wait_seconds
            if not capacity.turns_away(self.region, demand(self.job_spec)):
                self.state = READY
                return self.state
        if self.flex_start:
            limit = self.max_wait_seconds
            gave_up = limit > 0 and now - self.since >= limit
        else:
            gave_up = self.gives_up_at_once or now - self.since >= capacity.wait_seconds
        self.state = TURNED_AWAY if gave_up else WAITING
        return self.state

    def failure(self) -> str:
        return flex_start_message(self.max_wait_seconds) if self.flex_start else stockout_message(self.region)
