"""Which JAX build the trainer image carries: CUDA for GPU machines, TPU for TPU machines, else CPU."""
from __future__ import annotations

from specs.model import VertexBackendSpec, VertexResourcesSpec
from specs.vertex import TPU_PREFIX

CUDA, TPU, CPU = "cuda", "tpu", "cpu"
VARIANTS = (CUDA, TPU, CPU)
# The extra of the `jax` distribution each variant installs (jax[cuda12] brings CUDA and cuDNN as wheels).
JAX_EXTRAS: dict[str, str | None] = {CUDA: "cuda12", TPU: "tpu", CPU: None}
# Vertex TPU VM machine types (ct5lp-hightpu-4t, ct6e-standard-4t, ...) and the older TPU node type.
TPU_MACHINE_PREFIXES = ("ct", "cloud-tpu")


def machine_variant(resources: VertexResourcesSpec) -> str:
    """The variant one trial machine needs."""
    accelerator = resources.accelerator_type or ""
    if accelerator.startswith(TPU_PREFIX) or resources.machine_type.startswith(TPU_MACHINE_PREFIXES):
        return TPU
    return CUDA if accelerator else CPU


def variant_for(backend: VertexBackendSpec) -> str:
    """The variant the trial machines of both stages need (the latency calculator runs on CPU in any variant).

    A GPU stage and a TPU stage cannot share one image: that is refused, naming both."""
    needed = {stage: machine_variant(resources) for stage, resources in
              (("search", backend.search), ("train", backend.train_resources))}
    accelerated = {variant for variant in needed.values() if variant != CPU}
    if len(accelerated) > 1:
        stages = ", ".join(f"{stage} on {variant}" for stage, variant in needed.items())
        raise ValueError(f"one containerImage cannot serve {stages}: use machines of one kind for both stages")
    return accelerated.pop() if accelerated else CPU
