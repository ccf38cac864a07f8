"""The Vertex/MnasNet reward against hand-computed values, its warnings, and the final-pick ranking."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from state.records import FAILED, SEARCH, SUCCEEDED, TrialRecord
from objective.reward import RewardError, compute_reward, reward_warnings, satisfies_targets
from objective.ranking import rank_trials
from specs.model import ObjectiveTargetSpec, RewardSpec

LATENCY = ObjectiveTargetSpec(metric="latency_ms", target=4.0)
MEMORY = ObjectiveTargetSpec(metric="memory_mb", target=10.0, weight=0.5)


@pytest.mark.parametrize(
    ("metrics", "spec", "expected"),
    [
        ({"accuracy": 0.8}, RewardSpec(), 0.8),
        # hard: 0.8 × min(1, 4/8) = 0.4; under the target the factor is capped at 1
        ({"accuracy": 0.8, "latency_ms": 8.0}, RewardSpec(latency=LATENCY), 0.4),
        ({"accuracy": 0.8, "latency_ms": 2.0}, RewardSpec(latency=LATENCY), 0.8),
        # hard, both terms: 0.9 × (4/5)^1 × (10/40)^0.5 = 0.9 × 0.8 × 0.5 = 0.36
        ({"accuracy": 0.9, "latency_ms": 5.0, "memory_mb": 40.0}, RewardSpec(latency=LATENCY, memory=MEMORY), 0.36),
        # soft (MnasNet): 0.8 × (8/4)^-0.07 = 0.8 × 0.952638 = 0.762110; and rewarded under the target:
        ({"accuracy": 0.8, "latency_ms": 8.0}, RewardSpec(latency=LATENCY, limit="soft"), 0.762110),
        ({"accuracy": 0.8, "latency_ms": 2.0}, RewardSpec(latency=LATENCY, limit="soft"), 0.839774),
        # a custom exponent: 0.5 × (16/4)^-0.5 = 0.25
        ({"accuracy": 0.5, "latency_ms": 16.0}, RewardSpec(latency=LATENCY, limit="soft", softExponent=-0.5), 0.25),
    ],
)
def test_reward_matches_hand_computed_values(metrics: dict, spec: RewardSpec, expected: float) -> None:
    assert compute_reward(metrics, spec) == pytest.approx(expected, abs=1e-6)


@given(st.floats(0.01, 1.0), st.floats(0.1, 100.0), st.floats(0.1, 100.0))
def test_hard_reward_never_exceeds_accuracy_and_falls_with_latency(acc: float, lat: float, extra: float) -> None:
    spec = RewardSpec(latency=LATENCY)
    slow = compute_reward({"accuracy": acc, "latency_ms": lat + extra}, spec)
    fast = compute_reward({"accuracy": acc, "latency_ms": lat}, spec)
    assert slow <= fast <= acc
    assert fast == pytest.approx(acc * min(1.0, 4.0 / lat))


@given(st.floats(0.01, 1.0), st.floats(0.1, 100.0), st.floats(-1.0, 0.0))
def test_soft_reward_is_the_mnasnet_power_law(acc: float, lat: float, beta: float) -> None:
    spec = RewardSpec(latency=LATENCY, limit="soft", soft_exponent=beta)
    assert compute_reward({"accuracy": acc, "latency_ms": lat}, spec) == pytest.approx(acc * (lat / 4.0) ** beta)


def test_missing_or_non_positive_metrics_are_clear_errors() -> None:
    with pytest.raises(RewardError, match="'latency_ms' not reported"):
        compute_reward({"accuracy": 0.8}, RewardSpec(latency=LATENCY))
    with pytest.raises(RewardError, match="must be positive"):
        compute_reward({"accuracy": 0.8, "latency_ms": 0.0}, RewardSpec(latency=LATENCY))


@pytest.mark.parametrize(("reward", "warns"), [(0.85, False), (1e-3, False), (10.0, False), (85.0, True),
                                               (5e-4, True), (0.0, True)])
def test_rewards_outside_vertex_range_warn(reward: float, warns: bool) -> None:
    messages = reward_warnings(reward, RewardSpec())
    assert bool(messages) is warns
    if warns:
        assert "outside [0.001, 10]" in messages[0] and "'accuracy'" in messages[0]


def _trial(index: int, reward: float | None, latency: float, status: str = SUCCEEDED) -> TrialRecord:
    return TrialRecord(id=f"t{index}", stage=SEARCH, index=index, dna=[index], arch=None, status=status,
                       reward=reward, metrics={"accuracy": reward or 0.0, "latency_ms": latency})


def test_final_pick_is_feasible_whenever_any_trial_is() -> None:
    spec = RewardSpec(latency=LATENCY, limit="soft")  # soft: a slow model can out-reward a fast one
    trials = [_trial(0, 0.70, 3.0), _trial(1, 0.90, 4.5), _trial(2, 0.75, 4.0), _trial(3, None, 1.0, FAILED)]
    assert [t.id for t in rank_trials(trials, spec)] == ["t2", "t0", "t1"]
    assert [t.id for t in rank_trials(trials[1:2], spec)] == ["t1"]  # nothing feasible: by reward
    assert [t.id for t in rank_trials(trials, RewardSpec())] == ["t1", "t2", "t0"]  # no target: by reward


def test_ties_break_by_trial_index() -> None:
    trials = [_trial(2, 0.8, 1.0), _trial(1, 0.8, 1.0)]
    assert [t.index for t in rank_trials(trials, RewardSpec(latency=LATENCY))] == [1, 2]


@given(st.floats(0.1, 10.0), st.floats(0.1, 10.0))
def test_feasibility_is_latency_within_target(latency: float, target: float) -> None:
    spec = RewardSpec(latency=ObjectiveTargetSpec(metric="latency_ms", target=target))
    assert satisfies_targets({"accuracy": 0.5, "latency_ms": latency}, spec) is (latency <= target)
    assert math.isfinite(compute_reward({"accuracy": 0.5, "latency_ms": latency}, spec))
