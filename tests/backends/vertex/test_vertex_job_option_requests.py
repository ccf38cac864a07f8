"""The Vertex job options travel in every request nasctl sends (CustomJob trials, latency jobs, a NasJob's
trial specs), the emulator parses them into the real protos and keeps them, multi-replica trials run
every replica and give one result (a 2-replica JAX trial trains across both; a 2-replica NasJob trial reports
one metric, its chief's), a preempted Spot trial is
restarted, and a quota refusal is final (rate limits are still retried) and ends `apply` with one line
saying to request more quota."""
from __future__ import annotations

import json
import time

import pyglove as pg
import pytest
import yaml
from google.api_core import exceptions
from typer.testing import CliRunner

from adaptors.gcp import storage_client
from backends.base import FINISHED
from backends.vertex.calls import QuotaExhausted
from backends.vertex.custom_jobs import VertexCustomJobBackend
from backends.vertex.requests import nas_job, parent
from nasctl.cli import app
from reconciler.nas_job import NasJobReconciler
from search_spaces.registry import build_search_space
from specs.model import SearchSpaceSpec
from state.uri import open_store
from tests.support.trainer_fixtures import FAST_ARGS, TINY_ARCH
from tests.support.vertex_emulated import vertex_experiment
from trial.protocol import SUCCEEDED
from vertex_emulator.nas import metrics_file

KEY = "projects/proj/locations/us-central1/keyRings/nas/cryptoKeys/jobs"
NETWORK = "projects/123456789/global/networks/nas-vpc"
OPTIONS = {"network": NETWORK, "reservedIpRanges": ["vertex-range"], "encryptionSpec": {"kmsKeyName": KEY},
           "pscInterfaceConfig": {"networkAttachment": "nas-attachment"}}
SEARCH_MACHINE = {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1,
                  "hoursPerTrial": 1}
FLEX_MACHINE = {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1}
TRIAL_SPEC = {"id": "search-0000", "stage": "search", "experiment": "demo", "arch": None, "dna": [1, 2, 3, 0, 1, 2],
              "args": {"mode": "proxy"}, "seed": 0, "trainer": {"prebuilt": "nb201-tabular"}}


def _assert_job_spec(spec, strategy: str, replicas: int, disk: tuple[str, int]) -> None:  # noqa: ANN001
    """The options as read back; `replicas` in Vertex's layout: a chief pool of 1, a pool of the others."""
    assert spec.network == NETWORK and list(spec.reserved_ip_ranges) == ["vertex-range"]
    assert spec.psc_interface_config.network_attachment == "nas-attachment"
    assert spec.scheduling.strategy.name == strategy
    assert [p.replica_count for p in spec.worker_pool_specs] == ([1] if replicas == 1 else [1, replicas - 1])
    assert {(p.disk_spec.boot_disk_type, p.disk_spec.boot_disk_size_gb) for p in spec.worker_pool_specs} == {disk}
    args = {tuple(p.container_spec.args) for p in spec.worker_pool_specs}
    assert len(args) == 1  # the chief and the workers run the same thing


def test_every_request_carries_the_options_and_the_service_keeps_them(make_emulator, gcs_bucket) -> None:
    emulator = make_emulator()
    backend = {**OPTIONS,
               "search": {**SEARCH_MACHINE, "schedulingStrategy": "SPOT", "replicaCount": 3,
                          "bootDiskType": "pd-standard", "bootDiskSizeGb": 200},
               "train": {**FLEX_MACHINE, "schedulingStrategy": "FLEX_START", "maxWaitSeconds": 7200,
                         "bootDiskSizeGb": 500},
               "latency": {"machineType": "n1-standard-4", "bootDiskType": "pd-ssd", "bootDiskSizeGb": 100}}
    experiment = vertex_experiment(emulator.endpoint, gcs_bucket, backend=backend, top_n=1)
    vertex = VertexCustomJobBackend(experiment)
    client = emulator.client()

    trial = client.get_custom_job(name=vertex.launch("search-0000", TRIAL_SPEC)["job"])
    assert trial.encryption_spec.kms_key_name == KEY
    _assert_job_spec(trial.job_spec, "SPOT", 3, ("pd-standard", 200))

    trained = client.get_custom_job(name=vertex.launch("train-0000", {**TRIAL_SPEC, "id": "train-0000",
                                                                      "stage": "train"})["job"])
    _assert_job_spec(trained.job_spec, "FLEX_START", 1, ("", 500))
    assert trained.job_spec.scheduling.max_wait_duration.total_seconds() == 7200

    vertex.start_helper("search-0000")
    (latency,) = [j for j in client.list_custom_jobs(parent=parent(experiment.spec.backend))
                  if j.labels["nasctl-stage"] == "latency"]
    assert latency.encryption_spec.kms_key_name == KEY
    _assert_job_spec(latency.job_spec, "STRATEGY_UNSPECIFIED", 1, ("pd-ssd", 100))

    space = pg.dna_spec(pg.oneof([1, 2])).to_json_str()
    request = nas_job(experiment.spec.backend, "demo", "search-1", algorithm="GRID_SEARCH", search_space_json=space,
                      metric="reward", max_trials=2, parallel_trials=1, max_failed_trials=0, labels={},
                      train_trials=1)
    created = client.create_nas_job(parent=parent(experiment.spec.backend), nas_job=request)
    client.cancel_nas_job(name=created.name)
    read = client.get_nas_job(name=created.name)
    assert read.encryption_spec.kms_key_name == KEY
    algo = read.nas_job_spec.multi_trial_algorithm_spec
    _assert_job_spec(algo.search_trial_spec.search_trial_job_spec, "SPOT", 3, ("pd-standard", 200))
    _assert_job_spec(algo.train_trial_spec.train_trial_job_spec, "FLEX_START", 1, ("", 500))
    timeouts = [spec.scheduling.timeout.total_seconds() for spec in (
        algo.search_trial_spec.search_trial_job_spec, algo.train_trial_spec.train_trial_job_spec)]
    assert timeouts == [14 * 24 * 3600, 7 * 24 * 3600]  # 14 days, as Google's client sends; FLEX_START takes 7


