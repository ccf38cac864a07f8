"""`nasctl delete` on Vertex, against the emulator: every job of the experiment (found by its identity
label) ends CANCELLED, the state is kept, and apply refuses until --undelete."""
from __future__ import annotations

import time

import pytest
import yaml
from typer.testing import CliRunner

from backends.vertex.custom_jobs import VertexCustomJobBackend
from nasctl.cli import app
from reconciler.apply import Reconciler
from reconciler.delete import (
    ExperimentDeleted, ExperimentNotFound, LeftoverJobs, delete, delete_scope, delete_warnings, refuse_if_deleted,
    refuse_leftovers, undelete,
)
from reconciler.nas_job import NasJobReconciler
from state.records import (
    PENDING, PHASE_DELETED, PHASE_FAILED, PHASE_RUNNING, REASON_DELETED, RUNNING, STOPPED, SUCCEEDED,
)
from state.snapshot import save_experiment
from state.uri import open_store
from tests.support.vertex_emulated import vertex_experiment

pytestmark = pytest.mark.slow  # the emulator runs trial processes
LEASE = 60.0
SLOW_TRIALS = {"trainerArgs": {"mode": "proxy", "delaySeconds": 60}}


def _states(client, collection: str, names: list[str], timeout: float = 30.0) -> set[str]:
    """The jobs' states once none is CANCELLING any more."""
    get = client.get_custom_job if collection == "custom" else client.get_nas_job
    deadline = time.monotonic() + timeout
    while True:
        states = {get(name=name).state.name for name in names}
        if "JOB_STATE_CANCELLING" not in states or time.monotonic() > deadline:
            return states
        time.sleep(0.1)


def test_delete_cancels_every_custom_job_keeps_state_and_apply_refuses(vertex, gcs_bucket):
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=3, parallel=2, search=SLOW_TRIALS)
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = Reconciler(experiment, store, VertexCustomJobBackend(experiment))
    reconciler.run_pass()  # two CustomJobs launched
    client = vertex.client()
    parent = "projects/proj/locations/us-central1"
    launched = sorted(job.name for job in client.list_custom_jobs(parent=parent))
    assert len(launched) == 2

    cancelled = delete(reconciler, LEASE)
    assert sorted(cancelled) == launched
    assert _states(client, "custom", launched) == {"JOB_STATE_CANCELLED"}
    state = reconciler.load()
    assert state.experiment.phase == PHASE_DELETED
    assert sorted((t.id, t.status, t.reason) for t in state.trials.values()) == [
        ("search-0000", STOPPED, REASON_DELETED), ("search-0001", STOPPED, REASON_DELETED)]
    with pytest.raises(ExperimentDeleted, match="apply --undelete"):
        refuse_if_deleted(reconciler, LEASE)
    with pytest.raises(ExperimentDeleted):
        reconciler.run_pass()
    assert sorted(job.name for job in client.list_custom_jobs(parent=parent)) == launched, "nothing relaunched"
    assert delete(reconciler, LEASE) == []  # a second delete finds nothing left to cancel


def _remove_state(bucket: str) -> None:
    """What `gsutil rm -r gs://bucket/state` does: every state object gone, jobs untouched."""
    from adaptors.gcp import storage_client  # noqa: PLC0415

    for blob in storage_client().bucket(bucket).list_blobs(prefix="state/"):
        blob.delete()


@pytest.mark.parametrize("path", ["custom-jobs", "nas-job"])
def test_delete_with_its_state_removed_cancels_the_jobs_left_running_and_writes_nothing(vertex, gcs_bucket, path,
                                                                                     tmp_path):
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="GRID_SEARCH" if path == "nas-job"
                                   else "random", max_trials=3, parallel=2, search=SLOW_TRIALS)
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = (NasJobReconciler(experiment, store) if path == "nas-job"
                  else Reconciler(experiment, store, VertexCustomJobBackend(experiment)))
    reconciler.run_pass()
    running = reconciler.live_jobs()
    assert len(running) == (1 if path == "nas-job" else 2)
    _remove_state(gcs_bucket)

    with pytest.raises(LeftoverJobs, match="left from an earlier life of its state") as refused:
        refuse_leftovers(reconciler)  # apply would start a second search beside them
    assert all(job in str(refused.value) for job in running)
    spec_file = tmp_path / "exp.yaml"
    spec_file.write_text(yaml.safe_dump(experiment.model_dump(mode="json", by_alias=True)))
    diffed = CliRunner().invoke(app, ["diff", "-f", str(spec_file)], env={"COLUMNS": "500"})
    assert diffed.exit_code == 1 and "left from an earlier life of its state" in diffed.output, diffed.output
    scope = delete_scope(reconciler)
    assert (scope.recorded, scope.leftovers) == (False, running)
    assert sorted(delete(reconciler, LEASE)) == sorted(running)
    assert _states(vertex.client(), "nas" if path == "nas-job" else "custom", running) == {"JOB_STATE_CANCELLED"}
    assert store.list() == [], "no state written, not even the lock"
    with pytest.raises(ExperimentNotFound, match="no job labelled with it runs"):
        delete(reconciler, LEASE)
    refuse_leftovers(reconciler)  # nothing left: apply may start afresh
    reconciler.run_pass()
    refuse_leftovers(reconciler)  # and once something is recorded, its own jobs are not leftovers


