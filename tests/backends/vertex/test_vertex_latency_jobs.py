"""On Vertex, apply starts one latency-calculator CustomJob per running trial that saved its model (through the
real JobServiceClient against the Vertex emulator; the jobs run the scripted image until the test ends)."""
from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from adaptors.gcp import storage_client
from backends.vertex.custom_jobs import VertexCustomJobBackend
from backends.vertex.labels import experiment_identity
from specs.model import NASExperiment
from tests.support.scripted_trainer import scripted_entrypoint
from tests.support.vertex_emulated import IMAGE, vertex_experiment
from vertex_emulator import VertexEmulator


@pytest.fixture
def vertex(make_emulator: Callable[..., VertexEmulator]) -> VertexEmulator:
    return make_emulator(image_entrypoints={IMAGE: scripted_entrypoint()})


def _experiment(endpoint: str, bucket: str, with_latency: bool = True, **machine: object) -> NASExperiment:
    return vertex_experiment(endpoint, bucket, backend={"latency": {"machineType": "n1-standard-4", **machine}}
                             if with_latency else None)


def _save_model(bucket: str, trial_id: str) -> None:
    storage_client().bucket(bucket).blob(f"staging/demo/{trial_id}/model.json").upload_from_string(json.dumps({}))


def _latency_jobs(vertex: VertexEmulator) -> list:
    return list(vertex.client().list_custom_jobs(request={"parent": "projects/proj/locations/us-central1",
                                                          "filter": 'labels.nasctl-stage="latency"'}))


def reconcile_helpers(backend: VertexCustomJobBackend, running: list[str]) -> None:
    """What a pass does: the plan starts a helper for each running trial that wants one and has none."""
    wanted, live = backend.observe_helpers(running)
    for trial_id in sorted(wanted - live):
        backend.start_helper(trial_id)


def test_one_calculator_job_per_trial_with_a_saved_model(vertex: VertexEmulator, gcs_bucket: str) -> None:
    experiment = _experiment(vertex.endpoint, gcs_bucket)
    runner = VertexCustomJobBackend(experiment)
    reconcile_helpers(runner, ["search-0000", "search-0001"])
    assert _latency_jobs(vertex) == [], "no saved model yet: nothing to measure"

    _save_model(gcs_bucket, "search-0000")
    reconcile_helpers(runner, ["search-0000", "search-0001"])
    (job,) = _latency_jobs(vertex)
    assert dict(job.labels) == {"nasctl-exp": "demo", "nasctl-stage": "latency", "nasctl-key": "demo-search-0000-latency",
                                "nasctl-id": experiment_identity(experiment.spec.state_uri, "demo")}
    (pool,) = job.job_spec.worker_pool_specs
    assert pool.machine_spec.machine_type == "n1-standard-4" and not pool.machine_spec.accelerator_count
    assert list(pool.container_spec.args) == ["python", "-m", "trainers_jax.latency_calculator",
                                              f"/gcs/{gcs_bucket}/staging/demo/search-0000"]

    reconcile_helpers(VertexCustomJobBackend(experiment), ["search-0000"])  # the next apply: adopts by label
    assert [j.name for j in _latency_jobs(vertex)] == [job.name]

    storage_client().bucket(gcs_bucket).blob("staging/demo/search-0001/latency.json").upload_from_string("{}")
    _save_model(gcs_bucket, "search-0001")
    reconcile_helpers(runner, ["search-0001"])
    assert len(_latency_jobs(vertex)) == 1, "already measured: no calculator"


def test_a_calculator_job_turned_away_by_a_stockout_is_started_again(vertex: VertexEmulator, gcs_bucket: str) -> None:
    vertex.capacity.stockout("us-central1", "NVIDIA_TESLA_T4", jobs=1, wait_seconds=0)
    experiment = _experiment(vertex.endpoint, gcs_bucket, acceleratorType="NVIDIA_TESLA_T4", acceleratorCount=1)
    runner = VertexCustomJobBackend(experiment)
    _save_model(gcs_bucket, "search-0000")
    reconcile_helpers(runner, ["search-0000"])
    (first,) = _latency_jobs(vertex)
    deadline = time.monotonic() + 20
    while vertex.client().get_custom_job(name=first.name).state.name != "JOB_STATE_FAILED":
        assert time.monotonic() < deadline, "the stockout did not fail the job"
        time.sleep(0.05)
    reconcile_helpers(runner, ["search-0000"])
    reconcile_helpers(VertexCustomJobBackend(experiment), ["search-0000"])  # the next apply adopts the new one
    jobs = {job.name: job for job in _latency_jobs(vertex)}
    assert len(jobs) == 2 and jobs[first.name].error.code == 8
    (second,) = set(jobs) - {first.name}
    assert jobs[second].state.name != "JOB_STATE_FAILED"


def test_without_a_latency_machine_no_calculator_runs(vertex: VertexEmulator, gcs_bucket: str) -> None:
    _save_model(gcs_bucket, "search-0000")
    reconcile_helpers(VertexCustomJobBackend(_experiment(vertex.endpoint, gcs_bucket, with_latency=False)),
                      ["search-0000"])
    assert list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1")) == []