def test_the_service_refuses_a_key_of_another_region_and_a_disk_out_of_bounds(make_emulator, gcs_bucket) -> None:
    emulator = make_emulator()
    experiment = vertex_experiment(emulator.endpoint, gcs_bucket, backend=OPTIONS)
    client = emulator.client()
    job = client.get_custom_job(name=VertexCustomJobBackend(experiment).launch("search-0000", TRIAL_SPEC)["job"])
    job.name = ""
    job.encryption_spec.kms_key_name = KEY.replace("us-central1", "europe-west4")
    with pytest.raises(exceptions.BadRequest, match="must be in us-central1"):
        client.create_custom_job(parent=parent(experiment.spec.backend), custom_job=job)
    job.encryption_spec.kms_key_name = KEY
    job.job_spec.worker_pool_specs[0].disk_spec.boot_disk_size_gb = 50
    with pytest.raises(exceptions.BadRequest, match="boot_disk_size_gb must be between 100 and 64000"):
        client.create_custom_job(parent=parent(experiment.spec.backend), custom_job=job)


def test_a_trial_larger_than_the_quota_fails_at_once_and_rate_limits_are_still_retried(vertex, gcs_bucket) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket,  # 3 replicas × 2 T4 = 6 > the quota of 4
                                   backend={"search": {**SEARCH_MACHINE, "acceleratorCount": 2, "replicaCount": 3}})
    backend = VertexCustomJobBackend(experiment)
    started = time.monotonic()
    with pytest.raises(QuotaExhausted, match="custom_model_training_nvidia_t4_gpus.*Request more quota"):
        backend.launch("search-0000", TRIAL_SPEC)
    assert backend.calls.retries == 0 and time.monotonic() - started < 5
    assert not list(vertex.client().list_custom_jobs(parent=parent(experiment.spec.backend)))

    fitting = VertexCustomJobBackend(vertex_experiment(vertex.endpoint, gcs_bucket))
    vertex.faults.fail_next(2, http=429, method="CreateCustomJob")  # "Quota exceeded for ... requests": rate limit
    fitting.launch("search-0000", TRIAL_SPEC)
    assert fitting.calls.retries == 2


def _finished(backend: VertexCustomJobBackend, trial_id: str, timeout: float = 90.0):  # noqa: ANN202
    deadline = time.monotonic() + timeout
    while (seen := backend.observe(trial_id)).state != FINISHED:
        assert time.monotonic() < deadline, f"{trial_id} still {seen.state}"
        time.sleep(0.2)
    return seen


@pytest.mark.slow
def test_a_two_replica_trial_runs_both_replicas_and_records_one_result(vertex, gcs_bucket) -> None:
    backend = VertexCustomJobBackend(vertex_experiment(vertex.endpoint, gcs_bucket,
                                                       backend={"search": {**SEARCH_MACHINE, "replicaCount": 2}}))
    space = build_search_space(SearchSpaceSpec(prebuilt="nb201"))
    arch = space.materialize(space.dna(TRIAL_SPEC["dna"]))
    job = backend.launch("search-0000", {**TRIAL_SPEC, "arch": arch})["job"]
    seen = _finished(backend, "search-0000")
    assert seen.result.status == SUCCEEDED and "accuracy" in seen.result.metrics, seen.result
    logs = sorted(p.name for p in vertex.job_dir(job).glob("workerpool*.log"))
    assert logs == ["workerpool0-0.log", "workerpool1-0.log"]
    assert backend.trial_dir("search-0000").read_result() == seen.result