def test_apply_of_a_deleted_experiment_cancels_its_nas_job_still_alive(vertex, gcs_bucket):
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="REINFORCEMENT_LEARNING", max_trials=4,
                                   parallel=2, search=SLOW_TRIALS)
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = NasJobReconciler(experiment, store)
    job = reconciler.run_pass().plan.actions[0].reason  # the NasJob created
    state = reconciler.load()
    state.experiment.phase = PHASE_DELETED  # a delete cut short: marked, nothing cancelled yet
    save_experiment(store, state)

    with pytest.raises(ExperimentDeleted, match=f"cancelled what still ran: {job}"):
        refuse_if_deleted(reconciler, LEASE)
    assert _states(vertex.client(), "nas", [job]) == {"JOB_STATE_CANCELLED"}
    with pytest.raises(ExperimentDeleted):
        reconciler.run_pass()
    assert [j.name for j in reconciler.search.labelled_jobs()] == [job], "no NasJob created again"
    assert reconciler.load().experiment.phase == PHASE_DELETED


def _nas_trial_states(client, job: str) -> list[str]:
    return [d.search_trial.state.name for d in client.list_nas_trial_details(parent=job)]


def test_undelete_resumes_the_nas_job_the_delete_cancelled_keeping_finished_trials(vertex, gcs_bucket):
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="GRID_SEARCH", max_trials=6, parallel=1,
                                   search={"trainerArgs": {"mode": "proxy", "delaySeconds": 2}})
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = NasJobReconciler(experiment, store)
    first = reconciler.run_pass().plan.actions[0].reason
    client = vertex.client()
    deadline = time.monotonic() + 60
    while _nas_trial_states(client, first)[-1:] != ["ACTIVE"] or "SUCCEEDED" not in _nas_trial_states(client, first):
        assert time.monotonic() < deadline, _nas_trial_states(client, first)
        time.sleep(0.1)
    assert delete(reconciler, LEASE) == [first]
    assert _states(client, "nas", [first]) == {"JOB_STATE_CANCELLED"}
    assert undelete(reconciler, LEASE) == []

    result = reconciler.run_pass()  # a new NasJob resumes the cancelled one
    experiment_record = result.state.experiment
    assert experiment_record.phase == PHASE_RUNNING, experiment_record.conditions
    jobs = experiment_record.stages["search"]["summary"]["jobs"]
    assert jobs[0] == first and len(jobs) == 2
    resumed = client.get_nas_job(name=jobs[1])
    assert resumed.nas_job_spec.resume_nas_job_id == first.rsplit("/", 1)[1]
    trials = result.state.trials
    assert any(t.status == SUCCEEDED and t.reward is not None for t in trials.values()), "finished trials kept"
    assert [(t.status, t.reason) for t in trials.values() if t.status not in (SUCCEEDED, RUNNING, PENDING)] == [
        (STOPPED, REASON_DELETED)], "the trial the delete stopped is not a failure"
    assert reconciler.run_pass().state.experiment.stages["search"]["summary"]["jobs"] == jobs  # adopted, once
    client.cancel_nas_job(name=jobs[1])


@pytest.mark.parametrize("numbering", ["continue", "restart"])  # how Vertex numbers a resumed job's trials
def test_a_resumed_nas_job_cancelled_by_a_delete_ends_the_search_vertex_resumes_once(make_vertex, gcs_bucket,
                                                                                     numbering: str):
    vertex = make_vertex(quotas={("us-central1", "NVIDIA_TESLA_T4"): 4}, nas_resume_numbering=numbering)
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="GRID_SEARCH", max_trials=4, parallel=1,
                                   search=SLOW_TRIALS)
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = NasJobReconciler(experiment, store)
    first = reconciler.run_pass().plan.actions[0].reason
    assert delete_warnings(reconciler) == []  # the first job is resumed after an undelete
    assert delete(reconciler, LEASE) == [first]
    undelete(reconciler, LEASE)
    resumed = reconciler.run_pass().state.experiment.stages["search"]["summary"]["jobs"][1]
    (warning,) = delete_warnings(reconciler)  # said before the delete is confirmed
    assert warning.startswith(f"{resumed} already resumes this search") and "cannot continue it" in warning
    assert delete(reconciler, LEASE) == [resumed]
    undelete(reconciler, LEASE)

    result = reconciler.run_pass()  # resuming the resumed job is what Vertex refuses: the search ends
    assert [j.name for j in reconciler.search.labelled_jobs()] == [first, resumed], "no third NasJob"
    record = result.state.experiment
    assert (record.phase, record.conditions[0].reason) == (PHASE_FAILED, "CannotResume")
    assert f"it resumed {first}" in record.conditions[0].message and "0 of 4 search trials" in record.conditions[0].message
    assert {(t.status, t.reason) for t in result.state.trials.values()} == {(STOPPED, REASON_DELETED)}
    assert sorted(result.state.trials) == ["search-0001", "search-0002"], "the resumed job's trial has an id of its own"
    assert reconciler.run_pass().state.experiment.conditions[0].reason == "CannotResume"  # and stays so


def test_a_nas_job_cancelled_by_anything_but_a_delete_fails_the_experiment_even_after_undelete(vertex, gcs_bucket):
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="GRID_SEARCH", max_trials=4, parallel=1,
                                   search={**SLOW_TRIALS, "maxFailedTrials": 3})  # the job's state decides
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = NasJobReconciler(experiment, store)
    job = reconciler.run_pass().plan.actions[0].reason
    client = vertex.client()
    client.cancel_nas_job(name=job)  # by hand, not by `nasctl delete`
    assert _states(client, "nas", [job]) == {"JOB_STATE_CANCELLED"}
    assert delete(reconciler, LEASE) == []  # nothing left to cancel
    undelete(reconciler, LEASE)
    result = reconciler.run_pass()
    assert result.state.experiment.phase == PHASE_FAILED
    assert result.state.experiment.conditions[0].reason == "NasJobFailed"
    assert [j.name for j in reconciler.search.labelled_jobs()] == [job], "not resumed"
