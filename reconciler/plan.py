"""Refresh recorded trials from what the backend observes, then plan what is missing.

Both are pure over (spec, recorded state, observations): `nasctl diff` runs them on a copy and acts on
nothing; `nasctl apply` acts on the actions marked ``now`` and records the outcome.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.backends.base import ALIVE, FINISHED, LOST, NOT_LAUNCHED
from reconciler.records import (
    FAILED, PENDING, PHASE_FAILED, PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, REASON_CRASHED, REASON_ERROR,
    REASON_NAN, REASON_OOM, REASON_TIMEOUT, RUNNING, SUCCEEDED, Condition, TrialRecord,
)
from reconciler.reward import RewardError, compute_reward, reward_warnings
from reconciler.stages.base import Stage, StageContext
from trainers_jax import protocol

CREATE, LAUNCH, ADOPT, RELAUNCH, STOP = "create", "launch", "adopt", "relaunch", "stop"
SYMBOLS = {CREATE: "+", LAUNCH: "~", ADOPT: "~", RELAUNCH: "~", STOP: "-"}
MAX_ATTEMPTS = 2  # a trial that vanished without a result (e.g. reboot) is relaunched once
_FAILURE_REASONS = {protocol.FAILED_NAN: REASON_NAN, protocol.FAILED_OOM: REASON_OOM,
                    protocol.TIMEOUT: REASON_TIMEOUT, protocol.FAILED: REASON_ERROR}


@dataclass(frozen=True)
class Action:
    kind: str
    trial_id: str
    stage: str
    now: bool  # acted on in this pass; False = waits for a free slot or an earlier stage
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    generation: str
    observed_generation: str | None
    actions: list[Action] = field(default_factory=list)
    phase: str = PHASE_PENDING
    condition: Condition | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def counts(self) -> dict[str, int]:
        counts = {kind: 0 for kind in SYMBOLS}
        for action in self.actions:
            counts[action.kind] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "observedGeneration": self.observed_generation,
                "phase": self.phase, "changes": self.has_changes, "summary": self.counts(),
                "actions": [a.to_json() for a in self.actions]}


def _finish(trial: TrialRecord, status: str, reason: str | None, message: str, metrics: dict[str, float]) -> None:
    trial.status, trial.reason, trial.message = status, reason, message
    trial.metrics, trial.finished_at = metrics, time.time()


def refresh(ctx: StageContext) -> None:
    """Record what finished or vanished; reward succeeded trials. Mutates ctx.state in memory only."""
    for trial in ctx.state.trials.values():
        observation = ctx.observations.get(trial.id)
        if trial.terminal or observation is None:
            continue
        if observation.state == ALIVE and trial.status == PENDING:
            continue  # adopted by the plan's ADOPT action
        if observation.state == FINISHED:
            result = observation.result
            if result.status == protocol.SUCCEEDED:
                try:
                    trial.reward = compute_reward(result.metrics, ctx.spec.reward)
                    warnings = reward_warnings(trial.reward, ctx.spec.reward)
                    _finish(trial, SUCCEEDED, None, "; ".join([result.message, *warnings]).strip("; "),
                            result.metrics)
                except RewardError as exc:
                    _finish(trial, FAILED, REASON_ERROR, f"reward: {exc}", result.metrics)
            else:
                _finish(trial, FAILED, _FAILURE_REASONS.get(result.status, REASON_ERROR), result.message,
                        result.metrics)
        elif observation.state == LOST and trial.attempt >= MAX_ATTEMPTS:
            _finish(trial, FAILED, REASON_CRASHED,
                    f"trial process ended without a result {trial.attempt} times (see its trial.log)", {})


def _failed_stage(ctx: StageContext, stages: list[Stage]) -> tuple[Stage, int, int] | None:
    for stage in stages:
        budget = stage.failure_budget(ctx.experiment)
        failed = sum(t.status == FAILED for t in stage.trials(ctx))
        if budget is not None and failed > budget:
            return stage, failed, budget
    return None


def _failure_condition(ctx: StageContext, stage: Stage, failed: int, budget: int) -> Condition:
    last = [t for t in stage.trials(ctx) if t.status == FAILED][-1]
    return Condition("Failed", "True", "TooManyFailedTrials",
                     f"stage {stage.name}: {failed} failed trials exceed maxFailedTrials={budget}; "
                     f"last: {last.id} ({last.reason}): {last.message}"[:500])


def _stage_failure(ctx: StageContext, stages: list[Stage]) -> Condition | None:
    for stage in stages:
        message = stage.failure(ctx)
        if message:
            return Condition("Failed", "True", "StageFailed", f"stage {stage.name}: {message}"[:500])
    return None


def _trial_actions(ctx: StageContext, stage: Stage) -> list[Action]:
    actions = []
    timeout = stage.timeout_seconds(ctx.experiment)
    for trial in stage.trials(ctx):
        observation = ctx.observations.get(trial.id)
        if trial.terminal or observation is None:
            continue
        if observation.state == ALIVE:
            if timeout is not None and (observation.elapsed_seconds or 0.0) > timeout:
                actions.append(Action(STOP, trial.id, stage.name, True, REASON_TIMEOUT))
            elif trial.status == PENDING:
                actions.append(Action(ADOPT, trial.id, stage.name, True, "already running"))
        elif observation.state == NOT_LAUNCHED:
            actions.append(Action(LAUNCH, trial.id, stage.name, True, "recorded, not launched"))
        elif observation.state == LOST:
            actions.append(Action(RELAUNCH, trial.id, stage.name, True, "process gone without a result"))
    return actions


def _next_ids(ctx: StageContext, stage: Stage, count: int) -> list[tuple[str, int]]:
    start = max((t.index for t in stage.trials(ctx)), default=-1) + 1
    return [(f"{stage.name}-{index:04d}", index) for index in range(start, start + count)]


def enabled_stages(ctx: StageContext, stages: list[Stage]) -> list[Stage]:
    return [s for s in stages if s.enabled(ctx.experiment)]


def compute_plan(ctx: StageContext, stages: list[Stage], backend_slots: int) -> Plan:
    """Actions that take recorded state to the spec; ``now`` marks what fits in free slots this pass."""
    experiment = ctx.state.experiment
    plan = Plan(generation=experiment.generation, observed_generation=experiment.observed_generation)
    stages = enabled_stages(ctx, stages)
    failed = _failed_stage(ctx, stages)
    condition = _failure_condition(ctx, *failed) if failed else _stage_failure(ctx, stages)
    if condition:
        plan.phase, plan.condition = PHASE_FAILED, condition
        plan.actions = [Action(STOP, t.id, t.stage, True, "experiment failed")
                        for t in ctx.state.trials.values() if t.status == RUNNING]
        return plan
    active_total = sum(not t.terminal for t in ctx.state.trials.values())
    for stage in stages:
        plan.actions += _trial_actions(ctx, stage)
        continuing = stage.continuations(ctx)
        if continuing:  # finished trials relaunched to train further from their checkpoint
            free = min(stage.parallel_trials(ctx.experiment) - sum(not t.terminal for t in stage.trials(ctx)),
                       backend_slots - active_total)
            plan.actions += [Action(RELAUNCH, trial_id, stage.name, position < free, "continue from its checkpoint")
                             for position, trial_id in enumerate(continuing)]
            active_total += max(0, min(free, len(continuing)))
        missing = stage.missing(ctx)
        if not missing:
            continue
        free = min(stage.parallel_trials(ctx.experiment) - sum(not t.terminal for t in stage.trials(ctx)),
                   backend_slots - active_total)
        for position, (trial_id, _) in enumerate(_next_ids(ctx, stage, missing)):
            plan.actions.append(Action(CREATE, trial_id, stage.name, position < free))
        active_total += max(0, min(free, missing))
    plan.phase, plan.condition = experiment_phase(ctx, stages)
    return plan


def experiment_phase(ctx: StageContext, stages: list[Stage]) -> tuple[str, Condition]:
    """Phase and condition of an experiment that has not failed, from its recorded trials."""
    trials = list(ctx.state.trials.values())
    pending_stages = [s for s in stages if not s.complete(ctx)]
    if not pending_stages:
        done = ", ".join(f"{s.name}: {sum(t.status == SUCCEEDED for t in s.trials(ctx))} succeeded" for s in stages)
        return PHASE_SUCCEEDED, Condition("Succeeded", "True", "AllStagesComplete", done)
    stage = pending_stages[0]
    own = stage.trials(ctx)
    message = (f"stage {stage.name}: {sum(t.terminal for t in own)} finished, "
               f"{sum(not t.terminal for t in own)} active, {stage.missing(ctx)} to create")
    if not trials:
        return PHASE_PENDING, Condition("Running", "False", "NotStarted", message)
    return PHASE_RUNNING, Condition("Running", "True", "TrialsRunning", message)
