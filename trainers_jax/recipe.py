"""What a trial's architecture means to the image classifier: a network, or a choice made about a base network.

* a network (``blocks`` or ``edges``) is trained as it is;
* an EfficientNet compound scaling ``{depth, width, resolution}`` (``searchSpace.prebuilt:
  efficientnet-scaling``) multiplies the base network's repeats and channels and the training image size;
* a RandAugment policy ``{num_ops, magnitude, operations}`` (``searchSpace.prebuilt: randaugment``)
  trains the base network with that policy applied to every training image in the input workers.

The base network is the trainer arg ``baseArch`` (default: MnasNet-B1). A fixed ``scaling`` or
``augmentation`` trainer arg applies the same way on top of any searched network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces.mnasnet import mnasnet_b1
from trainers_jax.augment import PolicyError, RandAugment

SCALING_KEYS = frozenset({"depth", "width", "resolution"})
POLICY_KEYS = frozenset({"num_ops", "magnitude", "operations"})


class RecipeError(ValueError):
    """A scaling or policy that cannot apply (bad values, or given twice)."""


@dataclass(frozen=True)
class Recipe:
    network: Any  # the architecture the model is built from
    width: float  # channel multiplier
    depth: float  # repeat multiplier
    image_size: int  # training image size
    augment: RandAugment | None = None


def _keys(arch: Any) -> frozenset[str]:
    return frozenset(arch) if isinstance(arch, dict) else frozenset()


def recipe(arch: Any, base_arch: Any, width: float, depth: float, image_size: int,
           scaling: dict[str, float] | None = None, augmentation: dict[str, Any] | None = None) -> Recipe:
    """The network, multipliers, image size and augmentation one trial trains with."""
    network = arch
    if _keys(arch) == SCALING_KEYS:
        if scaling is not None:
            raise RecipeError("the trial's architecture is a compound scaling; drop the trainer arg 'scaling'")
        scaling, network = arch, base_arch or mnasnet_b1()
    elif _keys(arch) == POLICY_KEYS:
        if augmentation is not None:
            raise RecipeError("the trial's architecture is an augmentation policy; drop the trainer arg 'augmentation'")
        augmentation, network = arch, base_arch or mnasnet_b1()
    if scaling is not None:
        if set(scaling) != SCALING_KEYS or any(float(v) <= 0 for v in scaling.values()):
            raise RecipeError(f"a compound scaling needs positive depth, width and resolution, got {scaling!r}")
        if "blocks" not in _keys(network):
            raise RecipeError("compound scaling applies to MnasNet-family networks (with 'blocks')")
        width, depth = width * float(scaling["width"]), depth * float(scaling["depth"])
        image_size = max(4, round(image_size * float(scaling["resolution"])))
    try:
        augment = RandAugment.from_policy(augmentation) if augmentation is not None else None
    except PolicyError as exc:
        raise RecipeError(str(exc)) from None
    return Recipe(network, width, depth, image_size, augment)
