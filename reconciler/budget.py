"""The budget guard (``spec.budget``): money spent and committed, and how many launches still fit.

Spent: each launched trial's hours (finished: launch to end; active: launch to now) × the hourly price of
its stage's machine (:func:`pricing.catalog.trial_hourly_usd`, the preview's price; a NasJob experiment's
stage-2 trial that nasctl runs as a CustomJob is billed without the NAS multiplier). Committed: spent, plus
what active trials are still expected to cost (expected hours not yet run). A launch is admitted only while
committed + its expected cost ≤ maxCostUsd, so running trials that take no longer than expected never pass
the budget. Expected hours are the cost preview's (:func:`reconciler.cost.expected_hours`): the mean of the
stage's finished trials, else hoursPerTrial, else timeoutSeconds; while unknown, a priced stage runs one
trial at a time, to learn it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from pricing.catalog import role_resources, runs_in_nas_job, trial_hourly_usd
from reconciler.cost import expected_hours, trial_hours
from reconciler.stages.base import Stage
from specs.model import NASExperiment
from state.records import TrialRecord

BUDGET_EXHAUSTED = "BudgetExhausted"  # the condition's reason
EXHAUSTED = "budget exhausted"  # how the reason of a refused launch starts


@dataclass(frozen=True)
class StageRate:
    hourly_usd: float
    expected_hours: float | None  # of one more trial; None: unknown until one of the stage's trials finishes
    custom_job_hourly_usd: float | None = None  # a NasJob stage's trials nasctl runs as CustomJobs (no multiplier)

    def hourly_for(self, trial: TrialRecord) -> float:
        if self.custom_job_hourly_usd is not None and trial.runs_as_custom_job:
            return self.custom_job_hourly_usd
        return self.hourly_usd

    @property
    def trial_usd(self) -> float | None:
        return None if self.expected_hours is None else self.expected_hours * self.hourly_usd


def stage_rates(experiment: NASExperiment, stages: Iterable[Stage], trials: Iterable[TrialRecord],
                now: float) -> dict[str, StageRate]:
    """Each stage's hourly price and expected hours per trial."""
    finished: dict[str, list[float]] = {}
    for trial in trials:
        hours = trial_hours(trial, now)
        if trial.terminal and trial.finished_at is not None and hours is not None:
            finished.setdefault(trial.stage, []).append(hours)
    rates = {}
    for stage in stages:
        role = stage.cost_shape(experiment).role
        resources = role_resources(experiment, role)
        hours, _ = expected_hours(finished.get(stage.name, []), resources.hours_per_trial if resources else None,
                                  stage.timeout_seconds(experiment))
        custom_job = trial_hourly_usd(experiment, role, in_nas_job=False) if runs_in_nas_job(experiment, role) else None
        rates[stage.name] = StageRate(trial_hourly_usd(experiment, role), hours, custom_job)
    return rates


def spent_usd(trials: Iterable[TrialRecord], rates: dict[str, StageRate], now: float) -> float:
    return sum((trial_hours(t, now) or 0.0) * rates[t.stage].hourly_for(t) for t in trials if t.stage in rates)


def committed_usd(trials: Iterable[TrialRecord], rates: dict[str, StageRate], now: float) -> float:
    """Spent, plus the expected hours active trials have not run yet."""
    total = 0.0
    for trial in trials:
        rate = rates.get(trial.stage)
        if rate is None:
            continue
        hours = trial_hours(trial, now) or 0.0
        if not trial.terminal:
            hours = max(hours, rate.expected_hours or 0.0)
        total += hours * rate.hourly_for(trial)
    return total


@dataclass
class BudgetGuard:
    """The plan's running account of one pass: admits launches stage by stage, in graph order."""

    max_usd: float  # math.inf: no budget
    committed_usd: float
    rates: dict[str, StageRate]
    exhausted: str | None = None  # why a launch was refused, once one was

    @classmethod
    def of(cls, experiment: NASExperiment, stages: list[Stage], trials: list[TrialRecord],
           now: float) -> "BudgetGuard":
        budget = experiment.spec.budget
        if budget is None:
            return cls(math.inf, 0.0, {})
        rates = stage_rates(experiment, stages, trials, now)
        return cls(budget.max_cost_usd, committed_usd(trials, rates, now), rates)

    def admit(self, stage: str, wanted: int, active: int) -> tuple[int, str]:
        """How many of `wanted` launches of `stage` (which has `active` trials) fit, committing their
        expected cost, and why the others do not."""
        rate = self.rates.get(stage)
        if rate is None or rate.hourly_usd == 0 or wanted == 0:
            return wanted, ""
        if self.committed_usd >= self.max_usd:
            return 0, self._refuse(f"committed ${self.committed_usd:,.2f} reached maxCostUsd ${self.max_usd:,.2f}")
        cost = rate.trial_usd
        if cost is None:  # learn the runtime from one trial before committing to more
            admitted = min(wanted, 0 if active else 1)
            return admitted, f"budget: hours per {stage} trial unknown until one finishes (one at a time)"
        admitted = 0
        while admitted < wanted and self.committed_usd + cost <= self.max_usd:
            self.committed_usd += cost
            admitted += 1
        if admitted == wanted:
            return admitted, ""
        return admitted, self._refuse(f"committed ${self.committed_usd:,.2f} + next {stage} trial "
                                      f"${cost:,.2f} > maxCostUsd ${self.max_usd:,.2f}")

    def _refuse(self, why: str) -> str:
        reason = f"{EXHAUSTED}: {why}"
        self.exhausted = self.exhausted or reason
        return reason


def budget_view(experiment: NASExperiment, stages: list[Stage], trials: list[TrialRecord],
                now: float) -> dict[str, Any]:
    """Spent so far, the projected total (committed + trials not created yet × expected cost) and the budget."""
    rates = stage_rates(experiment, stages, trials, now)
    projected: float | None = committed_usd(trials, rates, now)
    for stage in stages:
        recorded = sum(t.stage == stage.name for t in trials)
        to_come = max(0, stage.cost_shape(experiment).trials - recorded)
        cost = rates[stage.name].trial_usd
        if to_come and cost is None and rates[stage.name].hourly_usd:
            projected = None
        elif projected is not None and to_come:
            projected += to_come * (cost or 0.0)
    budget = experiment.spec.budget
    return {"spentUsd": round(spent_usd(trials, rates, now), 4),
            "projectedUsd": None if projected is None else round(projected, 4),
            "maxCostUsd": budget.max_cost_usd if budget else None}
