"""Stage 1 (and stage 2 via train_frequency) as one Vertex NasJob, for Vertex's own algorithms.

Vertex's controller proposes the architectures, so nasctl does not create trials: each pass adopts,
creates or resumes the NasJob (labelled, so a crash never duplicates it), then replaces the recorded
search/train trials with the job's trial details (level-triggered). Once the search has ended, the top
N that Vertex's stage 2 did not train are trained as CustomJobs (reconciler.nas_stage2). `diff` runs the
same pass on reads alone (:meth:`VertexNasSearch.peek`). The apply loop, the lock, status and trials views
are the same as for nasctl's own controllers.
"""
from __future__ import annotations

import time
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from reconciler.apply import PassResult, run_until_terminal
from backends.vertex.custom_jobs import LIVE_JOB_STATES
from backends.vertex.nas_search import NasJobsRecord, NasSearchStatus, VertexNasSearch, trial_records
from reconciler.delete import ExperimentDeleted, is_deleted, is_recorded
from reconciler.nas_stage2 import NasStage2
from reconciler.plan import CREATE, QUOTA_NOTE, QUOTA_WAIT_SECONDS, STOP, Action, Plan
from reconciler.spec_changes import load_spec_state
from reconciler.stages.base import count_by_status
from state.records import (
    CUSTOM_JOB_RUNNER, FAILED, PENDING, RUNNER_LABEL, SEARCH, SUCCEEDED, TRAIN,
    PHASE_FAILED, PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, Condition, ExperimentRecord, TrialRecord,
)
from state.snapshot import ExperimentState, save_experiment, save_trials
from state.store import LockHandle, StateStore
from specs.loader import is_generation_of, spec_generation
from search_spaces.registry import build_search_space
from specs.model import ExperimentSpec, NASExperiment, SearchStageSpec, TrainStageSpec

if TYPE_CHECKING:
    from search_spaces.space import SearchSpace

_FAILED_JOB_STATES = ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")
NAS_JOB_ID = "nasjob"
REQUESTED_AT = "requested_at"  # backend_ref key: when a pass first saw the trial requested and not started


def _stage2_note(status: NasSearchStatus, train: TrainStageSpec | None) -> str:
    """For an ended search: what Vertex's stage 2 trained, when fewer than topN (its last round never came)."""
    if train is None:
        return ""
    trained = sum(1 for t in status.trials if t.stage == TRAIN and t.status == SUCCEEDED)
    return "" if trained >= train.top_n else (
        f"; stage 2 trained {trained} of the top {train.top_n} (Vertex trains them inside the NasJob every "
        "train.frequency search trials)")


def _phase(status: NasSearchStatus, search: SearchStageSpec, train: TrainStageSpec | None) -> tuple[str, Condition]:
    failed = [t for t in status.trials if t.stage == SEARCH and t.status == FAILED]
    if len(failed) > search.failure_budget:
        return PHASE_FAILED, Condition(
            "Failed", "True", "TooManyFailedTrials",
            f"{len(failed)} failed search trials exceed maxFailedTrials={search.failure_budget}")
    if status.finished:
        return PHASE_SUCCEEDED, Condition("Succeeded", "True", "MaxTrialsReached" if status.completed
                                          else "NasJobSucceeded", status.job + _stage2_note(status, train))
    if status.cannot_resume:
        done = f"{status.finished_search_trials()} of {search.max_trials} search trials finished"
        if status.deleted:
            return PHASE_FAILED, Condition("Failed", "True", "CannotResume", (
                f"{status.job} was cancelled by nasctl delete, and Vertex cannot resume it: it resumed "
                f"{status.jobs[0]} (a search is resumed once); {done}"))
        return PHASE_SUCCEEDED, Condition("Succeeded", "True", "SearchTimeLimit", (
            f"{status.job} reached Vertex's 14-day limit after resuming {status.jobs[0]}: a search runs 28 days "
            f"at most (a NasJob is resumed once); {done}{_stage2_note(status, train)}"))
    if status.state in _FAILED_JOB_STATES:
        return PHASE_FAILED, Condition("Failed", "True", "NasJobFailed", f"{status.job} ended in {status.state}")
    return PHASE_RUNNING, Condition("Running", "True", "NasJobRunning", f"{status.job}: {status.state}")


