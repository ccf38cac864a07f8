"""`nasctl delete`: cancel every job of an experiment and record it as Deleted, keeping all of its state.

The mark is recorded before anything is cancelled, so a delete cut short never lets a later `apply`
launch again: `apply` of a Deleted experiment cancels whatever still runs and refuses. `apply --undelete`
clears the mark and reopens the trials the delete stopped (they run again from the start or their
checkpoint); trial records, results and artifacts are never removed. An experiment with nothing
recorded (never applied, or its state removed) writes nothing, not even the lock: jobs labelled with it
that still run (left from an earlier life of its state, on Vertex) are cancelled; with none, deleting it
is an error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from reconciler.plan import ended, reopened
from state.records import (
    PHASE_DELETED, PHASE_PENDING, REASON_DELETED, STOPPED, Condition, ExperimentRecord, TrialRecord,
)
from state.snapshot import ExperimentState, save_experiment, save_trials
from state.store import StateStore


class Deletable(Protocol):
    """What both reconcilers (nasctl's controllers, a Vertex NasJob) offer for deletion."""

    store: StateStore

    def load(self) -> ExperimentState: ...

    def cancel_all(self, state: ExperimentState) -> list[str]: ...

    def jobs_delete_ends(self, state: ExperimentState) -> list[str]: ...

    def live_jobs(self) -> list[str]: ...


class ExperimentDeleted(ValueError):
    def __init__(self, record: ExperimentRecord, cancelled: list[str] | None = None):
        stopped = f"; cancelled what still ran: {', '.join(cancelled)}" if cancelled else ""
        super().__init__(f"{record.name} was deleted (its state is kept){stopped}. `nasctl apply --undelete` "
                         "launches it again from its recorded trials; removing its state starts it afresh")


class ExperimentNotFound(ValueError):
    def __init__(self, name: str, location: str):
        super().__init__(f"{name}: nothing is recorded at {location} (never applied, or its state was removed) "
                         "and no job labelled with it runs; nothing to delete")


class LeftoverJobs(ValueError):
    def __init__(self, name: str, location: str, jobs: list[str]):
        super().__init__(
            f"{name}: nothing is recorded at {location}, but {len(jobs)} job(s) labelled with it still run, left "
            f"from an earlier life of its state (billing, and holding quota a new search would wait for): "
            f"{', '.join(jobs)}. `nasctl delete` cancels them and writes nothing; or give the experiment a new "
            "metadata.name")


def _leftovers(reconciler: Deletable) -> tuple[str, list[str] | None]:
    """The experiment's name, and None when it has recorded state, else the live jobs labelled with it
    (left from an earlier life of its state)."""
    state = reconciler.load()
    return state.experiment.name, None if is_recorded(state) else reconciler.live_jobs()


def refuse_leftovers(reconciler: Deletable) -> None:
    """Before the first pass of an experiment with nothing recorded: raise LeftoverJobs when jobs labelled
    with it still run (its state was removed while they ran). A new state never adopts them, so applying
    would start a second search beside them."""
    name, leftovers = _leftovers(reconciler)
    if leftovers:
        raise LeftoverJobs(name, reconciler.store.uri, leftovers)


@dataclass(frozen=True)
class DeleteScope:
    """What a delete acts on: the recorded experiment, or only jobs left from an earlier life of its state."""

    recorded: bool
    leftovers: list[str]  # live jobs labelled with the experiment while nothing is recorded


def delete_scope(reconciler: Deletable) -> DeleteScope:
    """Raise ExperimentNotFound when nothing is recorded and no job labelled with the experiment runs."""
    name, leftovers = _leftovers(reconciler)
    if leftovers is None:
        return DeleteScope(True, [])
    if not leftovers:
        raise ExperimentNotFound(name, reconciler.store.uri)
    return DeleteScope(False, leftovers)


def is_recorded(state: ExperimentState) -> bool:
    return bool(state.experiment_generation or state.trials_generation)


def delete_warnings(reconciler: Deletable) -> list[str]:
    """What a delete would end for good, said before it is confirmed."""
    return [f"{job} already resumes this search and Vertex resumes a search once: after this delete "
            "`apply --undelete` cannot continue it (the search ends with the trials it has)"
            for job in reconciler.jobs_delete_ends(reconciler.load())]


def is_deleted(state: ExperimentState) -> bool:
    return state.experiment.phase == PHASE_DELETED


def stopped_for_deletion(trials: list[TrialRecord], now: float) -> list[TrialRecord]:
    """The unfinished trials as recorded once the delete has stopped them."""
    return [ended(t, STOPPED, REASON_DELETED, "experiment deleted", now) for t in trials if not t.terminal]


def delete(reconciler: Deletable, lease_seconds: float) -> list[str]:
    """Mark the experiment Deleted, then cancel every job of it; returns what was cancelled. With nothing
    recorded, only the jobs left running are cancelled, and nothing is written (not even the lock)."""
    if not delete_scope(reconciler).recorded:
        return reconciler.cancel_all(reconciler.load())
    with reconciler.store.locked(lease_seconds=lease_seconds):
        state = reconciler.load()
        record = state.experiment
        if not is_deleted(state):
            record.phase = PHASE_DELETED
            record.conditions = [Condition("Deleted", "True", "DeletedByUser",
                                           f"nasctl delete at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; "
                                           "state kept; `nasctl apply --undelete` launches it again")]
            save_experiment(reconciler.store, state)
        return reconciler.cancel_all(state)


def refuse_if_deleted(reconciler: Deletable, lease_seconds: float) -> None:
    """Raise ExperimentDeleted for a Deleted experiment, after cancelling anything of it that still runs."""
    if not is_deleted(reconciler.load()):
        return
    with reconciler.store.locked(lease_seconds=lease_seconds):
        state = reconciler.load()
        raise ExperimentDeleted(state.experiment, reconciler.cancel_all(state))


def undelete(reconciler: Deletable, lease_seconds: float) -> list[str] | None:
    """Clear the Deleted mark and reopen the trials the delete stopped; returns their ids, or None when
    the experiment was not deleted."""
    with reconciler.store.locked(lease_seconds=lease_seconds):
        state = reconciler.load()
        if not is_deleted(state):
            return None
        again = [t.id for t in state.trials.values() if t.status == STOPPED and t.reason == REASON_DELETED]
        for trial_id in again:
            state.trials[trial_id] = reopened(state.trials[trial_id])
        if again:
            save_trials(reconciler.store, state)
        state.experiment.phase, state.experiment.conditions = PHASE_PENDING, []
        save_experiment(reconciler.store, state)
        return again
