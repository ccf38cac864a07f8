"""The plan: every act of a pass, computed without I/O from the spec, the recorded state and what was observed.

:func:`compute_plan` works on a copy of the recorded state: it records what finished (``record``), stops
what must stop, creates the missing trials (with the architectures the controller proposes, for those
that start now), re-opens finished trials a stage continues, sends the stop signals the stages want,
launches, adopts and relaunches, and starts the helper jobs running trials wait for. `nasctl diff`
prints the plan; `nasctl apply` executes it (:mod:`reconciler.apply`) and does nothing else.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from typing import Any

from backends.base import ALIVE, FINISHED, LOST, NO_CAPACITY, NOT_LAUNCHED
from objective.reward import NonFiniteReward, RewardError, compute_reward, reward_warnings
from reconciler.budget import BUDGET_EXHAUSTED, EXHAUSTED, BudgetGuard
from reconciler.graph import enabled_stages
from reconciler.observe import Observed
from reconciler.phase import derive_phase
from reconciler.spec_changes import FieldChange, spec_changes
from reconciler.stages.base import Stage, StageContext
from specs.model import NASExperiment, RewardSpec
from state.records import (
    FAILED, PENDING, PHASE_DELETED, PHASE_FAILED, PHASE_PENDING, PHASE_SUCCEEDED, REASON_CRASHED, REASON_NAN,
    REASON_REWARD, REASON_TIMEOUT, RUNNING, STOPPED, SUCCEEDED, Condition, TrialRecord,
)
from state.snapshot import ExperimentState
from trial import protocol
from trial.protocol import StopSignal

RECORD, CREATE, REOPEN, SIGNAL, LAUNCH, ADOPT, RELAUNCH, STOP, START_HELPER = (
    "record", "create", "reopen", "signal", "launch", "adopt", "relaunch", "stop", "start-helper")
SYMBOLS = {RECORD: "~", CREATE: "+", REOPEN: "~", SIGNAL: "~", LAUNCH: "~", ADOPT: "~", RELAUNCH: "~", STOP: "-",
           START_HELPER: "+"}
LIFECYCLE = (CREATE, REOPEN, LAUNCH, ADOPT, RELAUNCH, STOP)  # at most one of these per trial and pass
STOCKOUT_NOTE = "relaunched after a stockout"  # the message of a trial the cloud turned away, until it runs
QUOTA_NOTE = "queued for quota"  # the message of a running trial whose job the cloud holds for quota
# A job queued this long waits for the project's quota (Vertex queues every new job briefly).
QUOTA_WAIT_SECONDS = 600.0
MAX_ATTEMPTS = 2  # a trial that vanished without a result (e.g. reboot) is relaunched once


@dataclass(frozen=True)
class Action:
    kind: str
    trial_id: str
    stage: str
    now: bool  # acted on in this pass; False = waits for a free slot or an earlier stage
    reason: str = ""
    record: TrialRecord | None = None  # what the trial is recorded as (CREATE, REOPEN, STOP, RECORD; a RELAUNCH
    #                                    after a stockout)
    signal: StopSignal | None = None  # SIGNAL: what is written to the trial's stop.json
    blocked: bool = False  # not now because spec.budget refuses it (not merely waiting for a slot)

    def to_json(self) -> dict[str, Any]:
        view: dict[str, Any] = {"kind": self.kind, "trial_id": self.trial_id, "stage": self.stage, "now": self.now,
                                "reason": self.reason, "blocked": self.blocked}
        if self.kind == CREATE and self.record is not None:
            view.update(index=self.record.index, arch=self.record.arch)
        if self.kind == RECORD and self.record is not None:
            view.update(status=self.record.status, reward=self.record.reward)
        if self.signal is not None:
            view["signal"] = {"desiredFraction": self.signal.desired_fraction, "maxSeconds": self.signal.max_seconds}
        return view


@dataclass
class Plan:
    generation: str
    observed_generation: str | None
    actions: list[Action] = field(default_factory=list)
    phase: str = PHASE_PENDING  # as recorded trials stand before acting
    condition: Condition | None = None
    next_phase: str = PHASE_PENDING  # once the plan is executed: what `apply` records
    next_condition: Condition | None = None
    recorded_phase: str = PHASE_PENDING  # what state says now; a crashed apply may have left it behind
    spec_changes: list[FieldChange] = field(default_factory=list)  # since the spec the last pass applied
    committed_usd: float = 0.0  # spec.budget: spent + expected cost of active trials, launches of this plan included
    running: int = 0  # trials running once the plan is executed (those it adopts or launches included)

    @property
    def phase_change(self) -> tuple[str, str] | None:
        """(recorded, next) when executing the plan records another phase."""
        return (self.recorded_phase, self.next_phase) if self.recorded_phase != self.next_phase else None

    @property
    def has_changes(self) -> bool:
        return bool(self.actions) or self.phase_change is not None or bool(self.spec_changes)

    @property
    def stuck_on_budget(self) -> bool:
        """The experiment is Failed on spec.budget and stays so: nothing to act on now, no phase to record.
        `apply` refuses such a plan before any pass; a spec whose budget allows another launch plans it."""
        return (self.next_phase == PHASE_FAILED and self.phase_change is None and not any(a.now for a in self.actions)
                and self.next_condition is not None and self.next_condition.reason == BUDGET_EXHAUSTED)

    @property
    def settled(self) -> bool:
        """Succeeded or Failed with nothing to do and nothing running: `apply` only reports it."""
        return (not self.has_changes and self.observed_generation == self.generation
                and self.phase in (PHASE_SUCCEEDED, PHASE_FAILED))

    @property
    def would_act(self) -> bool:
        """Whether `apply` of this plan would change anything: what `diff --detailed-exitcode` reports.
        A plan stuck on its budget lists the launches the budget blocks, but `apply` refuses it."""
        return self.has_changes and not self.stuck_on_budget

    @property
    def refused(self) -> list[FieldChange]:
        """Spec changes that cannot apply in place: `apply` acts on nothing while there are any."""
        return [c for c in self.spec_changes if c.refused]

    def now(self, *kinds: str) -> list[Action]:
        return [a for a in self.actions if a.now and a.kind in kinds]

    def counts(self) -> dict[str, int]:
        counts = {kind: 0 for kind in SYMBOLS}
        for action in self.actions:
            counts[action.kind] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        change = self.phase_change
        return {"generation": self.generation, "observedGeneration": self.observed_generation,
                "phase": self.phase, "changes": self.has_changes,
                "phaseChange": {"from": change[0], "to": change[1]} if change else None,
                "specChanges": [c.to_json() for c in self.spec_changes], "summary": self.counts(),
                "committedUsd": round(self.committed_usd, 4), "running": self.running,
                "actions": [a.to_json() for a in self.actions]}


# -- record: what finished or vanished --------------------------------------------------------------
def ended(trial: TrialRecord, status: str, reason: str | None, message: str, now: float,
          metrics: dict[str, float] | None = None) -> TrialRecord:
    """The trial as recorded once it ended (finished, failed or stopped); `metrics` replace its own when given."""
    done = copy.deepcopy(trial)
    done.status, done.reason, done.message, done.finished_at = status, reason, message, now
    if metrics is not None:
        done.metrics = metrics
    return done


def _rescored(trial: TrialRecord, reward_spec: RewardSpec, now: float) -> TrialRecord | None:
    """A trial that trained but whose reward could not be computed (a metric the reward names was not
    reported), scored with the spec's reward if it can be now: fixing `spec.reward` (which applies while
    no reward is recorded) keeps every trial's training."""
    if trial.status != FAILED or trial.reason != REASON_REWARD:
        return None
    try:
        reward = compute_reward(trial.metrics, reward_spec)
    except RewardError:
        return None
    done = ended(trial, SUCCEEDED, None, "; ".join(reward_warnings(reward, reward_spec)),
                 now if trial.finished_at is None else trial.finished_at, trial.metrics)
    done.reward = reward
    return done


