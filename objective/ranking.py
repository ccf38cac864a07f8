"""Which trials are best: the final pick and the stage-2 top-N of a search.

Feasible trials (every latency/memory metric within its target) rank before infeasible ones, then by
reward. So a latency-constrained search picks an architecture that satisfies the constraint whenever
any evaluated one does, even if the soft reward rates an infeasible one higher.
"""
from __future__ import annotations

from typing import Sequence

from state.records import SEARCH, SUCCEEDED, TRAIN, TrialRecord
from state.snapshot import ExperimentState
from objective.reward import RewardError, satisfies_targets
from specs.model import NASExperiment, RewardSpec


def is_feasible(trial: TrialRecord, spec: RewardSpec) -> bool:
    try:
        return satisfies_targets(trial.metrics, spec)
    except RewardError:
        return False


def rank_trials(trials: Sequence[TrialRecord], spec: RewardSpec) -> list[TrialRecord]:
    """Succeeded trials with a reward, best first: feasible before infeasible, then reward, then index."""
    scored = [t for t in trials if t.status == SUCCEEDED and t.reward is not None]
    return sorted(scored, key=lambda t: (not is_feasible(t, spec), -float(t.reward), t.index))


def leaderboard(experiment: NASExperiment, state: ExperimentState) -> list[TrialRecord]:
    """The experiment's ranking as `status` and the report show it: stage 2's trials by score once stage 2
    has results, else stage 1's by reward."""
    trained = state.stage_trials(TRAIN)
    candidates = trained if any(t.status == SUCCEEDED for t in trained) else state.stage_trials(SEARCH)
    return rank_trials(candidates, experiment.spec.reward)
