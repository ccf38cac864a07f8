"""The CustomJob backend through the real JobServiceClient (REST) against the Vertex emulator: what the jobs
are (read back from the service), adoption by labels, how job outcomes become trial observations, cancelling.
The jobs run the scripted image (tests/support/scripted_trainer.py): a trial exits as told or runs until cancelled."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptors.gcp import storage_client
from backends.base import ALIVE, FINISHED, LOST, NOT_LAUNCHED
from backends.vertex.custom_jobs import ForeignJob, VertexCustomJobBackend
from backends.vertex.labels import experiment_identity, job_key, label_value
from specs.model import NASExperiment
from tests.support.scripted_trainer import scripted_entrypoint
from tests.support.vertex_emulated import IMAGE, vertex_experiment
from trial.protocol import StopSignal
from vertex_emulator import VertexEmulator

SERVICE_ACCOUNT = "runner@proj.iam.gserviceaccount.com"
EXIT_CODES = {"search-0001": 0, "search-0002": 3}  # every other trial runs until cancelled
TRIAL_SPEC: dict[str, Any] = {"id": "search-0000", "stage": "search", "experiment": "demo", "arch": {"op": 1},
                              "dna": [1], "args": {"mode": "proxy"}, "seed": 0,
                              "trainer": {"prebuilt": "nb201-tabular"}}


def _experiment(endpoint: str, bucket: str, state_prefix: str = "state") -> NASExperiment:
    return vertex_experiment(endpoint, bucket, max_trials=4, parallel=2, state_prefix=state_prefix,
                             search={"timeoutSeconds": 600},
                             backend={"serviceAccount": SERVICE_ACCOUNT,
                                      "search": {"machineType": "n1-highmem-16", "acceleratorType": "NVIDIA_TESLA_T4",
                                                 "acceleratorCount": 2}})


@pytest.fixture
def vertex(make_emulator: Callable[..., VertexEmulator]) -> VertexEmulator:
    return make_emulator(image_entrypoints={IMAGE: scripted_entrypoint(EXIT_CODES)})


@pytest.fixture
def backend(vertex: VertexEmulator, gcs_bucket: str) -> tuple[VertexCustomJobBackend, NASExperiment, str]:
    experiment = _experiment(vertex.endpoint, gcs_bucket)
    return VertexCustomJobBackend(experiment), experiment, gcs_bucket


def _custom_jobs(vertex: VertexEmulator) -> list:
    return list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))


def _wait_state(vertex: VertexEmulator, name: str, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (now := vertex.client().get_custom_job(name=name).state.name) != state:
        assert time.monotonic() < deadline, f"{name} still {now}, not {state}"
        time.sleep(0.05)


def _write_blob(bucket: str, path: str, data: Any) -> None:
    storage_client().bucket(bucket).blob(path).upload_from_string(json.dumps(data))


def test_launch_creates_the_custom_job_and_writes_the_trial_spec(backend, vertex: VertexEmulator) -> None:
    from google.cloud import aiplatform_v1

    runner, _, bucket = backend
    ref = runner.launch("search-0000", TRIAL_SPEC)
    (job,) = _custom_jobs(vertex)  # as the service stored it: the emulator parsed and validated the request
    assert job.name == ref["job"] and ref["job"].startswith("projects/proj/locations/us-central1/customJobs/")
    identity = experiment_identity(f"gs://{bucket}/state", "demo")
    assert dict(job.labels) == {"nasctl-exp": "demo", "nasctl-id": identity, "nasctl-key": "demo-search-0000",
                                "nasctl-stage": "search"}
    (pool,) = job.job_spec.worker_pool_specs
    assert (pool.machine_spec.machine_type, pool.machine_spec.accelerator_type, pool.machine_spec.accelerator_count,
            pool.replica_count) == ("n1-highmem-16", aiplatform_v1.AcceleratorType.NVIDIA_TESLA_T4, 2, 1)
    assert pool.container_spec.image_uri == IMAGE
    assert list(pool.container_spec.args) == ["python", "-m", "trial.runner", f"/gcs/{bucket}/staging/demo/search-0000"]
    assert job.job_spec.service_account == SERVICE_ACCOUNT
    assert job.job_spec.scheduling.timeout == timedelta(seconds=600)
    assert job.job_spec.base_output_directory.output_uri_prefix == f"gs://{bucket}/staging/demo/search-0000"
    written = storage_client().bucket(bucket).blob("staging/demo/search-0000/trial.json").download_as_bytes()
    assert json.loads(written) == TRIAL_SPEC


def test_a_crash_between_launch_and_record_adopts_instead_of_duplicating(backend, vertex: VertexEmulator) -> None:
    runner, experiment, bucket = backend
    name = runner.launch("search-0000", TRIAL_SPEC)["job"]  # the job exists; "apply" died before recording it
    _wait_state(vertex, name, "JOB_STATE_RUNNING")
    fresh = VertexCustomJobBackend(experiment)  # the next apply: a new process with no memory
    assert fresh.observe("search-0000").state == ALIVE
    ref = fresh.launch("search-0000", TRIAL_SPEC)
    assert ref == {"job": name, "trial_dir": f"gs://{bucket}/staging/demo/search-0000", "adopted": True}
    assert [job.name for job in _custom_jobs(vertex)] == [name]
    elsewhere = VertexCustomJobBackend(_experiment(vertex.endpoint, bucket, state_prefix="other-state"))
    assert elsewhere.observe("search-0000").state == NOT_LAUNCHED  # same name, other state: another experiment
    assert "adopted" not in elsewhere.launch("search-0000", TRIAL_SPEC) and len(_custom_jobs(vertex)) == 2


def test_a_live_job_started_for_another_trial_under_the_same_id_is_not_adopted(backend, vertex: VertexEmulator) -> None:
    runner, experiment, bucket = backend
    name = runner.launch("search-0000", TRIAL_SPEC)["job"]
    # the state is removed while the job runs, the spec changes, and search-0000 is now another architecture
    with pytest.raises(ForeignJob, match=rf"{name} runs trial search-0000 with another dna, seed than the state"):
        VertexCustomJobBackend(experiment).launch("search-0000", {**TRIAL_SPEC, "dna": [2], "seed": 7})
    assert [job.name for job in _custom_jobs(vertex)] == [name]  # nothing launched beside it
    written = storage_client().bucket(bucket).blob("staging/demo/search-0000/trial.json").download_as_bytes()
    assert json.loads(written) == TRIAL_SPEC  # the running job's spec is left as it is


def test_job_outcomes_become_trial_observations(backend, vertex: VertexEmulator) -> None:
    runner, experiment, bucket = backend
    assert runner.observe("search-0001").state == NOT_LAUNCHED
    names = {trial: runner.launch(trial, {**TRIAL_SPEC, "id": trial})["job"]
             for trial in ("search-0001", "search-0002", "search-0003")}
    assert runner.observe("search-0003").state == ALIVE  # queued or pending counts as alive

    _write_blob(bucket, "staging/demo/search-0001/result.json",
                {"status": "succeeded", "metrics": {"accuracy": 0.9}, "message": ""})
    _write_blob(bucket, "staging/demo/search-0001/latency.json", {"latency_ms": 12.5, "device_type": "cpu"})
    storage_client().bucket(bucket).blob("staging/demo/search-0001/metrics.jsonl").upload_from_string(
        '{"step": 1, "fraction": 0.5, "seconds": 1.0, "metrics": {"accuracy": 0.5}}\n{"step": 2, "fra')
    _wait_state(vertex, names["search-0001"], "JOB_STATE_SUCCEEDED")  # its process exited 0
    done = runner.observe("search-0001")
    assert done.state == FINISHED and done.result is not None
    assert done.result.metrics == {"accuracy": 0.9, "latency_ms": 12.5}
    assert [c["step"] for c in done.cycles] == [1]  # the torn last line is ignored
    assert done.elapsed_seconds is not None and 0 <= done.elapsed_seconds < 30  # from the job's start and end times

    _wait_state(vertex, names["search-0002"], "JOB_STATE_FAILED")  # exited 3 without a result
    failed = runner.observe("search-0002")
    assert failed.state == FINISHED and failed.result is not None and failed.result.status == "failed"
    assert names["search-0002"] in failed.result.message
    assert "exited with a non-zero status of 3" in failed.result.message  # Vertex's reason, passed on

    _wait_state(vertex, names["search-0003"], "JOB_STATE_RUNNING")
    vertex.client().cancel_custom_job(name=names["search-0003"])  # someone cancels it in the console
    _wait_state(vertex, names["search-0003"], "JOB_STATE_CANCELLED")
    assert VertexCustomJobBackend(experiment).observe("search-0003").state == LOST
    relaunched = runner.launch("search-0003", {**TRIAL_SPEC, "id": "search-0003"})
    assert relaunched["job"] != names["search-0003"] and "adopted" not in relaunched
    assert VertexCustomJobBackend(experiment).observe("search-0003").state == ALIVE  # follows the newest job


def test_stop_cancels_only_live_jobs(backend, vertex: VertexEmulator) -> None:
    runner, _, _ = backend
    name = runner.launch("search-0000", TRIAL_SPEC)["job"]
    _wait_state(vertex, name, "JOB_STATE_RUNNING")
    runner.stop("search-0000", "timeout")
    _wait_state(vertex, name, "JOB_STATE_CANCELLED")  # the running process was stopped
    runner.stop("search-0000", "timeout")  # already cancelled: nothing to do
    runner.stop("search-0009", "never launched")  # no job: no error
    cancels = [r.path for r in vertex.requests if r.path.endswith(":cancel")]
    assert cancels == [f"/v1/{name}:cancel"]


def test_signal_writes_the_stop_file(backend) -> None:
    runner, _, bucket = backend
    runner.signal("search-0000", StopSignal(desired_fraction=0.0, max_seconds=None))
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
