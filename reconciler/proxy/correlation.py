"""Kendall rank correlation between proxy-task scores and full-training scores, over training steps.

At every step some reference model reported, τ is computed (``scipy.stats.kendalltau``) over the
models that have both a proxy score at that step and a full-training score; a step with fewer than
`min_pairs` such models (or less than `min_valid_ratio` of all reference models) has no τ. Each step
also gets the median accuracy and the training hours it takes at the median pace.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from reconciler.proxy.curves import Point

DEFAULT_MIN_PAIRS = 5  # Vertex's MIN_REQUIRED_NUM_CORRELATION_METRICS
DEFAULT_MIN_VALID_RATIO = 0.7  # Vertex's MIN_RATIO_OF_VALID_TRIALS_TO_TOTAL_TRIALS (7 of 10)
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Correlation:
    tau: float
    p_value: float
    pairs: int


def rank_correlation(proxy: Sequence[float | None], reference: Sequence[float | None],
                     min_pairs: int = DEFAULT_MIN_PAIRS,
                     min_valid_ratio: float = DEFAULT_MIN_VALID_RATIO) -> Correlation | None:
    """Kendall τ over the positions where both values are present and finite; None if too few."""
    from scipy import stats  # noqa: PLC0415 - scipy only when a correlation is computed

    if len(proxy) != len(reference):
        raise ValueError(f"score lists differ in length: {len(proxy)} vs {len(reference)}")
    pairs = [(a, b) for a, b in zip(proxy, reference)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    if not reference or len(pairs) < min_pairs or len(pairs) / len(reference) < min_valid_ratio:
        return None
    result = stats.kendalltau([a for a, _ in pairs], [b for _, b in pairs])
    if not math.isfinite(result.statistic):  # every proxy (or reference) score tied
        return None
    return Correlation(tau=float(result.statistic), p_value=float(result.pvalue), pairs=len(pairs))


@dataclass(frozen=True)
class StepStats:
    """Where a candidate proxy task stands at one training step."""

    step: int
    tau: float | None
    p_value: float | None
    median_value: float  # median accuracy of the reference models at this step
    median_hours: float  # training hours for this many steps at the median model pace


def _upper_median(values: Sequence[float]) -> float:
    """The median for an odd count, the upper middle value for an even one: always a real value."""
    return sorted(values)[len(values) // 2]


def _median_pace(curves: Mapping[str, Sequence[Point]]) -> float:
    """Median seconds per step over the models' mean paces (last time / last step, as Vertex does).

    Hours at step s are then pace × s: monotone in s, where the raw time of each evaluation would
    carry start-up and scheduling noise and jump between models from one step to the next.
    """
    paces = [curve[-1].seconds / max(curve[-1].step, 1) for curve in curves.values() if curve]
    return _upper_median(paces) if paces else 0.0


def correlation_over_steps(curves: Mapping[str, Sequence[Point]], reference: Mapping[str, float | None],
                           min_pairs: int = DEFAULT_MIN_PAIRS,
                           min_valid_ratio: float = DEFAULT_MIN_VALID_RATIO) -> list[StepStats]:
    """τ, median accuracy and median hours at every step reported by any model, in step order.

    `curves` holds each reference model's proxy-task curve, `reference` its full-training score
    (None if it has none); both are keyed by the same model key.
    """
    keys = sorted(reference)
    at_step = {key: {p.step: p.value for p in curves.get(key, ())} for key in keys}
    steps = sorted({step for values in at_step.values() for step in values})
    pace = _median_pace({key: curves.get(key, ()) for key in keys})
    stats = []
    for step in steps:
        present = {key: at_step[key][step] for key in keys if step in at_step[key]}
        corr = rank_correlation([present.get(k) for k in keys], [reference[k] for k in keys], min_pairs,
                                min_valid_ratio)
        stats.append(StepStats(step=step, tau=corr.tau if corr else None, p_value=corr.p_value if corr else None,
                               median_value=_upper_median(list(present.values())),
                               median_hours=pace * step / SECONDS_PER_HOUR))
    return stats
