"""The experiment's phase, derived in one place from its stages' recorded trials."""
from __future__ import annotations

from reconciler.budget import BUDGET_EXHAUSTED
from reconciler.stages.base import Stage, StageContext
from state.records import (
    PHASE_FAILED, PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, SUCCEEDED, Condition,
)

_MESSAGE_LIMIT = 500


def _budget_exceeded(ctx: StageContext, stages: list[Stage]) -> Condition | None:
    for stage in stages:
        budget = stage.failure_budget(ctx.experiment)
        failed = [t for t in stage.trials(ctx) if stage.counts_as_failure(ctx.experiment, t)]
        if budget is not None and len(failed) > budget:
            last = failed[-1]
            return Condition("Failed", "True", "TooManyFailedTrials",
                             f"stage {stage.name}: {len(failed)} failed trials exceed maxFailedTrials={budget}; "
                             f"last: {last.id} ({last.reason}): {last.message}"[:_MESSAGE_LIMIT])
    return None


def _stage_failure(ctx: StageContext, stages: list[Stage]) -> Condition | None:
    for stage in stages:
        message = stage.failure(ctx)
        if message:
            return Condition("Failed", "True", "StageFailed", f"stage {stage.name}: {message}"[:_MESSAGE_LIMIT])
    return None


def stage_phase(ctx: StageContext, stage: Stage) -> str:
    trials = stage.trials(ctx)
    if stage.complete(ctx):  # every trial ended: it succeeded only if one of them did
        return PHASE_SUCCEEDED if not trials or any(t.status == SUCCEEDED for t in trials) else PHASE_FAILED
    return PHASE_RUNNING if trials else PHASE_PENDING


def derive_phase(ctx: StageContext, stages: list[Stage], budget_refusal: str | None = None) -> tuple[str, Condition]:
    """Failed (a stage over its failure budget, or unable to succeed, or spec.budget refusing the next launch
    once nothing runs), Succeeded (every stage complete), Running (trials recorded) or Pending, with the
    condition that says why. `budget_refusal`: why the plan's budget guard refused a launch."""
    failure = _budget_exceeded(ctx, stages) or _stage_failure(ctx, stages)
    if failure is not None:
        return PHASE_FAILED, failure
    pending = [s for s in stages if not s.complete(ctx)]
    if not pending:
        done = ", ".join(f"{s.name}: {sum(t.status == SUCCEEDED for t in s.trials(ctx))} succeeded" for s in stages)
        return PHASE_SUCCEEDED, Condition("Succeeded", "True", "AllStagesComplete", done)
    if budget_refusal is not None:
        active = sum(not t.terminal for t in ctx.state.trials.values())
        if active:
            return PHASE_RUNNING, Condition(BUDGET_EXHAUSTED, "True", BUDGET_EXHAUSTED,
                                            f"{budget_refusal}; {active} running trials finish, none is launched")
        return PHASE_FAILED, Condition("Failed", "True", BUDGET_EXHAUSTED,
                                       f"{budget_refusal}; stopped with what has finished (raise spec.budget."
                                       "maxCostUsd and apply again to go on)")
    stage, own = pending[0], pending[0].trials(ctx)
    message = (f"stage {stage.name}: {sum(t.terminal for t in own)} finished, "
               f"{sum(not t.terminal for t in own)} active, {stage.missing(ctx)} to create")
    if not ctx.state.trials:
        return PHASE_PENDING, Condition("Running", "False", "NotStarted", message)
    return PHASE_RUNNING, Condition("Running", "True", "TrialsRunning", message)
