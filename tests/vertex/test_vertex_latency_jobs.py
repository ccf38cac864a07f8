"""On Vertex, apply starts one latency-calculator CustomJob per running trial that saved its model."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from reconciler.backends.vertex import VertexCustomJobBackend
from reconciler.gcs_store import make_client
from specs.model import NASExperiment
from vertex_server import VertexServer


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
    make_client().bucket(bucket).blob(f"staging/demo/{trial_id}/model.json").upload_from_string(json.dumps({}))


def test_one_calculator_job_per_trial_with_a_saved_model(server: VertexServer, gcs_bucket: str) -> None:
    experiment = _experiment(server.endpoint, gcs_bucket)
    vertex = VertexCustomJobBackend(experiment)
    vertex.reconcile_helpers(["search-0000", "search-0001"])
    assert server.creates("customJobs") == [], "no saved model yet: nothing to measure"

    _save_model(gcs_bucket, "search-0000")
    vertex.reconcile_helpers(["search-0000", "search-0001"])
    (body,) = server.creates("customJobs")
    assert body["labels"] == {"nasctl-exp": "demo", "nasctl-key": "demo-search-0000-latency",
                              "nasctl-stage": "latency"}
    (pool,) = body["jobSpec"]["workerPoolSpecs"]
    assert pool["machineSpec"] == {"machineType": "n1-standard-4"}
    assert pool["containerSpec"]["args"] == ["-m", "latency.calculator", f"/gcs/{gcs_bucket}/staging/demo/search-0000"]

    VertexCustomJobBackend(experiment).reconcile_helpers(["search-0000"])  # the next apply: adopts by label
    assert len(server.creates("customJobs")) == 1

    make_client().bucket(gcs_bucket).blob("staging/demo/search-0001/latency.json").upload_from_string("{}")
    _save_model(gcs_bucket, "search-0001")
    vertex.reconcile_helpers(["search-0001"])
    assert len(server.creates("customJobs")) == 1, "already measured: no calculator"


def test_without_a_latency_machine_no_calculator_runs(server: VertexServer, gcs_bucket: str) -> None:
    _save_model(gcs_bucket, "search-0000")
    VertexCustomJobBackend(_experiment(server.endpoint, gcs_bucket, with_latency=False)).reconcile_helpers(
        ["search-0000"])
    assert server.creates("customJobs") == []
