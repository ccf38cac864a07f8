"""Deletion on recorded state (local store, no processes): the mark, the kept records, the empty plan, undelete."""
from __future__ import annotations

import pytest
import yaml

from backends.factory import make_backend
from reconciler.apply import Reconciler
from reconciler.delete import ExperimentDeleted, ExperimentNotFound, delete, refuse_if_deleted, undelete
from specs.loader import parse_experiment
from state.records import (
    PENDING, PHASE_DELETED, PHASE_PENDING, REASON_DELETED, RUNNING, SEARCH, STOPPED, SUCCEEDED, TrialRecord,
)
from state.snapshot import save_experiment, save_trials
from state.uri import open_store
from tests.conftest import nb201_spec


@pytest.fixture
def reconciler(tmp_path) -> Reconciler:
    spec = nb201_spec(max_trials=3, parallel=1, top_n=None)
    spec["spec"]["stateUri"] = str(tmp_path / "state")
    experiment = parse_experiment(yaml.safe_dump(spec))
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = Reconciler(experiment, store, make_backend(experiment, store))
    state = reconciler.load()
    state.trials = {t.id: t for t in (
        TrialRecord("search-0000", SEARCH, 0, [0] * 6, None, status=SUCCEEDED, reward=0.7, launched_at=1.0,
                    finished_at=2.0),
        TrialRecord("search-0001", SEARCH, 1, [1] * 6, None, status=RUNNING, attempt=1, launched_at=3.0))}
    save_experiment(store, state)  # as apply records it, before any trial
    save_trials(store, state)
    return reconciler


def test_delete_marks_keeps_every_record_and_plans_nothing(reconciler):
    assert delete(reconciler, 30.0) == ["search-0001"]
    state = reconciler.load()
    assert state.experiment.phase == PHASE_DELETED
    assert state.experiment.conditions[0].reason == "DeletedByUser"
    done, stopped = state.trials["search-0000"], state.trials["search-0001"]
    assert (done.status, done.reward) == (SUCCEEDED, 0.7)
    assert (stopped.status, stopped.reason, stopped.launched_at) == (STOPPED, REASON_DELETED, 3.0)
    plan = reconciler.preview().plan
    assert plan.actions == [] and plan.phase == plan.next_phase == PHASE_DELETED
    with pytest.raises(ExperimentDeleted, match="exp was deleted"):
        reconciler.run_pass()
    with pytest.raises(ExperimentDeleted):
        refuse_if_deleted(reconciler, 30.0)


def test_undelete_reopens_only_what_the_delete_stopped(reconciler):
    assert undelete(reconciler, 30.0) is None  # not deleted: nothing to undo
    delete(reconciler, 30.0)
    assert undelete(reconciler, 30.0) == ["search-0001"]
    state = reconciler.load()
    assert state.experiment.phase == PHASE_PENDING and state.experiment.conditions == []
    assert (state.trials["search-0001"].status, state.trials["search-0001"].attempt) == (PENDING, 0)
    assert state.trials["search-0000"].status == SUCCEEDED
    refuse_if_deleted(reconciler, 30.0)  # no longer refused


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_delete_of_an_experiment_never_applied_is_refused_and_writes_nothing(where, tmp_path, request):
    spec = nb201_spec(max_trials=3, parallel=1, top_n=None)
    spec["spec"]["stateUri"] = (f"gs://{request.getfixturevalue('gcs_bucket')}/state" if where == "gcs"
                                else str(tmp_path / "state"))
    experiment = parse_experiment(yaml.safe_dump(spec))
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = Reconciler(experiment, store, make_backend(experiment, store))
    with pytest.raises(ExperimentNotFound, match=f"exp: nothing is recorded at {store.uri}"):
        delete(reconciler, 30.0)
    if where == "gcs":  # not even a lock was taken
        from adaptors.gcp import storage_client  # noqa: PLC0415

        assert list(storage_client().bucket(request.getfixturevalue("gcs_bucket")).list_blobs()) == []
    else:
        assert not (tmp_path / "state").exists()