def outcome(experiment: NASExperiment, trial: TrialRecord, observed: Observed, now: float) -> TrialRecord | None:
    """The trial with its result recorded (reward for a success, reason for a failure), or None if unchanged."""
    reward_spec = experiment.spec.reward
    if trial.terminal:
        return _rescored(trial, reward_spec, now)
    observation = observed.trials.get(trial.id)
    if observation is None:
        return None
    if observation.state == FINISHED:
        result = observation.result
        if result.status != protocol.SUCCEEDED:
            return ended(trial, FAILED, protocol.failure_reason(result.status), result.message, now,
                         result.metrics)
        try:
            reward = compute_reward(result.metrics, reward_spec)
        except RewardError as exc:
            reason = REASON_NAN if isinstance(exc, NonFiniteReward) else REASON_REWARD
            return ended(trial, FAILED, reason, f"reward: {exc}", now, result.metrics)
        message = "; ".join([result.message, *reward_warnings(reward, reward_spec)]).strip("; ")
        done = ended(trial, SUCCEEDED, None, message, now, result.metrics)
        done.reward = reward
        return done
    if observation.state == LOST and trial.attempt >= MAX_ATTEMPTS:
        return ended(trial, FAILED, REASON_CRASHED,
                     f"trial process ended without a result {trial.attempt} times (see its trial.log)", now, {})
    return None


