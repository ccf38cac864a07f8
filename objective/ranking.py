"""Which trials are best: the final pick and the stage-2 top-N of a search.

Feasible trials (every latency/memory metric within its target) rank before infeasible ones, then by
reward. So a latency-constrained search picks an architecture that satisfies the constraint whenever
any evaluated one does, even if the soft reward rates an infeasible one higher.
"""
from __future__ import annotations

from typing import Sequence

from state.records import SUCCEEDED, TrialRecord
from objective.reward import RewardError, satisfies_targets
from specs.model import RewardSpec


def is_feasible(trial: TrialRecord, spec: RewardSpec) -> bool:
    try:
        return satisfies_targets(trial.metrics, spec)
    except RewardError:
        return False


def rank_trials(trials: Sequence[TrialRecord], spec: RewardSpec) -> list[TrialRecord]:
    """Succeeded trials with a reward, best first: feasible before infeasible, then reward, then index."""
    scored = [t for t in trials if t.status == SUCCEEDED and t.reward is not None]
    return sorted(scored, key=lambda t: (not is_feasible(t, spec), -float(t.reward), t.index))
