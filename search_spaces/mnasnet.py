"""The MnasNet search space of Vertex AI NAS: 7 blocks around a reference network.

Each block chooses its repeats (r-1, r, r+1; {1, 2} when r = 1), block type (``conv`` or ``mbconv``),
expansion ratio, kernel, squeeze-excitation ratio and output filters (0.75, 1, 1.25 × the reference,
rounded to a multiple of 8). Strides are fixed (MobileNetV2's). An architecture materialises to
``{"stem": 32, "head": 1280, "blocks": [block spec, ...]}``: exactly what the Flax model builder
(``trainers_jax.models.mnasnet``) takes.
"""
from __future__ import annotations

from typing import Any

import pyglove as pg

STRIDES = (1, 2, 2, 2, 1, 2, 1)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
REFERENCES: dict[str, dict[str, tuple[int, ...]]] = {
    "mobilenet_v2": {"repeats": (1, 2, 3, 4, 3, 3, 1), "filters": (16, 24, 32, 64, 96, 160, 320)},
    "mnasnet_a1": {"repeats": (1, 2, 3, 4, 2, 3, 1), "filters": (16, 24, 40, 80, 112, 160, 320)},
}
BLOCK_TYPES = ("conv", "mbconv")
EXPAND_RATIOS = (1, 3, 6)
KERNELS = (3, 5)
SE_RATIOS = (0.0, 0.25)
FILTER_MULTIPLIERS = (0.75, 1.0, 1.25)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of `divisor`, never more than 10 % below `value` (TF/timm rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _repeat_choices(reference: int) -> list[int]:
    return [1, 2] if reference == 1 else [reference - 1, reference, reference + 1]


def _filter_choices(reference: int) -> list[int]:
    return sorted({make_divisible(m * reference) for m in FILTER_MULTIPLIERS})


def space(reference: str = "mnasnet_a1") -> Any:
    """The tunable space; `reference` is ``mobilenet_v2`` or ``mnasnet_a1``."""
    if reference not in REFERENCES:
        raise ValueError(f"unknown MnasNet reference {reference!r}; expected one of {sorted(REFERENCES)}")
    ref = REFERENCES[reference]
    blocks = []
    for i, (repeats, filters, stride) in enumerate(zip(ref["repeats"], ref["filters"], STRIDES)):
        blocks.append(pg.Dict(
            repeats=pg.oneof(_repeat_choices(repeats), name=f"block{i}_repeats"),
            block=pg.oneof(BLOCK_TYPES, name=f"block{i}_type"),
            expand=pg.oneof(EXPAND_RATIOS, name=f"block{i}_expand"),
            kernel=pg.oneof(KERNELS, name=f"block{i}_kernel"),
            se=pg.oneof(SE_RATIOS, name=f"block{i}_se"),
            filters=pg.oneof(_filter_choices(filters), name=f"block{i}_filters"),
            stride=stride,
        ))
    return pg.Dict(stem=STEM_FILTERS, head=HEAD_FILTERS, blocks=pg.List(blocks))


def block(repeats: int, kind: str, expand: int, kernel: int, se: float, filters: int, stride: int) -> dict[str, Any]:
    return {"repeats": repeats, "block": kind, "expand": expand, "kernel": kernel, "se": se,
            "filters": filters, "stride": stride}


def mnasnet_b1() -> dict[str, Any]:
    """MnasNet-B1 (timm's ``mnasnet_100``): the fixed reference used by the throughput benchmark."""
    return {"stem": 32, "head": 1280, "blocks": [
        block(1, "mbconv", 1, 3, 0.0, 16, 1),
        block(3, "mbconv", 3, 3, 0.0, 24, 2),
        block(3, "mbconv", 3, 5, 0.0, 40, 2),
        block(3, "mbconv", 6, 5, 0.0, 80, 2),
        block(2, "mbconv", 6, 3, 0.0, 96, 1),
        block(4, "mbconv", 6, 5, 0.0, 192, 2),
        block(1, "mbconv", 6, 3, 0.0, 320, 1),
    ]}
