"""Training curves as the proxy-task tools read them: (step, fraction, seconds, value) points.

A curve comes from a trial's per-cycle records (``metrics.jsonl``); cycles without the metric or with
a non-finite value are skipped, so a NaN cycle never poisons an interpolation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

# A trial stopped at a desired fraction may report a hair below it (float steps): accept that.
FRACTION_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Point:
    step: int
    fraction: float  # share of the full training done at this cycle, in [0, 1]
    seconds: float  # training time so far
    value: float


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def curve_from_cycles(cycles: Iterable[dict[str, Any]], metric: str) -> list[Point]:
    """Points of `metric` from protocol cycle records, in step order (a repeated step keeps the last)."""
    by_step: dict[int, Point] = {}
    for cycle in cycles:
        value = cycle.get("metrics", {}).get(metric)
        fraction = cycle.get("fraction")
        if not _finite(value):
            continue
        by_step[int(cycle["step"])] = Point(
            step=int(cycle["step"]),
            fraction=float(fraction) if _finite(fraction) else math.nan,
            seconds=float(cycle.get("seconds", math.nan)),
            value=float(value),
        )
    return [by_step[step] for step in sorted(by_step)]


def value_at_fraction(curve: Sequence[Point], fraction: float) -> float | None:
    """The curve's value at `fraction` of training, linearly interpolated between the cycles around it.

    None when the curve does not reach `fraction` (the trial stopped early or failed): comparing models
    at different training fractions is exactly what the proxy-task tools must not do. When the first
    cycle is already past `fraction` (evaluations too sparse), that first value is taken.
    """
    points = [p for p in curve if math.isfinite(p.fraction)]
    if not points or points[-1].fraction < fraction - FRACTION_TOLERANCE:
        return None
    previous = None
    for point in points:
        if point.fraction >= fraction - FRACTION_TOLERANCE:
            if previous is None or point.fraction - previous.fraction <= 0:
                return point.value
            share = (fraction - previous.fraction) / (point.fraction - previous.fraction)
            return previous.value + min(max(share, 0.0), 1.0) * (point.value - previous.value)
        previous = point
    return None
