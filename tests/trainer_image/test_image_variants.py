"""Which JAX build the image carries, from the spec's trial machines."""
from __future__ import annotations

from typing import Any

import pytest

from specs.model import VertexBackendSpec
from trainer_image.variants import variant_for

T4 = {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1}
V5E = {"machineType": "ct5lp-hightpu-4t"}
V3 = {"machineType": "cloud-tpu", "acceleratorType": "TPU_V3", "acceleratorCount": 8}
CPU = {"machineType": "n1-standard-8"}


def _backend(search: dict[str, Any], train: dict[str, Any] | None = None) -> VertexBackendSpec:
    return VertexBackendSpec.model_validate({"type": "vertex", "project": "p", "containerImage": "img:1",
                                             "stagingUri": "gs://b/t", "search": search, "train": train,
                                             "latency": CPU})


@pytest.mark.parametrize(("search", "train", "variant"), [
    (T4, None, "cuda"), (V5E, None, "tpu"), (V3, None, "tpu"), (CPU, None, "cpu"),
    (CPU, T4, "cuda"),  # a CPU proxy search, trained on GPUs: the image must have CUDA
    (V5E, CPU, "tpu"),
])
def test_the_variant_follows_the_trial_machines(search, train, variant) -> None:  # noqa: ANN001
    assert variant_for(_backend(search, train)) == variant


def test_gpu_and_tpu_stages_cannot_share_one_image() -> None:
    with pytest.raises(ValueError, match="search on cuda, train on tpu"):
        variant_for(_backend(T4, V5E))
