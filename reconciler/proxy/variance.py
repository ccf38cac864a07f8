"""Variance measurement: coefficient of variation of final accuracies and Vertex's curve smoothness.

Smoothness of one curve (Vertex's definition): normalise training fraction and accuracy to [0, 1],
fit a linear spline, sample 10 points in each of the sections [0, .7), [.7, .9), [.9, 1), sum the
negative first derivatives and take the absolute value. The reported smoothness is the mean over copies.
A curve that only rises scores 0; every dip, weighted towards the end of training, adds to it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reconciler.proxy.curves import Point

SMOOTHNESS_SECTIONS = (0.0, 0.7, 0.9, 1.0)
SMOOTHNESS_POINTS_PER_SECTION = 10
DEFAULT_MAX_CV = 0.4  # Vertex's MAX_VARIANCE_TO_BE_GOOD: a loose bound
DEFAULT_MAX_SMOOTHNESS = 10.0  # Vertex's MAX_SMOOTHNESS_TO_BE_GOOD

GOOD, BAD = "good", "bad"


def coefficient_of_variation(values: Sequence[float]) -> float:
    """Population standard deviation over mean (0 for fewer than two values, as in Vertex)."""
    if len(values) < 2:
        return 0.0
    mean = float(np.mean(values))
    if mean == 0:
        raise ValueError("coefficient of variation is undefined for a zero mean accuracy")
    return float(np.std(values)) / mean


# Spans below this are float noise: normalising them would turn a flat curve into a jagged one.
_FLAT_SPAN = 1e-9


def _unit(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min())
    return np.zeros_like(values) if span < _FLAT_SPAN else (values - values.min()) / span


def _sample_points() -> np.ndarray:
    sections = zip(SMOOTHNESS_SECTIONS[:-1], SMOOTHNESS_SECTIONS[1:])
    return np.concatenate([np.linspace(a, b, SMOOTHNESS_POINTS_PER_SECTION, endpoint=False) for a, b in sections])


def curve_smoothness(curve: Sequence[Point]) -> float:
    """Vertex's smoothness of one curve (lower is smoother; needs at least two distinct fractions)."""
    from scipy import interpolate  # noqa: PLC0415 - scipy only when a measurement is computed

    by_fraction = {p.fraction: p.value for p in curve if math.isfinite(p.fraction)}
    if len(by_fraction) < 2:
        raise ValueError(f"smoothness needs at least two cycles with a training fraction, got {len(by_fraction)}")
    fractions = np.array(sorted(by_fraction), dtype=float)
    values = np.array([by_fraction[f] for f in sorted(by_fraction)], dtype=float)
    spline = interpolate.splrep(_unit(fractions), _unit(values), k=1, s=0)
    derivatives = interpolate.splev(_sample_points(), spline, der=1)
    return float(abs(np.sum(derivatives[derivatives < 0])))


@dataclass(frozen=True)
class VarianceReport:
    cv: float
    smoothness: float
    verdict: str  # GOOD when both are within their thresholds
    reasons: tuple[str, ...]  # why the verdict is BAD (empty when GOOD)

    def summary(self) -> dict[str, float | str]:
        return {"cv": self.cv, "smoothness": self.smoothness, "verdict": self.verdict}


def measure(curves: Sequence[Sequence[Point]], max_cv: float = DEFAULT_MAX_CV,
            max_smoothness: float = DEFAULT_MAX_SMOOTHNESS) -> VarianceReport:
    """CV of the copies' final values and their mean smoothness, judged against the thresholds."""
    if not curves or any(not curve for curve in curves):
        raise ValueError("variance measurement needs at least one non-empty curve per copy")
    cv = coefficient_of_variation([curve[-1].value for curve in curves])
    smoothness = float(np.mean([curve_smoothness(curve) for curve in curves]))
    reasons = []
    if cv > max_cv:
        reasons.append(f"coefficient of variation {cv:.4g} > {max_cv:g}")
    if smoothness > max_smoothness:
        reasons.append(f"smoothness {smoothness:.4g} > {max_smoothness:g}")
    return VarianceReport(cv=cv, smoothness=smoothness, verdict=BAD if reasons else GOOD, reasons=tuple(reasons))
