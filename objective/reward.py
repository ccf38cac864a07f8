"""The Vertex/MnasNet reward: accuracy × (target/latency)^w × (target/memory)^w.

Hard limit (Vertex default): each factor is capped at 1, so an architecture under its target is not
rewarded for being faster. Soft (MnasNet): factor = (measured/target)^beta with beta = -0.07.
"""
from __future__ import annotations

import math
from typing import Mapping

from specs.model import ObjectiveTargetSpec, RewardSpec


class RewardError(ValueError):
    """A metric the reward needs is missing or not positive."""


class NonFiniteReward(RewardError):
    """The reward came out NaN or infinite: the trainer reported a diverged metric as a success."""


def _metric(metrics: Mapping[str, float], name: str) -> float:
    if name not in metrics:
        raise RewardError(f"metric {name!r} not reported (reported: {sorted(metrics)})")
    return float(metrics[name])


def _factor(metrics: Mapping[str, float], term: ObjectiveTargetSpec, spec: RewardSpec) -> float:
    measured = _metric(metrics, term.metric)
    if measured <= 0:
        raise RewardError(f"metric {term.metric!r} must be positive, got {measured}")
    if spec.limit == "soft":
        return (measured / term.target) ** spec.soft_exponent
    return min(1.0, (term.target / measured) ** term.weight)


def penalty_terms(spec: RewardSpec) -> list[ObjectiveTargetSpec]:
    """The reward's latency and memory terms that are set."""
    return [term for term in (spec.latency, spec.memory) if term is not None]


def compute_reward(metrics: Mapping[str, float], spec: RewardSpec) -> float:
    reward = _metric(metrics, spec.metric)
    for term in penalty_terms(spec):
        reward *= _factor(metrics, term, spec)
    if not math.isfinite(reward):  # NaN sorts anywhere: it must never rank, let alone win
        used = [spec.metric, *(term.metric for term in penalty_terms(spec))]
        raise NonFiniteReward(f"reward is {reward} ({', '.join(f'{name} = {metrics[name]}' for name in used)})")
    return reward


# Vertex's MIN_ALLOWED_METRIC / MAX_ALLOWED_METRIC: rewards outside are legal but usually a units mistake.
REWARD_RANGE = (1e-3, 10.0)


def reward_warnings(reward: float, spec: RewardSpec) -> list[str]:
    """Warnings the reconciler records and prints for a reward outside Vertex's [1e-3, 10] range."""
    low, high = REWARD_RANGE
    if low <= reward <= high:
        return []
    return [
        f"reward {reward:.6g} is outside [{low:g}, {high:g}] (Vertex's allowed range); check the units of "
        f"{spec.metric!r} (e.g. accuracy as a fraction, not a percentage) and of the latency/memory targets"
    ]


def satisfies_targets(metrics: Mapping[str, float], spec: RewardSpec) -> bool:
    """Whether every latency/memory metric is within its target (True when there is no target)."""
    for term in penalty_terms(spec):
        if _metric(metrics, term.metric) > term.target:
            return False
    return True
