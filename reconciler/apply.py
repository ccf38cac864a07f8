"""The reconcile loop: lock, read, refresh, plan, act (intent before action), record; until terminal."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

from reconciler.backends.base import Backend, TrialObservation
from reconciler.plan import (
    ADOPT, CREATE, LAUNCH, RELAUNCH, STOP, Action, Plan, compute_plan, enabled_stages, experiment_phase, refresh,
)
from reconciler.local_store import LocalStore
from reconciler.records import (
    FAILED, PENDING, PHASE_FAILED, PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, REASON_TIMEOUT, RUNNING, STOPPED,
    TrialRecord,
)
from reconciler.stages.base import Stage, StageContext
from reconciler.stages.model_selection import ModelSelectionStage
from reconciler.stages.proxy_task_search import ProxyTaskSearchStage
from reconciler.stages.search import SearchStage
from reconciler.stages.train import TrainStage
from reconciler.stages.variance_measurement import VarianceMeasurementStage
from reconciler.state import ExperimentState, load_state, save_experiment, save_trials
from reconciler.store import LockHandle, StateStore
from specs.loader import spec_generation
from specs.model import NASExperiment

TERMINAL_PHASES = (PHASE_SUCCEEDED, PHASE_FAILED)
_MIN_POLL_SECONDS = 0.02


def default_stages() -> list[Stage]:
    return [VarianceMeasurementStage(), ModelSelectionStage(), ProxyTaskSearchStage(), SearchStage(), TrainStage()]


@dataclass
class PassResult:
    plan: Plan
    state: ExperimentState


class Reconciler:
    def __init__(self, experiment: NASExperiment, store: StateStore, backend: Backend,
                 stages: list[Stage] | None = None):
        self.experiment = experiment
        self.store = store
        self.backend = backend
        self.stages = stages or default_stages()
        self.generation = spec_generation(experiment)

    # -- reading -----------------------------------------------------------------------------------
    def load(self) -> ExperimentState:
        return load_state(self.store, self.experiment.metadata.name, self.generation)

    def observe(self, state: ExperimentState) -> dict[str, TrialObservation]:
        return {t.id: self.backend.observe(t.id) for t in state.trials.values() if not t.terminal}

    def _context(self, state: ExperimentState) -> StageContext:
        artifacts = self.store.root if isinstance(self.store, LocalStore) else None
        ctx = StageContext(self.experiment, state, self.observe(state), self.backend, artifacts)
        refresh(ctx)
        return ctx

    def preview(self) -> PassResult:
        """The plan against recorded state, acting on nothing and writing nothing (`nasctl diff`)."""
        state = copy.deepcopy(self.load())
        ctx = self._context(state)
        return PassResult(compute_plan(ctx, self.stages, self.backend.slots), state)

    # -- acting ------------------------------------------------------------------------------------
    def run_pass(self) -> PassResult:
        """One level-triggered pass. Safe to kill at any point: the next pass continues from state."""
        state = self.load()
        ctx = self._context(state)
        plan = compute_plan(ctx, self.stages, self.backend.slots)
        now = [a for a in plan.actions if a.now]
        self._stop(ctx, [a for a in now if a.kind == STOP])
        created = self._record_intent(ctx, [a for a in now if a.kind == CREATE])
        for action in now:
            if action.kind == RELAUNCH and state.trials[action.trial_id].terminal:
                _reopen(state.trials[action.trial_id])  # a stage continues a finished trial
        save_trials(self.store, state)  # intent (and refreshed results) recorded before any launch
        to_launch = [a.trial_id for a in now if a.kind in (LAUNCH, RELAUNCH)] + created
        self._send_signals(ctx, to_launch)
        for trial_id in to_launch:
            self._launch(state.trials[trial_id])
        for action in now:
            if action.kind == ADOPT:
                state.trials[action.trial_id].status = RUNNING
        if to_launch or any(a.kind == ADOPT for a in now):
            save_trials(self.store, state)
        self.backend.reconcile_helpers([t.id for t in state.trials.values() if t.status == RUNNING])
        if plan.phase != PHASE_FAILED:  # the phase after acting: trials created now make it Running
            plan.phase, plan.condition = experiment_phase(ctx, enabled_stages(ctx, self.stages))
        self._record_experiment(ctx, plan)
        if ctx.artifacts_dir is not None:
            for stage in self.stages:
                if stage.enabled(self.experiment):
                    stage.write_artifacts(ctx)
        return PassResult(plan, state)

    def _send_signals(self, ctx: StageContext, launching: list[str]) -> None:
        """Stop signals the stages want, for trials launching now (before they start) or running."""
        for stage in self.stages:
            if not stage.enabled(self.experiment):
                continue
            for trial_id, stop_signal in stage.stop_signals(ctx).items():
                if trial_id in launching or ctx.state.trials[trial_id].status == RUNNING:
                    self.backend.signal(trial_id, stop_signal)

    def _stop(self, ctx: StageContext, actions: list[Action]) -> None:
        for action in actions:
            self.backend.stop(action.trial_id, action.reason)
            trial = ctx.state.trials[action.trial_id]
            trial.finished_at = time.time()
            if action.reason == REASON_TIMEOUT:
                limit = next(s for s in self.stages if s.name == trial.stage).timeout_seconds(self.experiment)
                trial.status, trial.reason = FAILED, REASON_TIMEOUT
                trial.message = f"ran longer than timeoutSeconds={limit:g}"
            else:
                trial.status, trial.reason, trial.message = STOPPED, "experiment-failed", action.reason

    def _record_intent(self, ctx: StageContext, creates: list[Action]) -> list[str]:
        created: list[str] = []
        for stage in self.stages:
            mine = [a for a in creates if a.stage == stage.name]
            if mine:
                indices = [int(a.trial_id.rsplit("-", 1)[1]) for a in mine]
                records = stage.new_trials(ctx, [a.trial_id for a in mine], indices)
                ctx.state.add(records)
                created += [r.id for r in records]
        return created

    def _trial_spec(self, trial: TrialRecord) -> dict:
        trainer = self.experiment.spec.trainer
        return {"id": trial.id, "stage": trial.stage, "experiment": self.experiment.metadata.name,
                "arch": trial.arch, "dna": trial.dna, "args": trial.args,
                "seed": self.experiment.spec.search.seed if trial.seed is None else trial.seed,
                "trainer": trainer.model_dump(include={"prebuilt", "module", "command"})}

    def _launch(self, trial: TrialRecord) -> None:
        trial.attempt += 1
        trial.backend_ref = self.backend.launch(trial.id, self._trial_spec(trial))
        trial.status, trial.launched_at = RUNNING, time.time()

    def _record_experiment(self, ctx: StageContext, plan: Plan) -> None:
        record = ctx.state.experiment
        record.phase = plan.phase
        record.conditions = [plan.condition] if plan.condition else []
        record.stages = {s.name: {"phase": _stage_phase(s, ctx), "summary": s.summary(ctx)}
                         for s in self.stages if s.enabled(self.experiment)}
        record.observed_generation = self.generation
        save_experiment(self.store, ctx.state)

    def run(self, lock: LockHandle, poll_seconds: float,
            on_pass: Callable[[PassResult], None] | None = None) -> PassResult:
        """Reconcile until the experiment is Succeeded or Failed, renewing the lock between passes."""
        delay = _MIN_POLL_SECONDS
        while True:
            result = self.run_pass()
            if on_pass:
                on_pass(result)
            if result.plan.phase in TERMINAL_PHASES and not any(a.now for a in result.plan.actions):
                return result
            # poll quickly right after acting (short trials finish fast), back off while nothing happens
            delay = _MIN_POLL_SECONDS if any(a.now for a in result.plan.actions) else min(poll_seconds, delay * 2)
            time.sleep(delay)
            lock.renew()


def _reopen(trial: TrialRecord) -> None:
    """Make a finished trial launchable again; its curve and checkpoint stay in its directory."""
    trial.status, trial.reason, trial.message = PENDING, None, ""
    trial.attempt, trial.finished_at = 0, None


def _stage_phase(stage: Stage, ctx: StageContext) -> str:
    if stage.complete(ctx):
        return PHASE_SUCCEEDED
    return PHASE_RUNNING if stage.trials(ctx) else PHASE_PENDING

