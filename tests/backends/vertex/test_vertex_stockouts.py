"""A stockout on Vertex (no machines for the accelerator in the region) through the real client and the emulator:
the turned-away CustomJobs are relaunched until machines come back, and no trial fails or loses an attempt."""
from __future__ import annotations

import time

import pytest

from backends.vertex.custom_jobs import VertexCustomJobBackend
from nasctl.views import status_view
from reconciler.apply import Reconciler
from reconciler import plan
from reconciler.plan import RELAUNCH
from state.records import PHASE_FAILED, PHASE_SUCCEEDED, SUCCEEDED
from state.uri import open_store
from tests.support.vertex_emulated import vertex_experiment

pytestmark = pytest.mark.slow  # the emulator runs trial processes


def test_trials_turned_away_by_a_stockout_are_relaunched_and_none_fails(vertex, gcs_bucket) -> None:
    vertex.capacity.stockout("us-central1", "NVIDIA_TESLA_T4", jobs=3, wait_seconds=0.5)
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=3, parallel=2,
                                   search={"maxFailedTrials": 1})
    reconciler = Reconciler(experiment, open_store(experiment.spec.state_uri, experiment.metadata.name),
                            VertexCustomJobBackend(experiment))
    relaunches, warnings, deadline = [], [], time.monotonic() + 120
    while (result := reconciler.run_pass()).state.experiment.phase not in (PHASE_SUCCEEDED, PHASE_FAILED):
        relaunches += [action for action in result.plan.actions if action.kind == RELAUNCH]
        warnings += status_view(experiment, result.state)["warnings"]
        assert time.monotonic() < deadline, "the experiment did not finish"
        time.sleep(0.2)

    assert result.state.experiment.phase == PHASE_SUCCEEDED, result.state.experiment.conditions
    assert len(relaunches) == 3 and all("stockout" in action.reason for action in relaunches)
    assert all("Resources are insufficient in region: us-central1" in action.record.message for action in relaunches)
    assert any("unfinished trial(s) were relaunched after a stockout" in line for line in warnings), warnings
    assert status_view(experiment, result.state)["warnings"] == []  # none once they have finished
    trials = list(result.state.trials.values())
    assert len(trials) == 3 and all(t.status == SUCCEEDED and t.attempt == 1 for t in trials)
    jobs = list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))
    turned_away = [job for job in jobs if job.state.name == "JOB_STATE_FAILED"]
    assert len(jobs) == 6 and len(turned_away) == 3 and all(job.error.code == 8 for job in turned_away)


def test_flex_start_trials_queue_through_a_stockout_without_a_relaunch(make_vertex, gcs_bucket) -> None:
    vertex = make_vertex(quotas={("us-central1", "NVIDIA_TESLA_A100"): 4})
    vertex.capacity.stockout("us-central1", "NVIDIA_TESLA_A100", jobs=4, wait_seconds=0.5)
    machine = {"machineType": "a2-highgpu-1g", "acceleratorType": "NVIDIA_TESLA_A100", "acceleratorCount": 1,
               "schedulingStrategy": "FLEX_START", "maxWaitSeconds": 3600}
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=3, parallel=2,
                                   search={"maxFailedTrials": 0}, backend={"search": machine})
    reconciler = Reconciler(experiment, open_store(experiment.spec.state_uri, experiment.metadata.name),
                            VertexCustomJobBackend(experiment))
    deadline = time.monotonic() + 120
    while (result := reconciler.run_pass()).state.experiment.phase not in (PHASE_SUCCEEDED, PHASE_FAILED):
        assert not [action for action in result.plan.actions if action.kind == RELAUNCH]
        assert time.monotonic() < deadline, "the experiment did not finish"
        time.sleep(0.2)

    assert result.state.experiment.phase == PHASE_SUCCEEDED, result.state.experiment.conditions
    jobs = list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))
    assert len(jobs) == 3 and {job.state.name for job in jobs} == {"JOB_STATE_SUCCEEDED"}  # one job a trial
    assert all(job.job_spec.scheduling.strategy.name == "FLEX_START" for job in jobs)
    queued = max(job.start_time.timestamp() - job.create_time.timestamp() for job in jobs)
    assert queued >= 0.5, "a job waited out the stockout in PENDING"


@pytest.mark.parametrize("short", [("NVIDIA_TESLA_T4", 1), ("CPUS", 4)], ids=["gpus", "cpus"])
def test_trials_whose_jobs_vertex_queues_for_quota_are_noted_until_they_start(
        make_vertex, gcs_bucket, monkeypatch: pytest.MonkeyPatch, short: tuple[str, int]) -> None:
    """Vertex keeps a job QUEUED while the project lacks its quota: such a trial counts as running, so `status` says
    it waits and names the quotas to request; the note goes once the job starts."""
    monkeypatch.setattr(plan, "QUOTA_WAIT_SECONDS", 0.5)  # Vertex queues every job briefly; the test cannot wait 10 min
    quota, limit = short
    vertex = make_vertex(quotas={("us-central1", quota): limit})  # one trial's T4, or n1-standard-4's vCPUs
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=2, parallel=2,
                                   search={"trainerArgs": {"mode": "proxy", "delaySeconds": 3}})
    reconciler = Reconciler(experiment, open_store(experiment.spec.state_uri, experiment.metadata.name),
                            VertexCustomJobBackend(experiment))
    notes, warnings, deadline = [], [], time.monotonic() + 120
    while (result := reconciler.run_pass()).state.experiment.phase not in (PHASE_SUCCEEDED, PHASE_FAILED):
        notes += [a.record.message for a in result.plan.actions if a.kind == plan.RECORD and a.record.status == "running"]
        warnings += status_view(experiment, result.state)["warnings"]
        assert time.monotonic() < deadline, "the experiment did not finish"
        time.sleep(0.2)

    assert result.state.experiment.phase == PHASE_SUCCEEDED, result.state.experiment.conditions
    assert len(notes) == 2 and notes[0].startswith("queued for quota: Vertex keeps projects/") and notes[1] == "", notes
    assert any("1 unfinished trial(s) are queued for quota" in line and
               "request more of the quota they lack (aiplatform.googleapis.com/custom_model_training_cpus or "
               "aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus) or lower parallelTrials" in line
               for line in warnings), warnings
    assert status_view(experiment, result.state)["warnings"] == []
    assert all(t.status == SUCCEEDED and t.message == "" for t in result.state.trials.values())
