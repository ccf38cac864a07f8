"""The reconcile loop: lock, read, observe, plan, execute the plan (intent before action), record; until terminal.

`apply` decides nothing itself: :func:`reconciler.plan.compute_plan` says what a pass does, and
:meth:`Reconciler.execute` carries it out in an order that survives a kill at any point.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Callable

from backends.base import Backend
from reconciler.delete import ExperimentDeleted, is_deleted, stopped_for_deletion
from reconciler.graph import enabled_stages
from reconciler.observe import Observed, observe
from reconciler.phase import stage_phase
from reconciler.plan import (
    ADOPT, CREATE, LAUNCH, RECORD, RELAUNCH, REOPEN, SIGNAL, START_HELPER, STOP, Plan, compute_plan,
)
from reconciler.spec_changes import FieldChange, load_spec_state, normalised_spec
from reconciler.stages.base import Stage, StageContext
from specs.loader import spec_generation
from specs.model import NASExperiment
from state.records import PHASE_FAILED, PHASE_SUCCEEDED, RUNNING, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState, save_experiment, save_trials
from state.store import LockHandle, StateStore
from trial.trainers import trial_document

TERMINAL_PHASES = (PHASE_SUCCEEDED, PHASE_FAILED)
_MIN_POLL_SECONDS = 0.02
ARTIFACT_STATE = "state.json"


class SpecChangeRefused(ValueError):
    def __init__(self, changes: list[FieldChange]):
        super().__init__("; ".join(f"{c.path} cannot change from {c.old!r} to {c.new!r}: {c.refused}" for c in changes))
        self.changes = changes


@dataclass
class PassResult:
    plan: Plan
    state: ExperimentState


class Reconciler:
    def __init__(self, experiment: NASExperiment, store: StateStore, backend: Backend, user_code: bool = True):
        self.experiment = experiment
        self.user_code = user_code  # False for `diff`: plan without running code the spec names
        self.store = store
        self.backend = backend
        self.stages = enabled_stages(experiment)
        self.generation = spec_generation(experiment)

    # -- reading -----------------------------------------------------------------------------------
    def load(self) -> ExperimentState:
        return load_spec_state(self.store, self.experiment)

    def _plan(self, state: ExperimentState) -> tuple[Plan, Observed]:
        observed = observe(self.experiment, state, self.backend, self.stages)
        plan = compute_plan(self.experiment, state, observed, self.backend.slots, user_code=self.user_code)
        return plan, observed

    def preview(self) -> PassResult:
        """The plan against recorded state, acting on nothing and writing nothing (`nasctl diff`)."""
        state = self.load()
        return PassResult(self._plan(state)[0], state)

    # -- acting ------------------------------------------------------------------------------------
    def run_pass(self) -> PassResult:
        """One level-triggered pass. Safe to kill at any point: the next pass continues from state."""
        state = self.load()
        if is_deleted(state):
            raise ExperimentDeleted(state.experiment)
        recorded = copy.deepcopy(state.experiment)
        plan, observed = self._plan(state)
        if plan.refused:
            raise SpecChangeRefused(plan.refused)
        self.execute(plan, state)
        self._record_experiment(plan, state, observed, recorded)
        return PassResult(plan, state)

    def cancel_all(self, state: ExperimentState, trials: list[TrialRecord] | None = None) -> list[str]:
        """Stop every job of the experiment (`nasctl delete`), then record its unfinished trials (of `trials`,
        when given) as stopped (in that order: a kill in between leaves them unfinished, so the next call
        stops them again)."""
        stopping = stopped_for_deletion(list(state.trials.values()) if trials is None else trials, time.time())
        cancelled = self.backend.stop_all([t.id for t in stopping])
        for trial in stopping:
            state.trials[trial.id] = trial
        if stopping:
            save_trials(self.store, state)
        return cancelled

    def live_jobs(self) -> list[str]:
        """Every job labelled with the experiment that still runs, recorded or not."""
        return self.backend.live_jobs()

    def jobs_delete_ends(self, state: ExperimentState) -> list[str]:
        """None: every trial a delete stops runs again after `apply --undelete`."""
        return []

    def execute(self, plan: Plan, state: ExperimentState) -> None:
        """Carry out the plan: stops and outcomes and the intent of new work are recorded before anything starts."""
        for action in plan.now(STOP):
            self.backend.stop(action.trial_id, action.reason)
        recorded = [action for action in plan.now(RECORD, STOP, REOPEN, CREATE, RELAUNCH) if action.record is not None]
        if recorded and not state.experiment_generation:  # the spec trials run under is recorded before any trial
            state.experiment.spec = normalised_spec(self.experiment)
            save_experiment(self.store, state)
        for action in recorded:
            state.trials[action.trial_id] = copy.deepcopy(action.record)
        if recorded:
            save_trials(self.store, state)  # intent (and results) recorded before any launch
        for action in plan.now(SIGNAL):
            self.backend.signal(action.trial_id, action.signal)
        launches = plan.now(CREATE, REOPEN, LAUNCH, RELAUNCH)
        for action in launches:
            self._launch(state.trials[action.trial_id])
        adopted = plan.now(ADOPT)
        for action in adopted:
            state.trials[action.trial_id].status = RUNNING
        if launches or adopted:
            save_trials(self.store, state)
        for action in plan.now(START_HELPER):
            self.backend.start_helper(action.trial_id)

    def _trial_spec(self, trial: TrialRecord) -> dict:
        seed = self.experiment.spec.search.seed if trial.seed is None else trial.seed
        return trial_document(self.experiment, trial.id, trial.stage, trial.arch, trial.dna, trial.args, seed)

    def _launch(self, trial: TrialRecord) -> None:
        trial.attempt += 1
        trial.backend_ref = self.backend.launch(trial.id, self._trial_spec(trial))
        trial.status, trial.launched_at = RUNNING, time.time()

    def _record_experiment(self, plan: Plan, state: ExperimentState, observed: Observed,
                           recorded: ExperimentRecord) -> None:
        """Phase, conditions, stage summaries and the applied spec; written only when they changed."""
        ctx = StageContext(self.experiment, state, observed, {stage.name: stage for stage in self.stages})
        record = state.experiment
        record.phase = plan.next_phase
        record.conditions = [plan.next_condition] if plan.next_condition else []
        record.stages = {s.name: {"phase": stage_phase(ctx, s), "summary": s.summary(ctx)} for s in self.stages}
        record.observed_generation = self.generation
        record.spec = normalised_spec(self.experiment)
        if record != recorded:
            save_experiment(self.store, state)
        for stage in self.stages:
            write_stage_artifacts(self.store, ctx, stage)

    def run(self, lock: LockHandle, poll_seconds: float,
            on_pass: Callable[[PassResult], None] | None = None) -> PassResult:
        return run_until_terminal(self.run_pass, lock, poll_seconds, on_pass)


def run_until_terminal(run_pass: Callable[[], PassResult], lock: LockHandle, poll_seconds: float,
                       on_pass: Callable[[PassResult], None] | None = None) -> PassResult:
    """Pass after pass until the experiment is Succeeded or Failed, renewing the lock between passes."""
    delay = _MIN_POLL_SECONDS
    while True:
        result = run_pass()
        if on_pass:
            on_pass(result)
        acted = any(a.now for a in result.plan.actions)
        if result.plan.next_phase in TERMINAL_PHASES and not acted:
            return result
        # poll quickly right after acting (short trials finish fast), back off while nothing happens
        delay = _MIN_POLL_SECONDS if acted else min(poll_seconds, delay * 2)
        time.sleep(delay)
        lock.renew()


def write_stage_artifacts(store: StateStore, ctx: StageContext, stage: Stage) -> None:
    """A stage's detailed state and plots beside the experiment's state (local or GCS), redrawn on change."""
    document = stage.artifact_state(ctx)
    if document is None:
        return
    payload = json.dumps(document, indent=1, sort_keys=True).encode()
    key = f"{stage.name}/{ARTIFACT_STATE}"
    if store.get_artifact(key) == payload:
        return
    for name, png in stage.artifact_plots(ctx).items():
        store.put_artifact(f"{stage.name}/{name}", png)
    store.put_artifact(key, payload)

