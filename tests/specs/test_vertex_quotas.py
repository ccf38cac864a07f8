"""The quota metrics a Vertex machine counts against, as the service names them in its quota errors."""
from __future__ import annotations

import pytest

from specs.vertex_quotas import accelerator_quota_metric, cpu_quota_metric, machine_vcpus

PREFIX = "aiplatform.googleapis.com/custom_model_training_"


@pytest.mark.parametrize(("accelerator", "spot", "metric"), [
    ("NVIDIA_TESLA_T4", False, "nvidia_t4_gpus"), ("NVIDIA_TESLA_T4", True, "preemptible_nvidia_t4_gpus"),
    ("NVIDIA_H100_80GB", False, "nvidia_h100_80gb_gpus"), ("TPU_V3", False, "tpu_v3"),
])
def test_accelerators_are_named_as_in_the_service_errors(accelerator: str, spot: bool, metric: str) -> None:
    assert accelerator_quota_metric(accelerator, spot) == PREFIX + metric


@pytest.mark.parametrize(("machine", "vcpus", "metric"), [
    ("n1-standard-4", 4, "cpus"), ("n1-highmem-96", 96, "cpus"), ("e2-standard-8", 8, "cpus"),
    ("n2-highmem-16", 16, "n2_cpus"), ("c2-standard-60", 60, "c2_cpus"), ("n2d-standard-32", 32, "n2d_cpus"),
])
def test_n1_and_e2_share_one_cpu_quota_and_other_cpu_families_have_their_own(machine: str, vcpus: int,
                                                                            metric: str) -> None:
    assert machine_vcpus(machine) == vcpus
    assert cpu_quota_metric(machine) == PREFIX + metric


@pytest.mark.parametrize("machine", ["a2-highgpu-1g", "g2-standard-8", "a3-highgpu-8g", "cloud-tpu", "ct5lp-hightpu-4t",
                                     "e2-medium"])
def test_machines_counted_by_their_accelerators_only_have_no_cpu_quota(machine: str) -> None:
    assert machine_vcpus(machine) is None and cpu_quota_metric(machine) is None
