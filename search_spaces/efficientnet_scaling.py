"""EfficientNet-style compound scaling: depth, width and resolution multipliers of a base network.

Small enough for a grid sweep (default 5 × 5 × 5 = 125 points), as Vertex grid-searches its scaling
spaces. EfficientNet keeps the cost growth ``depth · width² · resolution²`` near 2 per step
(:func:`cost_multiplier`); a reward with a FLOPs or latency target expresses that constraint here.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pyglove as pg

DEPTH = (1.0, 1.1, 1.2, 1.3, 1.4)
WIDTH = (1.0, 1.05, 1.1, 1.15, 1.2)
RESOLUTION = (1.0, 1.1, 1.15, 1.2, 1.3)


def _multipliers(name: str, values: Sequence[float]) -> Any:
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"{name} multipliers must be a non-empty list of positive numbers, got {values!r}")
    return pg.oneof([float(v) for v in values], name=name)


def space(
    depth: Sequence[float] = DEPTH, width: Sequence[float] = WIDTH, resolution: Sequence[float] = RESOLUTION
) -> Any:
    return pg.Dict(
        depth=_multipliers("depth", depth),
        width=_multipliers("width", width),
        resolution=_multipliers("resolution", resolution),
    )


def cost_multiplier(arch: Mapping[str, float]) -> float:
    """FLOPs growth of a scaled network relative to its base: depth · width² · resolution²."""
    return arch["depth"] * arch["width"] ** 2 * arch["resolution"] ** 2
