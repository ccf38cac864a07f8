"""The Vertex AI quota metrics a training machine counts against, named as the service names them in its
quota errors ("The following quota metrics exceed quota limits: aiplatform.googleapis.com/...").

* Accelerators: ``custom_model_training_<accelerator>_gpus`` (NVIDIA_TESLA_T4 → ``..._nvidia_t4_gpus``;
  TPUs without ``_gpus``); Spot machines count against a quota of their own, ``..._preemptible_nvidia_t4_gpus``.
* vCPUs: N1 and E2 machines count against ``custom_model_training_cpus``, other CPU families against their
  own (``custom_model_training_n2_cpus``, ``..._c2_cpus``): the names public quota errors and quota listings
  show. Accelerator-optimised machines (A2, A3, G2, ...) and TPUs are counted by their accelerators only
  here: whether the service also meters their vCPUs is not documented.

Requests are metered too, per project and region and minute (the Vertex AI quotas page): job submissions
(creating or deleting a job) and every other request (resource management, "CRUD": gets, lists, cancels).
"""
from __future__ import annotations

from specs.vertex_machines import CPU_FAMILIES, family

METRIC_PREFIX = "aiplatform.googleapis.com/custom_model_training_"
SHARED_CPU_FAMILIES = ("n1", "e2")  # their vCPUs share one quota, custom_model_training_cpus
JOB_SUBMISSIONS_PER_MINUTE = 60
CRUD_REQUESTS_PER_MINUTE = 600


def accelerator_quota_metric(accelerator_type: str, spot: bool = False) -> str:
    name = accelerator_type.lower().replace("_tesla_", "_")
    suffix = "" if name.startswith("tpu_") else "_gpus"
    return f"{METRIC_PREFIX}{'preemptible_' if spot else ''}{name}{suffix}"


def machine_vcpus(machine_type: str) -> int | None:
    """vCPUs of an N1 or CPU-family machine, from its name (n2-highmem-16 → 16); None for other machines."""
    if family(machine_type) not in (*SHARED_CPU_FAMILIES, *CPU_FAMILIES):
        return None
    size = machine_type.rsplit("-", 1)[-1]
    return int(size) if size.isdigit() else None


def cpu_quota_name(machine_type: str) -> str | None:
    """The CPU quota's name without the prefix (``cpus``, ``n2_cpus``), or None when vCPUs are not metered."""
    if machine_vcpus(machine_type) is None:
        return None
    machine_family = family(machine_type)
    return "cpus" if machine_family in SHARED_CPU_FAMILIES else f"{machine_family}_cpus"


def cpu_quota_metric(machine_type: str) -> str | None:
    name = cpu_quota_name(machine_type)
    return None if name is None else METRIC_PREFIX + name
