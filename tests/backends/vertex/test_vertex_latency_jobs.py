"""On Vertex, apply starts one latency-calculator CustomJob per running trial that saved its model."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from backends.vertex.labels import experiment_identity
from backends.vertex.custom_jobs import VertexCustomJobBackend
from adaptors.gcp import storage_client
from specs.model import NASExperiment
from tests.support.vertex_server import VertexServer


@pytest.fixture
def server() -> Iterator[VertexServer]:
    with VertexServer() as vertex:
        yield vertex


def _experiment(endpoint: str, bucket: str, with_latency: bool = True) -> NASExperiment:
    backend = {"type": "vertex", "project": "proj", "region": "us-central1", "apiEndpoint": endpoint,
               "containerImage": "img:1", "stagingUri": f"gs://{bucket}/staging"}
    if with_latency:
        backend["latency"] = {"machineType": "n1-standard-4"}
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "demo"},
        "spec": {"stateUri": f"gs://{bucket}/state", "backend": backend, "searchSpace": {"prebuilt": "nb201"},
                 "trainer": {"prebuilt": "image-classifier"}, "search": {"maxTrials": 4, "parallelTrials": 2}},
    })


def _save_model(bucket: str, trial_id: str) -> None:
    storage_client().bucket(bucket).blob(f"staging/demo/{trial_id}/model.json").upload_from_string(json.dumps({}))


def reconcile_helpers(backend: VertexCustomJobBackend, running: list[str]) -> None:
    """What a pass does: the plan starts a helper for each running trial that wants one and has none."""
    wanted, live = backend.observe_helpers(running)
    for trial_id in sorted(wanted - live):
        backend.start_helper(trial_id)


def test_one_calculator_job_per_trial_with_a_saved_model(server: VertexServer, gcs_bucket: str) -> None:
    experiment = _experiment(server.endpoint, gcs_bucket)
    vertex = VertexCustomJobBackend(experiment)
    reconcile_helpers(vertex, ["search-0000", "search-0001"])
    assert server.creates("customJobs") == [], "no saved model yet: nothing to measure"

    _save_model(gcs_bucket, "search-0000")
    reconcile_helpers(vertex, ["search-0000", "search-0001"])
    (body,) = server.creates("customJobs")
    assert body["labels"] == {"nasctl-exp": "demo", "nasctl-id": experiment_identity(experiment.spec.state_uri, "demo"),
                              "nasctl-key": "demo-search-0000-latency", "nasctl-stage": "latency"}
    (pool,) = body["jobSpec"]["workerPoolSpecs"]
    assert pool["machineSpec"] == {"machineType": "n1-standard-4"}
    assert pool["containerSpec"]["args"] == ["python", "-m", "trainers_jax.latency_calculator", f"/gcs/{gcs_bucket}/staging/demo/search-0000"]

    reconcile_helpers(VertexCustomJobBackend(experiment), ["search-0000"])  # the next apply: adopts by label
    assert len(server.creates("customJobs")) == 1

    storage_client().bucket(gcs_bucket).blob("staging/demo/search-0001/latency.json").upload_from_string("{}")
    _save_model(gcs_bucket, "search-0001")
    reconcile_helpers(vertex, ["search-0001"])
    assert len(server.creates("customJobs")) == 1, "already measured: no calculator"


def test_without_a_latency_machine_no_calculator_runs(server: VertexServer, gcs_bucket: str) -> None:
    _save_model(gcs_bucket, "search-0000")
    reconcile_helpers(VertexCustomJobBackend(_experiment(server.endpoint, gcs_bucket, with_latency=False)),
                      ["search-0000"])
    assert server.creates("customJobs") == []
