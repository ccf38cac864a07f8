"""Kendall τ over steps, stopping states, crossing-step interpolation and the best candidate."""
from __future__ import annotations

import pytest

from reconciler.proxy.correlation import StepStats, correlation_over_steps, rank_correlation
from reconciler.proxy.curves import Point
from reconciler.proxy.stopping import (
    EXCEEDED_BEST_TIME, EXCEEDED_TIME_LIMIT, EXCESS_FAILURES, FAILED_LATENCY_CORRELATION, MET_ACCURACY,
    MET_CORRELATION, RAN_TILL_COMPLETION, Criteria, Decision, best_candidate, check_stopping, crossing,
    final_decision, require_latency_correlation,
)


def test_tau_hand_computed() -> None:
    # one swapped pair of 10: (9 − 1) / 10
    assert rank_correlation([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]).tau == pytest.approx(0.8)
    assert rank_correlation([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]).tau == pytest.approx(-1.0)
    perfect = rank_correlation([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1, 2, 3, 4, 5, 6])
    assert perfect.tau == pytest.approx(1.0) and perfect.p_value < 0.01 and perfect.pairs == 6


def test_tau_needs_enough_valid_pairs() -> None:
    assert rank_correlation([1, 2, 3, 4], [1, 2, 3, 4]) is None
    assert rank_correlation([1, 2, 3, 4, None, None], [1, 2, 3, 4, 5, 6]) is None
    # 5 valid of 7 = 0.71 ≥ 0.7; 5 of 8 = 0.625 < 0.7
    assert rank_correlation([1, 2, 3, 4, 5, None, None], list(range(7))).tau == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4, 5, None, None, None], list(range(8))) is None
    assert rank_correlation([1, 1, 1, 1, 1], [1, 2, 3, 4, 5]) is None  # all tied: no ranking
    with pytest.raises(ValueError, match="length"):
        rank_correlation([1, 2], [1])


def test_correlation_over_steps() -> None:
    reference = {f"m{i}": float(i) for i in range(5)}
    scrambled = [0.5, 0.1, 0.4, 0.2, 0.3]
    curves = {f"m{i}": [Point(10, 0.1, 36.0 * (i + 1), scrambled[i]), Point(20, 0.2, 72.0 * (i + 1), 0.1 * (i + 1))]
              for i in range(5)}
    stats = correlation_over_steps(curves, reference)
    assert [s.step for s in stats] == [10, 20]
    assert stats[1].tau == pytest.approx(1.0)
    assert stats[0].tau == pytest.approx(-0.2)  # scrambled order: (4 concordant − 6 discordant) / 10
    # paces 3.6·(i+1) s/step → median 10.8 s/step: 20 steps = 216 s = 0.06 h, 10 steps = 0.03 h
    assert stats[1].median_value == pytest.approx(0.3) and stats[1].median_hours == pytest.approx(0.06)
    assert stats[0].median_value == pytest.approx(0.3) and stats[0].median_hours == pytest.approx(0.03)


def stats(rows: list[tuple[int, float | None, float, float]]) -> list[StepStats]:
    return [StepStats(step, tau, 0.01 if tau is not None else None, acc, hours) for step, tau, acc, hours in rows]


def test_crossing_is_interpolated_between_steps() -> None:
    rows = stats([(100, 0.5, 0.3, 1.0), (200, 0.8, 0.4, 2.0)])
    decision = check_stopping(rows, Criteria(desired_correlation=0.65))
    assert decision == Decision(MET_CORRELATION, 1, 150, pytest.approx(1.5))


def test_crossing_skips_steps_without_tau_and_rounds_up() -> None:
    rows = stats([(100, 0.2, 0.3, 1.0), (200, None, 0.35, 2.0), (400, 0.9, 0.4, 3.0)])
    decision = check_stopping(rows, Criteria(desired_correlation=0.6))
    # from (100, 0.2) to (400, 0.9): share 4/7 → step 271.43 → 272; hours 1 + 2·4/7
    assert decision.final_steps == 272 and decision.final_hours == pytest.approx(1 + 8 / 7)


def test_crossing_at_the_first_valid_step_takes_that_step() -> None:
    rows = stats([(100, None, 0.1, 0.5), (200, 0.7, 0.2, 1.0)])
    assert check_stopping(rows, Criteria()) == Decision(MET_CORRELATION, 1, 200, 1.0)
    assert crossing(0, 0.7, 1, 0.9, 0.65) == 1  # already above at x0: no rise through it


def test_desired_accuracy_and_limits() -> None:
    rows = stats([(100, 0.1, 0.3, 1.0), (200, 0.2, 0.5, 2.0), (300, 0.3, 0.7, 3.0)])
    accuracy = check_stopping(rows, Criteria(desired_accuracy=0.6))
    assert (accuracy.state, accuracy.final_steps, accuracy.final_hours) == (MET_ACCURACY, 250, pytest.approx(2.5))
    assert check_stopping(rows, Criteria(max_training_hours=2.0)) == Decision(EXCEEDED_TIME_LIMIT, 1)
    slower = Criteria(stop_if_slower_than_best=True)
    assert check_stopping(rows, slower, best_hours=3.0) == Decision(EXCEEDED_BEST_TIME, 2)
    assert check_stopping(rows, Criteria(), best_hours=1.0) is None  # option off: keeps training


def test_final_decision_when_training_ends() -> None:
    assert final_decision(stats([(100, 0.1, 0.3, 1.0)]), Criteria()).state == RAN_TILL_COMPLETION
    assert final_decision(stats([(100, None, 0.3, 1.0)]), Criteria()).state == EXCESS_FAILURES
    assert final_decision([], Criteria()).state == EXCESS_FAILURES


def test_latency_correlation_is_required_when_measured() -> None:
    met = Decision(MET_CORRELATION, 3, 100, 1.0)
    assert require_latency_correlation(met, 0.9, measured=True) == met
    assert require_latency_correlation(met, 0.5, measured=True).state == FAILED_LATENCY_CORRELATION
    assert require_latency_correlation(met, None, measured=True).state == FAILED_LATENCY_CORRELATION
    assert require_latency_correlation(met, None, measured=False) == met


def test_best_candidate_is_the_cheapest_success() -> None:
    outcomes = {"d25": (MET_CORRELATION, 1.7), "d50": (MET_CORRELATION, 1.2), "d75": (EXCEEDED_TIME_LIMIT, None),
                "d95": (MET_ACCURACY, 1.2)}
    assert best_candidate(outcomes) == "d50"
    assert best_candidate({"x": (RAN_TILL_COMPLETION, None)}) is None
