"""`nasctl delete`: cancel every job of an experiment and record it as Deleted, keeping all of its state.

The mark is recorded before anything is cancelled, so a delete cut short never lets a later `apply`
launch again: `apply` of a Deleted experiment cancels whatever still runs and refuses. `apply --undelete`
clears the mark and reopens the trials the delete stopped (they run again from the start or their
checkpoint); trial records, results and artifacts are never removed. An experiment with nothing
recorded (never applied) is not found: deleting it is an error that writes nothing, not even the lock.
"""
from __future__ import annotations

import time
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


class ExperimentDeleted(ValueError):
    def __init__(self, record: ExperimentRecord, cancelled: list[str] | None = None):
        stopped = f"; cancelled what still ran: {', '.join(cancelled)}" if cancelled else ""
        super().__init__(f"{record.name} was deleted (its state is kept){stopped}. `nasctl apply --undelete` "
                         "launches it again from its recorded trials; removing its state starts it afresh")


class ExperimentNotFound(ValueError):
    def __init__(self, name: str, location: str):
        super().__init__(f"{name}: nothing is recorded at {location} (never applied, or its state was removed); "
                         "nothing to delete")


def require_recorded(reconciler: Deletable) -> None:
    """Raise ExperimentNotFound when the experiment has no recorded state."""
    state = reconciler.load()
    if not (state.experiment_generation or state.trials_generation):
        raise ExperimentNotFound(state.experiment.name, reconciler.store.uri)


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
    """Mark the experiment Deleted, then cancel every job of it; returns what was cancelled."""
    require_recorded(reconciler)  # before the lock: a missing experiment gets nothing written
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