def _records(experiment: NASExperiment, state: ExperimentState, observed: Observed, now: float) -> list[Action]:
    actions = []
    for trial in list(state.trials.values()):
        done = outcome(experiment, trial, observed, now)
        if done is not None:
            state.trials[trial.id] = done
            reason = ("rescored: " if trial.terminal else "") + done.status + (f" ({done.reason})" if done.reason else "")
            actions.append(Action(RECORD, trial.id, trial.stage, True, reason, record=done))
    return actions


# -- trials already recorded ------------------------------------------------------------------------
def _trial_actions(ctx: StageContext, stage: Stage, now: float) -> list[Action]:
    actions = []
    timeout = stage.timeout_seconds(ctx.experiment)
    for trial in stage.trials(ctx):
        observation = ctx.observed.trials.get(trial.id)
        if trial.terminal or observation is None:
            continue
        if observation.state == ALIVE:
            if timeout is not None and (observation.elapsed_seconds or 0.0) > timeout:
                record = ended(trial, FAILED, REASON_TIMEOUT, f"ran longer than timeoutSeconds={timeout:g}", now)
                actions.append(Action(STOP, trial.id, stage.name, True, REASON_TIMEOUT, record=record))
            elif trial.status == PENDING:
                actions.append(Action(ADOPT, trial.id, stage.name, True, "already running"))
            elif (noted := quota_noted(trial, observation.queued_seconds, observation.message)) is not None:
                why = noted.message or "no longer queued for quota"
                actions.append(Action(RECORD, trial.id, stage.name, True, why, record=noted))
        elif observation.state == NOT_LAUNCHED:
            actions.append(Action(LAUNCH, trial.id, stage.name, True, "recorded, not launched"))
        elif observation.state == LOST:
            actions.append(Action(RELAUNCH, trial.id, stage.name, True, "process gone without a result"))
        elif observation.state == NO_CAPACITY:
            actions.append(Action(RELAUNCH, trial.id, stage.name, True, "the cloud had no machines for it (stockout)",
                                  record=requeued(trial, observation.message)))
    return actions


def _free_slots(ctx: StageContext, stage: Stage, backend_slots: int, active_total: int) -> int:
    own_active = sum(not t.terminal for t in stage.trials(ctx))
    return max(0, min(stage.parallel_trials(ctx.experiment) - own_active, backend_slots - active_total))


def reopened(trial: TrialRecord) -> TrialRecord:
    """The finished trial made launchable again; its curve and checkpoint stay in its directory."""
    again = copy.deepcopy(trial)
    again.status, again.reason, again.message = PENDING, None, ""
    again.attempt, again.finished_at = 0, None
    return again


def quota_noted(trial: TrialRecord, queued_seconds: float | None, message: str) -> TrialRecord | None:
    """The running trial with the note that the cloud holds its job for quota (or without it, once its job
    left the queue), when that changed; else None. A queue shorter than QUOTA_WAIT_SECONDS is not noted."""
    queued = queued_seconds is not None and queued_seconds >= QUOTA_WAIT_SECONDS
    if queued == trial.message.startswith(QUOTA_NOTE):
        return None
    again = copy.deepcopy(trial)
    again.message = f"{QUOTA_NOTE}: {message}"[:500] if queued else ""
    return again


