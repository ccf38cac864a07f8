"""Model selection math: the 30 → 10 schedule, its cost, the closest-pair removal rule, failures."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.proxy.curves import Point, curve_from_cycles, value_at_fraction
from reconciler.proxy.selection import (
    ModelScore, ScheduleRound, cost_in_full_trainings, index_to_remove, max_failures, next_fraction,
    planned_schedule, removals_for_round, select_round,
)


def test_default_schedule_matches_the_seed() -> None:
    rounds = planned_schedule(30, 10, 5)
    assert [r.models for r in rounds] == [30, 25, 20, 15, 10]
    assert [round(100 * r.fraction, 2) for r in rounds] == [3.33, 7.33, 12.33, 19.0, 100.0]


def test_default_cost_is_about_twelve_full_trainings() -> None:
    # 30·1/30 + 25·1/25 + 20·1/20 + 15·1/15 + 10·(1 − 0.19) = 4 + 8.1
    assert cost_in_full_trainings(planned_schedule()) == pytest.approx(12.1)


def test_small_schedule_and_cost() -> None:
    rounds = planned_schedule(6, 4, 2)  # 6 models to 1/6, then 4 to the end
    assert rounds == [ScheduleRound(6, pytest.approx(1 / 6)), ScheduleRound(4, 1.0)]
    assert cost_in_full_trainings(rounds) == pytest.approx(1 + 4 * 5 / 6)


def test_schedule_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        planned_schedule(5, 10, 5)


def test_round_sizes_never_go_below_final() -> None:
    assert removals_for_round(13, 10, 5) == 3
    assert next_fraction(0.5, 10, 10) == 1.0
    assert next_fraction(0.1, 20, 10) == pytest.approx(0.15)
    assert max_failures(30, 0.2) == 6


def test_closest_pair_removes_its_denser_member() -> None:
    # 1-D: pair (0.0, 0.1) is closest; 0.1's second-nearest (0.5, at 0.4) is closer than 0.0's (at 0.5).
    assert index_to_remove(np.array([[0.0, 0], [0.1, 0], [0.5, 0], [1.0, 0]])) == 1
    # pair (0.5, 0.55): 0.55's second-nearest is 1.0 at 0.45 < 0.5 → remove index 2.
    assert index_to_remove(np.array([[0.0, 0], [0.5, 0], [0.55, 0], [1.0, 0]])) == 2


def test_removal_uses_both_dimensions() -> None:
    # Same accuracy pair far apart in latency is not the closest pair.
    points = np.array([[0.0, 0.0], [0.0, 1.0], [0.6, 0.5], [0.65, 0.5], [1.0, 0.0]])
    assert index_to_remove(points) in (2, 3)
    assert index_to_remove(points) == 3  # 0.65's second-nearest is (1, 0) at 0.61 < 0.6's at 0.78


def test_select_round_counts_failures_toward_removals() -> None:
    scores = [ModelScore(str(i), acc, lat) for i, (acc, lat) in
              enumerate([(0.1, 1.0), (0.11, 1.0), (0.5, 2.0), (0.9, 3.0), (0.91, 3.0)])]
    picked = select_round(scores, failed=["x", "y"], removals=3)
    assert picked.failed == ("x", "y") and len(picked.removed) == 1
    assert set(picked.kept) | set(picked.removed) == {"0", "1", "2", "3", "4"}
    assert picked.removed[0] in ("0", "1", "3", "4")  # from one of the two tight pairs, never the lone 0.5
    assert select_round(scores, failed=["a", "b", "c"], removals=3).removed == ()


def test_select_round_keeps_at_least_two() -> None:
    scores = [ModelScore(str(i), float(i)) for i in range(3)]
    assert len(select_round(scores, failed=[], removals=5).kept) == 2


def test_select_round_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="twice"):
        select_round([ModelScore("a", 0.1), ModelScore("b", 0.2)], failed=["a"], removals=1)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(1, 100)), min_size=3, max_size=30), st.integers(0, 10))
def test_select_round_partitions_the_models(values: list[tuple[float, float]], removals: int) -> None:
    scores = [ModelScore(str(i), a, lat) for i, (a, lat) in enumerate(values)]
    picked = select_round(scores, failed=[], removals=removals)
    assert sorted(picked.kept + picked.removed, key=int) == [s.key for s in scores]
    assert len(picked.removed) == min(removals, len(scores) - 2)


def _curve(points: list[tuple[float, float]]) -> list[Point]:
    return [Point(i, f, 0.0, v) for i, (f, v) in enumerate(points)]


def test_value_at_fraction_interpolates_between_cycles() -> None:
    curve = _curve([(0.25, 0.2), (0.5, 0.4)])
    assert value_at_fraction(curve, 0.3) == pytest.approx(0.24)
    assert value_at_fraction(curve, 0.5) == pytest.approx(0.4)
    assert value_at_fraction(curve, 0.1) == pytest.approx(0.2)  # first cycle already past it
    assert value_at_fraction(curve, 0.6) is None  # never trained that far
    assert value_at_fraction([], 0.1) is None


def test_curve_from_cycles_skips_missing_and_non_finite() -> None:
    cycles = [{"step": 2, "fraction": 0.2, "seconds": 1.0, "metrics": {"accuracy": float("nan")}},
              {"step": 1, "fraction": 0.1, "seconds": 0.5, "metrics": {"accuracy": 0.3}},
              {"step": 3, "fraction": 0.3, "seconds": 1.5, "metrics": {"loss": 1.0}}]
    assert curve_from_cycles(cycles, "accuracy") == [Point(1, 0.1, 0.5, 0.3)]
