"""The Pareto front of succeeded trials over (accuracy ↑, latency ↓[, memory ↓]).

Objectives come from the reward spec: its `metric` is maximised, its latency and memory metrics (when
set) are minimised. A trial is on the front when no other trial is at least as good on every objective
and strictly better on one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from objective.reward import penalty_terms
from state.records import SUCCEEDED, TrialRecord
from specs.model import RewardSpec


@dataclass(frozen=True)
class FrontPoint:
    trial_id: str
    index: int
    values: dict[str, float]  # objective metric name → value


def objectives(spec: RewardSpec) -> list[tuple[str, int]]:
    """(metric, sign) pairs, sign +1 to maximise and −1 to minimise."""
    terms = [(spec.metric, 1)]
    terms += [(term.metric, -1) for term in penalty_terms(spec)]
    return terms


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_front(trials: Sequence[TrialRecord], spec: RewardSpec) -> list[FrontPoint]:
    """Non-dominated succeeded trials that report every objective, sorted by the first (best first)."""
    terms = objectives(spec)
    candidates = [t for t in trials if t.status == SUCCEEDED and all(m in t.metrics for m, _ in terms)]
    signed = {t.id: [sign * float(t.metrics[m]) for m, sign in terms] for t in candidates}
    # Best-first in lexicographic order, a trial's dominators all come before it, and a dominated trial
    # is dominated by a front member (dominance is transitive): comparing with the front so far is
    # enough, O(trials × front) instead of O(trials²), which `nasctl report` feels at 2,000 trials.
    front: list[TrialRecord] = []
    for trial in sorted(candidates, key=lambda t: signed[t.id], reverse=True):
        if not any(_dominates(signed[f.id], signed[trial.id]) for f in front):
            front.append(trial)
    front.sort(key=lambda t: (-signed[t.id][0], t.index))
    return [FrontPoint(t.id, t.index, {m: float(t.metrics[m]) for m, _ in terms}) for t in front]