def requeued(trial: TrialRecord, message: str) -> TrialRecord:
    """The trial whose job the cloud turned away for lack of machines, to be launched again: that launch is
    not counted as an attempt (its code never ran), so a stockout neither fails it nor uses up its relaunch."""
    again = copy.deepcopy(trial)
    again.attempt = max(0, again.attempt - 1)
    again.message = f"{STOCKOUT_NOTE}: {message}"[:500]
    return again


def _admit(ctx: StageContext, stage: Stage, budget: BudgetGuard, free: int, wanted: int) -> tuple[int, int, str]:
    """(launches now, launches the budget holds back, why) of `wanted` trials with `free` slots."""
    fitting = min(free, wanted)
    admitted, why = budget.admit(stage.name, fitting, sum(not t.terminal for t in stage.trials(ctx)))
    return admitted, fitting - admitted, why


def _continuations(ctx: StageContext, stage: Stage, free: int, budget: BudgetGuard) -> list[Action]:
    actions = []
    wanted = stage.continuations(ctx)
    admitted, held, why = _admit(ctx, stage, budget, free, len(wanted))
    for position, trial_id in enumerate(wanted):
        if position < admitted:
            ctx.state.trials[trial_id] = reopened(ctx.state.trials[trial_id])
            actions.append(Action(REOPEN, trial_id, stage.name, True, "continue from its checkpoint",
                                  record=ctx.state.trials[trial_id]))
        elif position < admitted + held:
            actions.append(Action(REOPEN, trial_id, stage.name, False, why, blocked=why.startswith(EXHAUSTED)))
        else:
            actions.append(Action(REOPEN, trial_id, stage.name, False, "continue once a slot frees"))
    return actions


def _next_ids(stage: Stage, ctx: StageContext, count: int) -> list[tuple[str, int]]:
    start = max((t.index for t in stage.trials(ctx)), default=-1) + 1
    return [(f"{stage.name}-{index:04d}", index) for index in range(start, start + count)]


def _slot(stage: Stage, trial_id: str, index: int) -> TrialRecord:
    """A trial whose architecture only `apply` proposes (the space is user code, which `diff` never runs)."""
    return TrialRecord(id=trial_id, stage=stage.name, index=index, dna=[], arch=None)


def _creates(ctx: StageContext, stage: Stage, free: int, user_code: bool, budget: BudgetGuard) -> list[Action]:
    slots = _next_ids(stage, ctx, stage.missing(ctx))
    admitted, held, why = _admit(ctx, stage, budget, free, len(slots))
    starting = slots[:admitted]
    queued = [Action(CREATE, trial_id, stage.name, False, why, blocked=why.startswith(EXHAUSTED))
              for trial_id, _ in slots[admitted:admitted + held]]
    queued += [Action(CREATE, trial_id, stage.name, False, "waits for a free slot")
               for trial_id, _ in slots[admitted + held:]]
    if starting and stage.samples_space and ctx.spec.search_space.function is not None and not user_code:
        ctx.state.add([_slot(stage, i, n) for i, n in starting])
        return [Action(CREATE, i, stage.name, True, "architecture proposed at apply") for i, _ in starting] + queued
    records = stage.new_trials(ctx, [i for i, _ in starting], [n for _, n in starting]) if starting else []
    ctx.state.add(records)
    return [Action(CREATE, record.id, stage.name, True, record=record) for record in records] + queued


# -- signals and helpers ----------------------------------------------------------------------------
def _signals(ctx: StageContext, stages: list[Stage], launching: set[str]) -> list[Action]:
    """Stop signals the stages want, for trials launching now or running, where they differ from what is in force."""
    actions = []
    for stage in stages:
        for trial_id, wanted in stage.stop_signals(ctx).items():
            trial = ctx.state.trials[trial_id]
            if trial_id not in launching and trial.status != RUNNING:
                continue
            observation = ctx.observed.trials.get(trial_id)
            in_force = observation.stop_signal if observation is not None else None
            if trial_id in launching or in_force != wanted:
                actions.append(Action(SIGNAL, trial_id, stage.name, True, "stop signal", signal=wanted))
    return actions