def _stops(status: NasSearchStatus, experiment: ExperimentRecord) -> list[Action]:
    """The NasJob a pass cancels: a resumed job past maxTrials, or the live job of a failed experiment."""
    if status.surplus:
        return [Action(STOP, NAS_JOB_ID, SEARCH, True, (
            f"{status.job}: the search has its maxTrials; {len(status.surplus)} search trials past it stop"))]
    if experiment.phase == PHASE_FAILED and status.state in LIVE_JOB_STATES:
        return [Action(STOP, NAS_JOB_ID, SEARCH, True, f"{status.job}: {experiment.conditions[0].message}")]
    return []


def _jobs_record(experiment: ExperimentRecord) -> NasJobsRecord:
    return NasJobsRecord.from_summary(experiment.stages.get(SEARCH, {}).get("summary", {}))


def _record(experiment: ExperimentRecord, status: NasSearchStatus, generation: str, job_generation: str,
            spec: ExperimentSpec, jobs: NasJobsRecord) -> None:
    """The pass's outcome; the observed generation is the one the NasJob runs: Vertex cannot change a NasJob."""
    experiment.phase, condition = _phase(status, spec.search, spec.train)
    experiment.conditions = [condition]
    if job_generation != generation:
        experiment.conditions.append(Condition(
            "SpecApplied", "False", "NasJobKeepsItsSpec",
            f"{status.job} runs the spec of generation {job_generation}: Vertex cannot change a NasJob, so generation "
            f"{generation} applies only to a NasJob created after it (a resume past the 14-day limit)"))
    experiment.observed_generation = job_generation
    experiment.stages = {SEARCH: {"phase": experiment.phase, "summary": {
        "nasJob": status.job, "state": status.state, "jobs": status.jobs, "generation": job_generation,
        **_time_limit(status), **jobs.kept_summary()}}}


def wait_noted(record: TrialRecord, before: TrialRecord | None, now: float) -> TrialRecord:
    """A trial Vertex requested and has not started (pending), with when a pass first saw it so and, once it has
    waited QUOTA_WAIT_SECONDS, the quota note. Vertex shows a NasJob trial's own job to no one: a trial short of
    quota (or, with FLEX_START, of machines) only stays requested, and without the note a search short of quota
    would only look slower than its cost preview. The note says since when, so it is written once."""
    if record.status != PENDING:
        return record
    since = now
    if (before is not None and before.status == PENDING
            and before.backend_ref.get("parameters") == record.backend_ref.get("parameters")):
        since = float(before.backend_ref.get(REQUESTED_AT, now))
    message = record.message
    if now - since >= QUOTA_WAIT_SECONDS:
        requested = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(since))
        message = (f"{QUOTA_NOTE}: Vertex has not started it since {requested} (a NasJob trial waits so for its "
                   "quota, or with FLEX_START for machines)")
    return replace(record, message=message, backend_ref={**record.backend_ref, REQUESTED_AT: since})


def _time_limit(status: NasSearchStatus) -> dict[str, Any]:
    """When the live NasJob meets Vertex's 14-day limit, and whether the search goes on after it."""
    if status.state not in LIVE_JOB_STATES:
        return {}
    ends_by = {} if status.ends_by is None else {"jobEndsBy": time.strftime("%Y-%m-%dT%H:%MZ",
                                                                            time.gmtime(status.ends_by))}
    return {**ends_by, "resumesLeft": status.resumes_left}


