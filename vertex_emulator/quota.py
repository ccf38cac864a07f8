"""Per-region training quotas: a job (or NAS trial) starts only when its GPUs and vCPUs fit.

Vertex keeps a job waiting (QUEUED) while the project lacks the remaining custom-training quota
(https://cloud.google.com/vertex-ai/docs/training/understanding-training-service, "Queue a new job").
A job that needs more than the whole limit can never start; the service answers its create with
RESOURCE_EXHAUSTED ("The following quota metrics exceed quota limits"), and so does the emulator.
Spot GPUs (``scheduling.strategy`` SPOT) count against a quota of their own, as on Google Cloud
(``custom_model_training_preemptible_nvidia_t4_gpus``): its key is the accelerator with ``PREEMPTIBLE_``
before it, e.g. ``("us-central1", "PREEMPTIBLE_NVIDIA_TESLA_T4")``. vCPUs count too, keyed by their quota's
name (specs.vertex_quotas): ``CPUS`` for N1 and E2 machines (``custom_model_training_cpus``, the quota public
reports show refusing a new project's first n1-standard-4 job), ``N2_CPUS`` and so on for the other CPU
families; on Spot machines as on others (a preemptible CPU quota is not documented). Pairs not configured
are unlimited.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from google.cloud.aiplatform_v1.types import AcceleratorType

from specs.vertex_quotas import METRIC_PREFIX, accelerator_quota_metric, cpu_quota_name, machine_vcpus
from vertex_emulator.errors import ApiError

Key = tuple[str, str]  # (region, e.g. "NVIDIA_TESLA_T4", "PREEMPTIBLE_NVIDIA_TESLA_T4", "CPUS" or "N2_CPUS")
SPOT_PREFIX = "PREEMPTIBLE_"
CPU_SUFFIX = "CPUS"


def demand(job_spec: Any) -> Counter[str]:
    """What a CustomJobSpec holds while it runs, per quota key: replicas x accelerator_count, replicas x vCPUs."""
    spot = job_spec.scheduling.strategy == type(job_spec.scheduling).Strategy.SPOT
    needed: Counter[str] = Counter()
    for pool in job_spec.worker_pool_specs:
        machine = pool.machine_spec
        if machine.accelerator_type and machine.accelerator_count:
            key = (SPOT_PREFIX if spot else "") + AcceleratorType(machine.accelerator_type).name
            needed[key] += pool.replica_count * machine.accelerator_count
        if cpu_quota := cpu_quota_name(machine.machine_type):
            needed[cpu_quota.upper()] += pool.replica_count * (machine_vcpus(machine.machine_type) or 0)
    return needed


def quota_metric(key: str) -> str:
    """The service's name of a quota key (PREEMPTIBLE_NVIDIA_TESLA_T4 →
    aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_t4_gpus, CPUS → ..._cpus)."""
    if key.endswith(CPU_SUFFIX):
        return METRIC_PREFIX + key.lower()
    return accelerator_quota_metric(key.removeprefix(SPOT_PREFIX), spot=key.startswith(SPOT_PREFIX))


class Quota:
    def __init__(self, limits: dict[Key, int] | None = None):
        self.limits: dict[Key, int] = dict(limits or {})
        self._held: dict[str, tuple[str, Counter[str]]] = {}  # holder -> (region, what it holds)
        self._lock = threading.Lock()

    def check_fits(self, region: str, needed: Counter[str]) -> None:
        """Raise RESOURCE_EXHAUSTED if `needed` exceeds the whole limit (it could never run)."""
        exceeded = [(key, count, limit) for key, count in sorted(needed.items())
                    if (limit := self.limits.get((region, key))) is not None and count > limit]
        if exceeded:
            raise ApiError("RESOURCE_EXHAUSTED", "The following quota metrics exceed quota limits: " + ", ".join(
                f"{quota_metric(key)} (region {region}: {count} > {limit})" for key, count, limit in exceeded))

    def try_acquire(self, holder: str, region: str, needed: Counter[str]) -> bool:
        """Take `needed` for `holder` if it fits now; idempotent for a holder already holding."""
        with self._lock:
            if holder in self._held:
                return True
            for key, count in needed.items():
                limit = self.limits.get((region, key))
                used = sum(h[key] for r, h in self._held.values() if r == region)
                if limit is not None and used + count > limit:
                    return False
            self._held[holder] = (region, needed)
            return True

    def release(self, holder: str) -> None:
        with self._lock:
            self._held.pop(holder, None)