def _helpers(ctx: StageContext) -> list[Action]:
    return [Action(START_HELPER, trial_id, ctx.state.trials[trial_id].stage, True, "latency calculator")
            for trial_id in sorted(ctx.observed.helpers_wanted - ctx.observed.helpers_live)
            if ctx.state.trials[trial_id].status == RUNNING]


# -- the whole pass ---------------------------------------------------------------------------------
def _failed_experiment(ctx: StageContext, plan: Plan, now: float) -> Plan:
    plan.actions += [Action(STOP, t.id, t.stage, True, "experiment failed",
                            record=ended(t, STOPPED, "experiment-failed", "experiment failed", now))
                     for t in ctx.state.trials.values() if t.status == RUNNING]
    plan.next_phase, plan.next_condition = plan.phase, plan.condition
    return plan


def compute_plan(experiment: NASExperiment, recorded: ExperimentState, observed: Observed,
                 backend_slots: int, now: float | None = None, user_code: bool = True,
                 stages: list[Stage] | None = None) -> Plan:
    """Every action that takes the recorded state to the spec. Pure: `recorded` is not changed.

    Without `user_code` (`nasctl diff`), trials whose architecture a user's search-space function would
    give are shown as slots: nothing named by the spec is imported. `stages`: the stages to plan (default:
    those the spec enables; the NasJob path plans its stage-2 completion alone, reconciler.nas_stage2)."""
    # Records are never changed in place here, only replaced: a new dict of the same records is a copy
    # (a deep copy costs seconds at 2,000 trials).
    state = replace(recorded, trials=dict(recorded.trials))
    stages = enabled_stages(experiment) if stages is None else stages
    ctx = StageContext(experiment, state, observed, {stage.name: stage for stage in stages})
    plan = Plan(generation=state.experiment.generation, observed_generation=state.experiment.observed_generation,
                recorded_phase=state.experiment.phase, spec_changes=spec_changes(experiment, recorded))
    if state.experiment.phase == PHASE_DELETED:  # `nasctl delete`d: nothing is planned until --undelete
        plan.phase = plan.next_phase = PHASE_DELETED
        plan.condition = plan.next_condition = next(iter(state.experiment.conditions), None)
        return plan
    now = time.time() if now is None else now
    plan.actions += _records(experiment, state, observed, now)
    plan.phase, plan.condition = derive_phase(ctx, stages)
    if plan.phase == PHASE_FAILED:
        return _failed_experiment(ctx, plan, now)
    active_total = sum(not t.terminal for t in state.trials.values())
    budget = BudgetGuard.of(experiment, stages, list(state.trials.values()), now)
    for stage in stages:
        existing = _trial_actions(ctx, stage, now)
        plan.actions += existing
        for action in existing:
            if action.record is not None:  # a stop: the trial as it will be recorded
                state.trials[action.trial_id] = action.record
        reopened = _continuations(ctx, stage, _free_slots(ctx, stage, backend_slots, active_total), budget)
        active_total += sum(a.now for a in reopened)
        created = _creates(ctx, stage, _free_slots(ctx, stage, backend_slots, active_total), user_code, budget)
        active_total += sum(a.now for a in created)
        plan.actions += reopened + created
    launching = {a.trial_id for a in plan.actions if a.now and a.kind in (CREATE, REOPEN, LAUNCH, RELAUNCH)}
    plan.actions += _signals(ctx, stages, launching)
    for trial_id in launching:  # a copy: the actions keep the records as they are written before launch
        state.trials[trial_id] = replace(state.trials[trial_id], status=RUNNING)
    plan.actions += _helpers(ctx)
    plan.committed_usd = budget.committed_usd
    plan.running = sum(t.status == RUNNING for t in state.trials.values())
    plan.next_phase, plan.next_condition = derive_phase(ctx, stages, budget.exhausted)
    return plan
