"""Per-region accelerator quotas: a job (or NAS trial) starts only when its GPUs fit.

Vertex keeps a job waiting (PENDING) while the project lacks the remaining custom-training quota
(https://cloud.google.com/vertex-ai/docs/training/understanding-training-service, "Queue a new job").
A job that needs more than the whole limit can never start; the service answers its create with
RESOURCE_EXHAUSTED ("The following quota metrics exceed quota limits"), and so does the emulator.
Pairs not configured are unlimited.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from google.cloud.aiplatform_v1.types import AcceleratorType

from vertex_emulator.errors import ApiError

Key = tuple[str, str]  # (region, accelerator type name, e.g. "NVIDIA_TESLA_T4")


def demand(job_spec: Any) -> Counter[str]:
    """Accelerators a CustomJobSpec holds while it runs: replicas x accelerator_count, per type."""
    needed: Counter[str] = Counter()
    for pool in job_spec.worker_pool_specs:
        machine = pool.machine_spec
        if machine.accelerator_type and machine.accelerator_count:
            needed[AcceleratorType(machine.accelerator_type).name] += pool.replica_count * machine.accelerator_count
    return needed


class Quota:
    def __init__(self, limits: dict[Key, int] | None = None):
        self.limits: dict[Key, int] = dict(limits or {})
        self._held: dict[str, tuple[str, Counter[str]]] = {}  # holder -> (region, accelerators)
        self._lock = threading.Lock()

    def check_fits(self, region: str, needed: Counter[str]) -> None:
        """Raise RESOURCE_EXHAUSTED if `needed` exceeds the whole limit (it could never run)."""
        for accelerator, count in needed.items():
            limit = self.limits.get((region, accelerator))
            if limit is not None and count > limit:
                raise ApiError("RESOURCE_EXHAUSTED", (
                    "The following quota metrics exceed quota limits: aiplatform.googleapis.com/"
                    f"custom_model_training_{accelerator.lower().replace('_tesla_', '_')}_gpus "
                    f"(region {region}: {count} > {limit})"))

    def try_acquire(self, holder: str, region: str, needed: Counter[str]) -> bool:
        """Take `needed` for `holder` if it fits now; idempotent for a holder already holding."""
        with self._lock:
            if holder in self._held:
                return True
            for accelerator, count in needed.items():
                limit = self.limits.get((region, accelerator))
                used = sum(h[accelerator] for r, h in self._held.values() if r == region)
                if limit is not None and used + count > limit:
                    return False
            self._held[holder] = (region, needed)
            return True

    def release(self, holder: str) -> None:
        with self._lock:
            self._held.pop(holder, None)