class NasJobReconciler:
    """The NasJob path, chosen once from the spec (``reconciler.session``): no nasctl stages or backend."""

    def __init__(self, experiment: NASExperiment, store: StateStore, search: VertexNasSearch | None = None,
                 stage2: NasStage2 | None = None):
        self.experiment = experiment
        self.store = store
        self.search = search or VertexNasSearch(experiment)
        self.generation = spec_generation(experiment)
        self._stage2 = stage2

    @cached_property
    def stage2(self) -> NasStage2:
        """Made when first needed: a search without stage 2 never builds the CustomJob backend."""
        return self._stage2 or NasStage2(self.experiment, self.store)

    @cached_property
    def space(self) -> "SearchSpace":
        """Built only when acting: a user's space function never runs for `diff`."""
        return build_search_space(self.experiment.spec.search_space)

    def load(self) -> ExperimentState:
        return load_spec_state(self.store, self.experiment)

    def preview(self) -> PassResult:
        """What the next pass does, from reads alone (lists and gets of jobs and trials; no user code): the
        NasJob it creates or resumes, or cancels (past maxTrials, or of a failed experiment), the phase it
        records, and once the search has ended, the stage-2 CustomJobs nasctl starts."""
        state = self.load()
        recorded_phase = state.experiment.phase
        plan = Plan(generation=self.generation, observed_generation=state.experiment.observed_generation,
                    phase=recorded_phase, next_phase=recorded_phase, recorded_phase=recorded_phase)
        if is_deleted(state):
            return PassResult(plan, state)
        jobs = _jobs_record(state.experiment)
        preview = self.search.peek(jobs)
        if preview.status is None:
            algorithm = self.experiment.spec.search.algorithm
            plan.actions.append(Action(CREATE, NAS_JOB_ID, SEARCH, True, f"Vertex NasJob ({algorithm})" if
                                       preview.resumes is None else f"Vertex NasJob resuming {preview.resumes}"))
            if preview.resumes is None:
                plan.phase = PHASE_PENDING
            return PassResult(plan, state)
        status = preview.status
        self._observe(state, status, jobs, trial_records(status, None, state.trials))
        plan.actions = _stops(status, state.experiment)
        if self._completes_stage2(state, recorded_phase):
            plan.actions += self._complete_stage2(state, self.stage2.plan)
        plan.next_phase, plan.next_condition = state.experiment.phase, state.experiment.conditions[0]
        return PassResult(plan, state)

    def cancel_all(self, state: ExperimentState) -> list[str]:
        """Cancel every NasJob of the experiment (`nasctl delete`); its trials end with it. What is cancelled
        is recorded first: the pass after `apply --undelete` resumes those NasJobs (a NasJob cancelled
        by anything else fails the experiment)."""

        def record_deleting(jobs: list[str], trials: list[str]) -> None:
            if not is_recorded(state):
                return  # jobs of an earlier life of the state: nothing to resume, nothing is written
            record = _jobs_record(state.experiment)
            record.deleted_jobs = sorted(set(record.deleted_jobs) | set(jobs))
            record.deleted_trials = sorted(set(record.deleted_trials) | set(trials))
            stage = state.experiment.stages.setdefault(SEARCH, {"phase": state.experiment.phase})
            stage.setdefault("summary", {}).update(record.kept_summary())
            save_experiment(self.store, state)

        cancelled = self.search.stop_all(record_deleting)
        if self.experiment.spec.train is not None:
            cancelled += self.stage2.cancel_all(state)
        return cancelled

    def live_jobs(self) -> list[str]:
        """Every NasJob (and stage-2 CustomJob) labelled with the experiment that still runs, recorded or not."""
        live = [job.name for job in self.search.labelled_jobs() if job.state.name in LIVE_JOB_STATES]
        return live + (self.stage2.live_jobs() if self.experiment.spec.train is not None else [])

    def jobs_delete_ends(self, state: ExperimentState) -> list[str]:
        """The live NasJob when it is already a resume: Vertex cannot resume it after a delete."""
        return self.search.live_resumed_job(_jobs_record(state.experiment))

    def run_pass(self) -> PassResult:
        state = self.load()
        if is_deleted(state):
            raise ExperimentDeleted(state.experiment)

        def save_record(jobs: NasJobsRecord) -> None:
            state.experiment.stages[SEARCH] = {"phase": PHASE_PENDING, "summary": {
                "jobs": jobs.jobs, "intent": jobs.intent, **jobs.kept_summary()}}
            save_experiment(self.store, state)

        recorded_phase = state.experiment.phase
        jobs = _jobs_record(state.experiment)
        status = self.search.reconcile(self.space.to_json_str(), jobs, save_record)
        self._observe(state, status, jobs, trial_records(status, self.space, state.trials, self.search.failure))
        save_trials(self.store, state)
        if state.experiment.phase == PHASE_FAILED:  # nothing of a failed experiment keeps running (and billing)
            self._stop(state, status, jobs)
        actions = [Action(CREATE, NAS_JOB_ID, SEARCH, True, status.job)] if status.created else []
        actions += _stops(status, state.experiment)
        if self._completes_stage2(state, recorded_phase):
            actions += self._complete_stage2(state, self.stage2.run_pass)
        save_experiment(self.store, state)
        plan = Plan(generation=self.generation, observed_generation=state.experiment.observed_generation,
                    phase=state.experiment.phase, condition=state.experiment.conditions[0],
                    next_phase=state.experiment.phase, next_condition=state.experiment.conditions[0],
                    recorded_phase=state.experiment.phase, actions=actions)
        return PassResult(plan, state)

    def _observe(self, state: ExperimentState, status: NasSearchStatus, jobs: NasJobsRecord,
                 records: list[TrialRecord]) -> None:
        """The search as the pass finds it, into `state` (not saved): the NasJob's trials replace the recorded
        search and train trials (nasctl's own stage-2 trials stay), and the phase and conditions follow."""
        recorded_generation = state.experiment.stages.get(SEARCH, {}).get("summary", {}).get("generation")
        runs_this_spec = status.created or recorded_generation is None or is_generation_of(
            recorded_generation, self.experiment)  # an older nasctl recorded this spec's generation in its form
        job_generation = self.generation if runs_this_spec else recorded_generation
        own = {t.id: t for t in state.trials.values() if t.runs_as_custom_job}
        now = time.time()
        records = [wait_noted(record, state.trials.get(record.id), now) for record in records]
        state.trials = {**own, **{record.id: record for record in records}}
        _record(state.experiment, status, self.generation, job_generation, self.experiment.spec, jobs)

    def _completes_stage2(self, state: ExperimentState, recorded_phase: str) -> bool:
        """Whether this pass trains what Vertex's stage 2 left out: once the search has ended, unless the
        experiment had succeeded without it before this pass (a search that ended under an older nasctl:
        upgrading does not launch jobs)."""
        if state.experiment.phase != PHASE_SUCCEEDED or self.experiment.spec.train is None:
            return False
        return recorded_phase != PHASE_SUCCEEDED or any(t.runs_as_custom_job for t in state.trials.values())

    def _complete_stage2(self, state: ExperimentState, stage2_pass: Callable[[ExperimentState], Plan]) -> list[Action]:
        """The search has ended: train the top N Vertex did not, as CustomJobs (`stage2_pass` plans them, and
        acts on the plan when applying); the experiment succeeds when they have, and fails when they exceed
        train.maxFailedTrials."""
        plan = stage2_pass(state)
        record = state.experiment
        own = [t for t in state.trials.values() if t.runs_as_custom_job]
        if not own and plan.phase == PHASE_SUCCEEDED:  # Vertex trained the top N
            return plan.actions
        searched = record.conditions[0]
        if plan.phase == PHASE_SUCCEEDED:
            trained = sum(t.status == SUCCEEDED for t in own)
            record.conditions = [replace(searched, message=(
                f"{searched.message}; nasctl trained {trained} more of the top {self.experiment.spec.train.top_n} "
                "as CustomJobs"))]
        else:
            record.phase = plan.phase
            record.conditions = [replace(plan.condition, message=(
                f"{searched.reason}: {searched.message}; stage 2 by nasctl as CustomJobs for the top "
                f"{self.experiment.spec.train.top_n} that Vertex did not train: {plan.condition.message}"))]
        record.stages[TRAIN] = {"phase": plan.phase, "summary": {**count_by_status(own), RUNNER_LABEL: CUSTOM_JOB_RUNNER}}
        return plan.actions

    def _stop(self, state: ExperimentState, status: NasSearchStatus, jobs: NasJobsRecord) -> None:
        """Cancel the failed experiment's live NasJobs, recorded first as nasctl's cancels: not the 14-day limit."""
        if status.state not in LIVE_JOB_STATES:
            return
        jobs.stopped_jobs = sorted(set(jobs.stopped_jobs) | {status.job})
        state.experiment.stages[SEARCH]["summary"].update(jobs.kept_summary())
        save_experiment(self.store, state)
        self.search.stop(NasJobsRecord(status.jobs))

    def run(self, lock: LockHandle, poll_seconds: float,
            on_pass: Callable[[PassResult], None] | None = None) -> PassResult:
        return run_until_terminal(self.run_pass, lock, poll_seconds, on_pass)
