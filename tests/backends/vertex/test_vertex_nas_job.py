"""Stage 1 as a Vertex NasJob: the request, adoption, resume past 14 days, trial status mapping."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from backends.vertex.nas_search import VertexNasSearch
from adaptors.gcp import storage_client
from state.records import FAILED, PENDING, RUNNING, SUCCEEDED
from specs.model import NASExperiment
from tests.support.vertex_server import VertexServer

SPACE_JSON = json.dumps({"_type": "pyglove.hyper.OneOf", "candidates": [1, 2, 3]})


@pytest.fixture
def server() -> Iterator[VertexServer]:
    with VertexServer() as vertex:
        yield vertex


@pytest.fixture
def bucket(gcs_bucket: str) -> str:
    return gcs_bucket


def _experiment(endpoint: str, with_train: bool = True, bucket: str = "bkt") -> NASExperiment:
    spec = {
        "stateUri": f"gs://{bucket}/state",
        "backend": {"type": "vertex", "project": "proj", "region": "us-central1", "apiEndpoint": endpoint,
                    "containerImage": "img:1", "stagingUri": f"gs://{bucket}/staging",
                    "search": {"machineType": "n1-highmem-16", "acceleratorType": "NVIDIA_TESLA_T4",
                               "acceleratorCount": 2},
                    "train": {"machineType": "n1-highmem-16", "acceleratorType": "NVIDIA_TESLA_T4",
                              "acceleratorCount": 4}},
        "searchSpace": {"prebuilt": "mnasnet"}, "trainer": {"prebuilt": "image-classifier"},
        "reward": {"metric": "reward"},
        "search": {"algorithm": "REINFORCEMENT_LEARNING", "maxTrials": 2000, "parallelTrials": 10,
                   "maxFailedTrials": 400},
    }
    if with_train:
        spec["train"] = {"topN": 10, "parallelTrials": 5, "frequency": 50}
    return NASExperiment.model_validate({"kind": "NASExperiment", "metadata": {"name": "poc"}, "spec": spec})


def test_first_pass_creates_the_nas_job(server: VertexServer, bucket: str) -> None:
    from google.cloud import aiplatform_v1

    status = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    assert status.created and status.resumed_from is None
    (body,) = server.creates("nasJobs")
    assert body["labels"] == {"nasctl-exp": "poc", "nasctl-key": "poc-search", "nasctl-stage": "search"}
    spec = body["nasJobSpec"]
    assert spec["searchSpaceSpec"] == SPACE_JSON and "resumeNasJobId" not in spec
    algo = spec["multiTrialAlgorithmSpec"]
    rl = aiplatform_v1.NasJobSpec.MultiTrialAlgorithmSpec.MultiTrialAlgorithm.REINFORCEMENT_LEARNING
    assert algo["multiTrialAlgorithm"] == rl.value
    assert algo["metric"]["metricId"] == "reward"
    assert algo["metric"]["goal"] == aiplatform_v1.NasJobSpec.MultiTrialAlgorithmSpec.MetricSpec.GoalType.MAXIMIZE.value
    search = algo["searchTrialSpec"]
    assert (search["maxTrialCount"], search["maxParallelTrialCount"], search["maxFailedTrialCount"]) == (2000, 10, 400)
    (pool,) = search["searchTrialJobSpec"]["workerPoolSpecs"]
    assert pool["machineSpec"]["acceleratorCount"] == 2 and pool["containerSpec"]["imageUri"] == "img:1"
    assert pool["containerSpec"]["args"] == [
        "-m", "trial.nas_entry",
        "--experiment-file", f"/gcs/{bucket}/staging/poc/nas/experiment.json", "--stage", "search"]
    output = search["searchTrialJobSpec"]["baseOutputDirectory"]["outputUriPrefix"]
    assert output == f"gs://{bucket}/staging/poc/nas/search"
    written = storage_client().bucket(bucket).blob("staging/poc/nas/experiment.json").download_as_bytes()
    assert NASExperiment.model_validate_json(written) == _experiment(server.endpoint, bucket=bucket)
    train = algo["trainTrialSpec"]
    assert (train["maxParallelTrialCount"], train["frequency"]) == (10, 50)  # Vertex trains the top maxParallelTrialCount
    assert train["trainTrialJobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorCount"] == 4
    assert train["trainTrialJobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"][-2:] == ["--stage", "train"]


def test_without_stage_2_no_train_trial_spec(server: VertexServer, bucket: str) -> None:
    VertexNasSearch(_experiment(server.endpoint, with_train=False, bucket=bucket)).reconcile(SPACE_JSON)
    (body,) = server.creates("nasJobs")
    assert "trainTrialSpec" not in body["nasJobSpec"]["multiTrialAlgorithmSpec"]


def test_next_pass_adopts_the_job_instead_of_creating_another(server: VertexServer, bucket: str) -> None:
    first = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    server.set_state(first.job, "JOB_STATE_RUNNING")
    again = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    assert not again.created and again.job == first.job and again.state == "JOB_STATE_RUNNING"
    assert len(server.creates("nasJobs")) == 1
    filters = [r.query["filter"][0] for r in server.requests if r.path.endswith("/nasJobs") and r.method == "GET"]
    assert filters == ['labels.nasctl-exp="poc"'] * 2


def test_a_job_ended_by_the_14_day_limit_is_resumed_once(server: VertexServer, bucket: str) -> None:
    first = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    server.set_state(first.job, "JOB_STATE_FAILED", error="job exceeded its maximum run time",
                     startTime="2026-01-01T00:00:00Z", endTime="2026-01-15T00:00:00Z")
    resumed = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    assert resumed.created and resumed.resumed_from == first.job.rsplit("/", 1)[1]
    assert resumed.jobs == [first.job, resumed.job]
    body = server.creates("nasJobs")[1]
    assert body["nasJobSpec"]["resumeNasJobId"] == first.job.rsplit("/", 1)[1]
    assert body["labels"]["nasctl-key"] == "poc-search-r1"
    server.set_state(resumed.job, "JOB_STATE_RUNNING")
    VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    assert len(server.creates("nasJobs")) == 2


def test_a_real_failure_is_not_resumed(server: VertexServer, bucket: str) -> None:
    first = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    server.set_state(first.job, "JOB_STATE_FAILED", error="image not found",
                     startTime="2026-01-01T00:00:00Z", endTime="2026-01-01T00:10:00Z")
    status = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    assert not status.created and status.state == "JOB_STATE_FAILED"
    assert len(server.creates("nasJobs")) == 1


def _trial(trial_id: str, state: str, reward: float | None = None) -> dict:
    trial = {"id": trial_id, "state": state, "startTime": "2026-01-01T00:00:00Z"}
    if reward is not None:
        trial["finalMeasurement"] = {"metrics": [{"metricId": "reward", "value": reward},
                                                 {"metricId": "latency_ms", "value": 40.0}]}
        trial["endTime"] = "2026-01-01T03:00:00Z"
    return trial


def test_trial_states_map_to_nasctl_statuses(server: VertexServer, bucket: str) -> None:
    first = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    server.trial_details[first.job] = [
        {"name": f"{first.job}/nasTrialDetails/1", "parameters": '{"a": 1}', "searchTrial": _trial("1", "REQUESTED")},
        {"name": f"{first.job}/nasTrialDetails/2", "parameters": '{"a": 2}', "searchTrial": _trial("2", "ACTIVE")},
        {"name": f"{first.job}/nasTrialDetails/3", "parameters": '{"a": 3}', "searchTrial": _trial("3", "STOPPING")},
        {"name": f"{first.job}/nasTrialDetails/4", "parameters": '{"a": 4}',
         "searchTrial": _trial("4", "SUCCEEDED", 0.71),
         "trainTrial": _trial("4", "ACTIVE")},
        {"name": f"{first.job}/nasTrialDetails/5", "parameters": '{"a": 5}', "searchTrial": _trial("5", "INFEASIBLE")},
    ]
    status = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    trials = {t.id: t for t in status.trials}
    assert {k: t.status for k, t in trials.items()} == {
        "search-0001": PENDING, "search-0002": RUNNING, "search-0003": RUNNING, "search-0004": SUCCEEDED,
        "search-0005": FAILED, "train-0004": RUNNING}
    assert trials["search-0004"].reward == pytest.approx(0.71)
    assert trials["search-0004"].finished_at - trials["search-0004"].started_at == pytest.approx(3 * 3600)
    assert trials["search-0005"].reason == "infeasible" and trials["search-0005"].reward is None
    assert trials["search-0002"].parameters == '{"a": 2}'


def test_stop_cancels_the_live_job(server: VertexServer, bucket: str) -> None:
    search = VertexNasSearch(_experiment(server.endpoint, bucket=bucket))
    first = search.reconcile(SPACE_JSON)
    assert search.stop() == [first.job]
    assert server.jobs[first.job]["state"] == "JOB_STATE_CANCELLED"
    assert search.stop() == []


def test_trial_details_become_trial_records_with_architectures(server: VertexServer, bucket: str) -> None:
    import random

    from backends.vertex.nas_search import trial_records
    from search_spaces.registry import build_search_space
    from specs.model import SearchSpaceSpec

    space = build_search_space(SearchSpaceSpec(prebuilt="nb201"))
    dna = space.random_dna(random.Random(1))
    params = json.dumps(dna.to_dict(key_type="name_or_id", value_type="choice_and_literal"))
    first = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    server.trial_details[first.job] = [
        {"name": f"{first.job}/nasTrialDetails/3", "parameters": params, "searchTrial": _trial("3", "SUCCEEDED", 0.6)}]
    status = VertexNasSearch(_experiment(server.endpoint, bucket=bucket)).reconcile(SPACE_JSON)
    (record,) = trial_records(status, space)
    assert (record.id, record.stage, record.index, record.status) == ("search-0003", "search", 3, SUCCEEDED)
    assert record.dna == list(space.numbers(dna)) and record.arch == space.materialize(dna)
    assert record.reward == pytest.approx(0.6) and record.backend_ref == {"nas_job": first.job}