@pytest.mark.slow
def test_a_two_replica_nas_job_trial_reports_one_metric_the_chiefs(vertex, gcs_bucket) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="REINFORCEMENT_LEARNING", max_trials=1,
                                   parallel=1, backend={"search": {**SEARCH_MACHINE, "replicaCount": 2}})
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    summary = NasJobReconciler(experiment, store).run_pass().state.experiment.stages["search"]["summary"]
    client = vertex.client()
    deadline = time.monotonic() + 90
    while (state := client.get_nas_job(name=summary["nasJob"]).state.name) != "JOB_STATE_SUCCEEDED":
        assert time.monotonic() < deadline and state != "JOB_STATE_FAILED", state
        time.sleep(0.2)
    (detail,) = client.list_nas_trial_details(parent=summary["nasJob"])
    trial_dir = vertex.job_dir(summary["nasJob"]) / "search" / detail.search_trial.id
    assert sorted(p.name for p in trial_dir.glob("workerpool*.log")) == ["workerpool0-0.log", "workerpool1-0.log"]
    (record,) = [json.loads(line) for line in metrics_file(trial_dir, "workerpool0-0").read_text().splitlines()]
    assert not metrics_file(trial_dir, "workerpool1-0").exists(), "the worker reports nothing"
    (metric,) = detail.search_trial.final_measurement.metrics
    assert metric.value == pytest.approx(float(record["accuracy"]))


@pytest.mark.slow  # two JAX trial processes joined by jax.distributed through the emulator's cluster
def test_a_two_replica_image_classifier_trial_trains_across_both_replicas(vertex, gcs_bucket) -> None:
    backend = VertexCustomJobBackend(vertex_experiment(vertex.endpoint, gcs_bucket,
                                                       backend={"search": {**SEARCH_MACHINE, "replicaCount": 2}}))
    spec = {**TRIAL_SPEC, "arch": TINY_ARCH, "dna": None, "trainer": {"prebuilt": "image-classifier"},
            "args": {**FAST_ARGS, "steps": 8, "evalEvery": 4, "batchSize": 16}}
    backend.launch("search-0000", spec)
    seen = _finished(backend, "search-0000", timeout=240)
    assert seen.result.status == SUCCEEDED and 0 <= seen.result.metrics["accuracy"] <= 1, seen.result
    assert [c["step"] for c in backend.trial_dir("search-0000").read_metrics()] == [4, 8]  # process 0 alone reports
    last_checkpoint = "staging/demo/search-0000/checkpoints/8/state"
    shards = storage_client().list_blobs(gcs_bucket, prefix=f"{last_checkpoint}/array_metadatas/")
    assert sorted(blob.name.rsplit("/", 1)[1] for blob in shards) == ["process_0", "process_1"]  # both hosts saved


@pytest.mark.slow
def test_a_preempted_spot_trial_is_restarted_and_counted_once(vertex, gcs_bucket) -> None:
    backend = VertexCustomJobBackend(vertex_experiment(vertex.endpoint, gcs_bucket, backend={
        "search": {**SEARCH_MACHINE, "schedulingStrategy": "SPOT"}}))
    spec = {**TRIAL_SPEC, "trainer": {"command": ["sh", "-c", 'echo started >> "$NASCTL_TRIAL_DIR/starts"; sleep 2']}}
    job = backend.launch("search-0000", spec)["job"]
    starts = storage_client().bucket(gcs_bucket).blob("staging/demo/search-0000/starts")
    deadline = time.monotonic() + 30
    while not starts.exists():  # the trainer is under way
        assert time.monotonic() < deadline
        time.sleep(0.05)
    vertex.preempt(job)
    seen = _finished(backend, "search-0000")
    assert seen.result.status == SUCCEEDED, seen.result
    client = vertex.client()
    assert len(list(client.list_custom_jobs(parent=parent(backend.spec)))) == 1  # Vertex restarted the worker
    assert starts.download_as_text().split() == ["started", "started"]


def test_apply_stops_at_a_quota_refusal_with_one_line_saying_to_request_more(vertex, gcs_bucket, tmp_path) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket,
                                   backend={"search": {**SEARCH_MACHINE, "acceleratorCount": 2, "replicaCount": 3}})
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment.model_dump(mode="json", by_alias=True)))
    result = CliRunner().invoke(app, ["apply", "-f", str(path), "--yes"], env={"COLUMNS": "500"})
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "Vertex AI quota exhausted" in line and "Request more quota" in line
    assert "Traceback" not in result.output
