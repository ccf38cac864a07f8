"""Variance measurement math: hand-computed CV and smoothness, and the verdict thresholds."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.proxy.curves import Point
from reconciler.proxy.variance import BAD, GOOD, coefficient_of_variation, curve_smoothness, measure


def curve(fractions: list[float], values: list[float]) -> list[Point]:
    return [Point(step=i + 1, fraction=f, seconds=float(i), value=v) for i, (f, v) in enumerate(zip(fractions, values))]


def test_cv_is_population_std_over_mean() -> None:
    # std([.8, .9, 1.0]) = sqrt((.01 + 0 + .01) / 3) = 0.0816497; / 0.9
    assert coefficient_of_variation([0.8, 0.9, 1.0]) == pytest.approx(0.0907218, rel=1e-5)


def test_cv_of_a_single_copy_is_zero_and_zero_mean_is_an_error() -> None:
    assert coefficient_of_variation([0.7]) == 0.0
    with pytest.raises(ValueError, match="zero mean"):
        coefficient_of_variation([0.0, 0.0])


def test_smoothness_of_a_late_drop() -> None:
    # Last segment (0.85 → 1.0) falls 1 → 0.5: slope −3.333; 2 samples in [.7, .9) and 10 in [.9, 1) lie on it.
    assert curve_smoothness(curve([0.0, 0.85, 1.0], [0.0, 1.0, 0.5])) == pytest.approx(12 * 0.5 / 0.15)


def test_smoothness_of_an_early_dip() -> None:
    # Segment 0.25 → 0.5 falls .6 → .4: slope −0.8; samples .28, .35, .42, .49 of [0, .7) lie on it.
    assert curve_smoothness(curve([0.0, 0.25, 0.5, 1.0], [0.0, 0.6, 0.4, 1.0])) == pytest.approx(4 * 0.8)


def test_a_flat_curve_with_float_noise_is_smooth() -> None:
    assert curve_smoothness(curve([0.2, 0.6, 1.0], [0.5, 0.5 + 1e-15, 0.5])) == 0.0


def test_smoothness_needs_two_fractions() -> None:
    with pytest.raises(ValueError, match="at least two"):
        curve_smoothness(curve([1.0], [0.5]))


increasing = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12, unique=True).map(sorted)


@given(increasing, st.lists(st.floats(0.0, 1.0), min_size=12, max_size=12))
def test_a_curve_that_never_falls_scores_zero(fractions: list[float], values: list[float]) -> None:
    rising = sorted(values[: len(fractions)])
    assert curve_smoothness(curve(fractions, rising)) == pytest.approx(0.0, abs=1e-9)


@given(st.lists(st.integers(0, 100).map(lambda v: v / 100), min_size=4, max_size=4), st.floats(0.1, 10.0),
       st.floats(-5.0, 5.0))
def test_smoothness_ignores_the_accuracy_scale(values: list[float], scale: float, offset: float) -> None:
    fractions = [0.1, 0.4, 0.8, 1.0]
    base = curve_smoothness(curve(fractions, values))
    assert curve_smoothness(curve(fractions, [scale * v + offset for v in values])) == pytest.approx(base, abs=1e-6)


def test_measure_judges_against_thresholds() -> None:
    smooth = [curve([0.5, 1.0], [0.5, final]) for final in (0.8, 0.9, 1.0)]
    report = measure(smooth, max_cv=0.4, max_smoothness=10)
    assert (report.verdict, report.reasons, report.smoothness) == (GOOD, (), 0.0)
    assert report.summary() == {"cv": pytest.approx(0.0907218, rel=1e-5), "smoothness": 0.0, "verdict": GOOD}
    noisy = measure(smooth, max_cv=0.05, max_smoothness=10)
    assert noisy.verdict == BAD and "coefficient of variation" in noisy.reasons[0]
    jumpy = measure([curve([0.0, 0.85, 1.0], [0.0, 1.0, 0.5])] * 2, max_smoothness=10)
    assert jumpy.verdict == BAD and "smoothness 40" in jumpy.reasons[0]
    assert not math.isnan(jumpy.cv)
