"""RandAugment-style augmentation policy space: how many operations per image, and how strong.

RandAugment (Cubuk et al. 2020) replaces AutoAugment's learned sub-policies by two integers: N
operations drawn uniformly per image from a fixed list, each applied at magnitude M (0..30 scale).
Here a policy also chooses which operation families may be drawn, so the space stays grid-searchable
(default 3 × 6 × 3 = 54 points). A trainer applies the chosen policy to its input pipeline.
"""
from __future__ import annotations

from typing import Any, Sequence

import pyglove as pg

GEOMETRIC = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
COLOR = ("auto_contrast", "equalize", "solarize", "posterize", "contrast", "color", "brightness", "sharpness")
OPERATION_SETS = {"geometric": GEOMETRIC, "color": COLOR, "all": GEOMETRIC + COLOR}
NUM_OPS = (1, 2, 3)
MAGNITUDES = (5, 7, 9, 11, 13, 15)
MAX_MAGNITUDE = 30


def space(num_ops: Sequence[int] = NUM_OPS, magnitudes: Sequence[int] = MAGNITUDES) -> Any:
    if not num_ops or any(n < 1 for n in num_ops):
        raise ValueError(f"num_ops must be a non-empty list of integers ≥ 1, got {num_ops!r}")
    if not magnitudes or any(not 0 <= m <= MAX_MAGNITUDE for m in magnitudes):
        raise ValueError(f"magnitudes must be a non-empty list within [0, {MAX_MAGNITUDE}], got {magnitudes!r}")
    return pg.Dict(
        num_ops=pg.oneof([int(n) for n in num_ops], name="num_ops"),
        magnitude=pg.oneof([int(m) for m in magnitudes], name="magnitude"),
        operations=pg.oneof(sorted(OPERATION_SETS), name="operations"),
    )


def operations(policy: dict[str, Any]) -> tuple[str, ...]:
    """The operation names a materialised policy may draw from."""
    return OPERATION_SETS[policy["operations"]]
