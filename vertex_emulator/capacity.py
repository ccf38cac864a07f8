"""Stockouts: the region has no machines for an accelerator, whatever the project's quota.

Quota is the project's allowance (quota.py); capacity is Google's hardware. When a zone runs out of an
accelerator, the training service keeps the job waiting and then fails it with RESOURCE_EXHAUSTED (code 8)
and "Resources are insufficient in region: <region>. Please try a different region. If you use K80, please
consider using P100 or V100 instead." (the service's words, as users report them). Such a job never ran
its code. Tests declare a stockout for the next N jobs (or NasJob trials) needing an accelerator in a
region; each CustomJob of them waits ``wait_seconds`` of job time in PENDING, then fails; a NasJob trial is
INFEASIBLE at once (nas.py). Other jobs are not affected.
"""
from __future__ import annotations

import threading
from collections import Counter

from vertex_emulator.quota import Key

DEFAULT_WAIT_SECONDS = 600.0


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
