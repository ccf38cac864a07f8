"""Per-region accelerator quotas: a job (or NAS trial) starts only when its GPUs fit.

Vertex keeps a job waiting (QUEUED) while the project lacks the remaining custom-training quota
(https://cloud.google.com/vertex-ai/docs/training/understanding-training-service, "Queue a new job").
A job that needs more than the whole limit can never start; the service answers its create with
RESOURCE_EXHAUSTED ("The following quota metrics exceed quota limits"), and so does the emulator.
Spot GPUs (``scheduling.strategy`` SPOT) count against a quota of their own, as on Google Cloud
(``custom_model_training_preemptible_nvidia_t4_gpus``): its key is the accelerator with ``PREEMPTIBLE_``
before it, e.g. ``("us-central1", "PREEMPTIBLE_NVIDIA_TESLA_T4")``. Pairs not configured are unlimited.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from google.cloud.aiplatform_v1.types import AcceleratorType

from vertex_emulator.errors import ApiError

Key = tuple[str, str]  # (region, accelerator type name, e.g. "NVIDIA_TESLA_T4" or "PREEMPTIBLE_NVIDIA_TESLA_T4")
SPOT_PREFIX = "PREEMPTIBLE_"


def demand(job_spec: Any) -> Counter[str]:
    """Accelerators a CustomJobSpec holds while it runs: replicas x accelerator_count, per quota key."""
    spot = job_spec.scheduling.strategy == type(job_spec.scheduling).Strategy.SPOT
    needed: Counter[str] = Counter()
    for pool in job_spec.worker_pool_specs:
        machine = pool.machine_spec
        if machine.accelerator_type and machine.accelerator_count:
            key = (SPOT_PREFIX if spot else "") + AcceleratorType(machine.accelerator_type).name
            needed[key] += pool.replica_count * machine.accelerator_count
    return needed


def quota_metric(key: str) -> str:
    """The service's name of a quota key (PREEMPTIBLE_NVIDIA_TESLA_T4 →
    aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_t4_gpus)."""
    return f"aiplatform.googleapis.com/custom_model_training_{key.lower().replace('_tesla_', '_')}_gpus"


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
                    f"The following quota metrics exceed quota limits: {quota_metric(accelerator)} "
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
