"""When a candidate proxy task stops, the interpolated crossing step, and the best candidate.

A candidate stops at the first reported step where one of these holds (checked in this order):
τ ≥ desired correlation, median accuracy ≥ desired accuracy (both successes), median training hours
≥ the limit, or (option) median hours ≥ the best successful candidate's hours (both failures).
For a success, the step and hours where the threshold was crossed are interpolated linearly between
the previous valid step and this one: that is the proxy task's ``finalTrainingSteps`` and hours.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from reconciler.proxy.correlation import StepStats

DEFAULT_DESIRED_CORRELATION = 0.65
DEFAULT_DESIRED_LATENCY_CORRELATION = 0.65

# Stopping states: Vertex's wording, so its users recognise them.
MET_CORRELATION = "Met desired correlation"
MET_ACCURACY = "Met desired accuracy"
EXCEEDED_TIME_LIMIT = "Exceeded training time limit"
EXCEEDED_BEST_TIME = "Exceeded best training time"
FAILED_LATENCY_CORRELATION = "Failed desired latency correlation"
RAN_TILL_COMPLETION = "Ran till completion"
EXCESS_FAILURES = "Excess trial failures"
RUNNING = "Running"
SUCCESSFUL = (MET_CORRELATION, MET_ACCURACY)


@dataclass(frozen=True)
class Criteria:
    desired_correlation: float | None = DEFAULT_DESIRED_CORRELATION
    desired_accuracy: float | None = None
    max_training_hours: float | None = None
    stop_if_slower_than_best: bool = False


@dataclass(frozen=True)
class Decision:
    state: str
    step_index: int  # index in the stats where the candidate stopped
    final_steps: int | None = None  # successes only
    final_hours: float | None = None


def crossing(x0: float, y0: float, x1: float, y1: float, threshold: float) -> float:
    """The x where the segment (x0, y0)–(x1, y1) reaches `threshold` (x1 if it does not rise to it)."""
    if y1 == y0 or not y0 < threshold <= y1:
        return x1
    return x0 + (threshold - y0) * (x1 - x0) / (y1 - y0)


def _success(stats: Sequence[StepStats], index: int, state: str, values: Sequence[float | None],
             threshold: float) -> Decision:
    previous = next((i for i in range(index - 1, -1, -1) if values[i] is not None), None)
    here = stats[index]
    if previous is None:
        return Decision(state, index, here.step, here.median_hours)
    before = stats[previous]
    share = crossing(0.0, values[previous], 1.0, values[index], threshold)
    steps = before.step + share * (here.step - before.step)
    hours = before.median_hours + share * (here.median_hours - before.median_hours)
    # Round up: the proxy task must train at least until the threshold is reached.
    return Decision(state, index, math.ceil(steps - 1e-9), hours)


def check_stopping(stats: Sequence[StepStats], criteria: Criteria, best_hours: float | None = None) -> Decision | None:
    """The first step where the candidate should stop, or None if it should keep training."""
    taus = [s.tau for s in stats]
    medians: list[float | None] = [s.median_value for s in stats]
    desired_tau = criteria.desired_correlation
    for index, step in enumerate(stats):
        if desired_tau is not None and step.tau is not None and step.tau >= desired_tau:
            return _success(stats, index, MET_CORRELATION, taus, desired_tau)
        if criteria.desired_accuracy is not None and step.median_value >= criteria.desired_accuracy:
            return _success(stats, index, MET_ACCURACY, medians, criteria.desired_accuracy)
        if criteria.max_training_hours is not None and step.median_hours >= criteria.max_training_hours:
            return Decision(EXCEEDED_TIME_LIMIT, index)
        if criteria.stop_if_slower_than_best and best_hours is not None and step.median_hours >= best_hours:
            return Decision(EXCEEDED_BEST_TIME, index)
    return None


def final_decision(stats: Sequence[StepStats], criteria: Criteria, best_hours: float | None = None) -> Decision:
    """The decision once every reference model has finished (or failed) on this candidate."""
    decision = check_stopping(stats, criteria, best_hours)
    if decision is not None:
        return decision
    if not any(s.tau is not None for s in stats):
        return Decision(EXCESS_FAILURES, max(len(stats) - 1, 0))
    return Decision(RAN_TILL_COMPLETION, len(stats) - 1)


def require_latency_correlation(decision: Decision, latency_tau: float | None, measured: bool,
                                desired: float = DEFAULT_DESIRED_LATENCY_CORRELATION) -> Decision:
    """A success stays one only if latency ranks agree too (when latency is measured at all)."""
    if decision.state not in SUCCESSFUL or not measured:
        return decision
    if latency_tau is not None and latency_tau >= desired:
        return decision
    return Decision(FAILED_LATENCY_CORRELATION, decision.step_index)


def best_candidate(hours_by_name: Mapping[str, tuple[str, float | None]]) -> str | None:
    """The successful candidate with the fewest final hours (ties: name order); None if none succeeded.

    `hours_by_name` maps a candidate name to (stopping state, final hours).
    """
    successes = [(hours, name) for name, (state, hours) in hours_by_name.items()
                 if state in SUCCESSFUL and hours is not None]
    return min(successes)[1] if successes else None
