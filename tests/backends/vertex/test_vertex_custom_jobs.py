"""The CustomJob backend against the real JobServiceClient (REST) and a loopback Vertex server."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.base import ALIVE, FINISHED, LOST, NOT_LAUNCHED
from backends.vertex.custom_jobs import VertexCustomJobBackend
from backends.vertex.labels import experiment_identity, job_key, label_value
from adaptors.gcp import storage_client
from specs.model import NASExperiment
from trial.protocol import StopSignal
from tests.support.vertex_server import VertexServer

PARENT = "/v1/projects/proj/locations/us-central1"


@pytest.fixture
def server() -> Iterator[VertexServer]:
    with VertexServer() as vertex:
        yield vertex


def _experiment(endpoint: str, bucket: str) -> NASExperiment:
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "demo"},
        "spec": {
            "stateUri": f"gs://{bucket}/state",
            "backend": {"type": "vertex", "project": "proj", "region": "us-central1", "apiEndpoint": endpoint,
                        "serviceAccount": "runner@proj.iam.gserviceaccount.com",
                        "containerImage": "us-docker.pkg.dev/proj/nasctl/trainer:1",
                        "stagingUri": f"gs://{bucket}/staging",
                        "search": {"machineType": "n1-highmem-16", "acceleratorType": "NVIDIA_TESLA_T4",
                                   "acceleratorCount": 2}},
            "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
            "search": {"maxTrials": 4, "parallelTrials": 2, "timeoutSeconds": 600},
        },
    })


@pytest.fixture
def backend(server: VertexServer, gcs_bucket: str) -> tuple[VertexCustomJobBackend, NASExperiment, str]:
    experiment = _experiment(server.endpoint, gcs_bucket)
    return VertexCustomJobBackend(experiment), experiment, gcs_bucket


TRIAL_SPEC: dict[str, Any] = {"id": "search-0000", "stage": "search", "experiment": "demo", "arch": {"op": 1},
                              "dna": [1], "args": {"mode": "proxy"}, "seed": 0,
                              "trainer": {"prebuilt": "nb201-tabular"}}


def _write_blob(bucket: str, path: str, data: Any) -> None:
    storage_client().bucket(bucket).blob(path).upload_from_string(json.dumps(data))


def test_launch_sends_the_custom_job_and_writes_the_trial_spec(backend, server: VertexServer) -> None:
    from google.cloud import aiplatform_v1

    vertex, _, bucket = backend
    ref = vertex.launch("search-0000", TRIAL_SPEC)
    (body,) = server.creates("customJobs")
    assert server.requests[-1].path == f"{PARENT}/customJobs"
    identity = experiment_identity(f"gs://{bucket}/state", "demo")
    assert body["labels"] == {"nasctl-exp": "demo", "nasctl-id": identity, "nasctl-key": "demo-search-0000",
                              "nasctl-stage": "search"}
    (pool,) = body["jobSpec"]["workerPoolSpecs"]
    assert pool["machineSpec"] == {"machineType": "n1-highmem-16", "acceleratorCount": 2,
                                   "acceleratorType": aiplatform_v1.AcceleratorType.NVIDIA_TESLA_T4.value}
    assert pool["containerSpec"] == {
        "imageUri": "us-docker.pkg.dev/proj/nasctl/trainer:1",
        "args": ["python", "-m", "trial.runner", f"/gcs/{bucket}/staging/demo/search-0000"]}
    assert body["jobSpec"]["serviceAccount"] == "runner@proj.iam.gserviceaccount.com"
    assert body["jobSpec"]["scheduling"]["timeout"] == "600s"
    assert body["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"] == f"gs://{bucket}/staging/demo/search-0000"
    assert ref["job"].startswith("projects/proj/locations/us-central1/customJobs/")
    written = storage_client().bucket(bucket).blob("staging/demo/search-0000/trial.json").download_as_bytes()
    assert json.loads(written) == TRIAL_SPEC


def test_a_crash_between_launch_and_record_adopts_instead_of_duplicating(backend, server: VertexServer) -> None:
    vertex, experiment, _ = backend
    name = vertex.launch("search-0000", TRIAL_SPEC)["job"]  # the job exists; "apply" died before recording it
    server.set_state(name, "JOB_STATE_RUNNING")
    fresh = VertexCustomJobBackend(experiment)  # the next apply: a new process with no memory
    assert fresh.observe("search-0000").state == ALIVE
    ref = fresh.launch("search-0000", TRIAL_SPEC)
    assert ref["adopted"] is True
    assert len(server.creates("customJobs")) == 1
    filters = [r.query.get("filter", [""])[0] for r in server.requests if r.method == "GET" and "filter" in r.query]
    identity = experiment_identity(experiment.spec.state_uri, "demo")
    assert f'labels.nasctl-id="{identity}" AND labels.nasctl-key="demo-search-0000"' in filters


def test_status_mapping(backend, server: VertexServer) -> None:
    vertex, experiment, bucket = backend
    assert vertex.observe("search-0001").state == NOT_LAUNCHED
    names = {}
    for trial in ("search-0001", "search-0002", "search-0003"):
        names[trial] = vertex.launch(trial, {**TRIAL_SPEC, "id": trial})["job"]
    assert vertex.observe("search-0001").state == ALIVE  # pending counts as alive

    server.set_state(names["search-0001"], "JOB_STATE_SUCCEEDED")
    _write_blob(bucket, "staging/demo/search-0001/result.json",
                {"status": "succeeded", "metrics": {"accuracy": 0.9}, "message": ""})
    _write_blob(bucket, "staging/demo/search-0001/latency.json", {"latency_ms": 12.5, "device_type": "cpu"})
    storage_client().bucket(bucket).blob("staging/demo/search-0001/metrics.jsonl").upload_from_string(
        '{"step": 1, "fraction": 0.5, "seconds": 1.0, "metrics": {"accuracy": 0.5}}\n{"step": 2, "fra')
    done = vertex.observe("search-0001")
    assert done.state == FINISHED and done.result is not None
    assert done.result.metrics == {"accuracy": 0.9, "latency_ms": 12.5}
    assert [c["step"] for c in done.cycles] == [1]  # the torn last line is ignored

    server.set_state(names["search-0002"], "JOB_STATE_FAILED", error="OOM on worker 0")
    failed = vertex.observe("search-0002")
    assert failed.state == FINISHED and failed.result is not None
    assert failed.result.status == "failed" and "OOM on worker 0" in failed.result.message

    server.set_state(names["search-0003"], "JOB_STATE_CANCELLED")
    assert VertexCustomJobBackend(experiment).observe("search-0003").state == LOST
    relaunched = vertex.launch("search-0003", {**TRIAL_SPEC, "id": "search-0003"})
    assert relaunched["job"] != names["search-0003"] and "adopted" not in relaunched
    assert VertexCustomJobBackend(experiment).observe("search-0003").state == ALIVE  # follows the newest job


def test_stop_cancels_only_live_jobs(backend, server: VertexServer) -> None:
    vertex, _, _ = backend
    name = vertex.launch("search-0000", TRIAL_SPEC)["job"]
    vertex.stop("search-0000", "timeout")
    assert server.jobs[name]["state"] == "JOB_STATE_CANCELLED"
    vertex.stop("search-0000", "timeout")
    cancels = [r for r in server.requests if r.path.endswith(":cancel")]
    assert [r.path for r in cancels] == [f"/v1/{name}:cancel"]
    vertex.stop("search-0009", "never launched")  # no job: no error, no request
    assert len([r for r in server.requests if r.path.endswith(":cancel")]) == 1


def test_signal_writes_the_stop_file(backend) -> None:
    vertex, _, bucket = backend
    vertex.signal("search-0000", StopSignal(desired_fraction=0.0, max_seconds=None))
    raw = storage_client().bucket(bucket).blob("staging/demo/search-0000/stop.json").download_as_bytes()
    assert json.loads(raw) == {"desired_fraction": 0.0, "max_seconds": None}


_LABEL_RE = re.compile(r"^[a-z0-9_-]{1,63}$")


@given(st.text(min_size=0, max_size=200))
def test_label_values_are_always_valid_and_deterministic(text: str) -> None:
    value = label_value(text)
    assert _LABEL_RE.match(value) and value == label_value(text)


@given(st.text(max_size=80), st.text(max_size=80))
def test_distinct_texts_get_distinct_labels(a: str, b: str) -> None:
    if a != b:
        assert label_value(a) != label_value(b)


def test_long_keys_stay_unique_and_readable() -> None:
    name = "a" * 63
    keys = {job_key(name, f"search-{i:04d}") for i in range(50)}
    assert len(keys) == 50 and all(len(k) <= 63 and k.startswith("aaaa") for k in keys)


def test_backend_module_does_not_import_aiplatform_eagerly() -> None:
    code = "import sys, backends.vertex.custom_jobs; print('google.cloud.aiplatform_v1' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
