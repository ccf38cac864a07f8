"""Every Vertex call has a deadline and retries transient errors; creates stay single (the emulator injects
503s and stalls, through the real REST client)."""
from __future__ import annotations

import logging
import time

import pytest
from google.api_core import exceptions

from backends.base import FINISHED
from backends.vertex.calls import CallPolicy
from backends.vertex.custom_jobs import VertexCustomJobBackend
from reconciler.apply import Reconciler
from reconciler.plan import CREATE
from specs.loader import spec_generation
from state.records import PHASE_FAILED, PHASE_RUNNING, PHASE_SUCCEEDED, SUCCEEDED, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState, save_experiment, save_trials
from state.uri import open_store
from tests.support.scripted_trainer import scripted_entrypoint
from tests.support.vertex_emulated import IMAGE, vertex_experiment
from vertex_emulator.rates import CRUD, SUBMISSION

TRIAL_SPEC = {"id": "search-0000", "stage": "search", "experiment": "demo", "arch": None, "dna": [0, 0, 0, 0, 0, 0],
              "args": {"mode": "proxy"}, "seed": 0, "trainer": {"prebuilt": "nb201-tabular"}}


def _custom_jobs(vertex) -> list:  # noqa: ANN001
    return list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))


def test_transient_errors_are_retried_and_a_create_is_never_doubled(vertex, gcs_bucket) -> None:
    backend = VertexCustomJobBackend(vertex_experiment(vertex.endpoint, gcs_bucket))
    vertex.faults.fail_next(3, http=503, method="CreateCustomJob")
    vertex.faults.fail_next(2, http=429, method="ListCustomJobs")
    vertex.faults.fail_next(1, http=500, method="GetCustomJob")
    backend.launch("search-0000", TRIAL_SPEC)
    backend.observe("search-0000")
    assert len(_custom_jobs(vertex)) == 1 and backend.calls.retries == 6


def test_each_retry_is_logged_with_what_the_service_answered(vertex, caplog: pytest.LogCaptureFixture) -> None:
    policy = CallPolicy(call_timeout_s=5, initial_backoff_s=0.01, max_backoff_s=0.02, total_s=10)
    client = vertex.client()
    vertex.faults.fail_next(1, http=429, method="ListCustomJobs")
    with caplog.at_level(logging.WARNING, logger="backends.vertex.calls"):
        policy.run(lambda timeout: list(client.list_custom_jobs(parent="projects/proj/locations/us-central1",
                                                                timeout=timeout)))
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("Vertex answered TooManyRequests: Quota exceeded for quota metric 'Resource management "
                           "(CRUD) requests' and limit 'Resource management (CRUD) requests per minute per region'")
    assert line.endswith(" (retrying in 0.0 s)")


def test_a_stalled_answer_hits_the_deadline_and_is_retried(vertex, gcs_bucket) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, backend={"retry": {
        "callTimeoutSeconds": 0.3, "initialBackoffSeconds": 0.05, "totalSeconds": 20}})
    backend = VertexCustomJobBackend(experiment)
    vertex.faults.delay(1.0, method="CreateCustomJob", count=1)  # the job is made after the client gave up
    backend.launch("search-0000", TRIAL_SPEC)
    assert len(_custom_jobs(vertex)) == 1  # the retry looked it up by its labels instead of creating another
    vertex.faults.delay(5.0, method="GetCustomJob", count=1)
    started = time.monotonic()
    assert backend.observe("search-0000").state is not None
    assert time.monotonic() - started < 4.0 and backend.calls.retries >= 2


def test_a_permanent_error_is_not_retried_and_transient_ones_give_up_at_the_total_deadline(vertex) -> None:
    policy = CallPolicy(call_timeout_s=1, initial_backoff_s=0.01, max_backoff_s=0.02, total_s=0.3)
    client = vertex.client()
    with pytest.raises(exceptions.NotFound):
        policy.run(lambda timeout: client.get_custom_job(name="projects/proj/locations/us-central1/customJobs/1",
                                                         timeout=timeout))
    assert policy.retries == 0
    vertex.faults.fail_fraction(1.0, http=503, method="ListCustomJobs")
    with pytest.raises(exceptions.ServiceUnavailable):
        policy.run(lambda timeout: list(client.list_custom_jobs(parent="projects/proj/locations/us-central1",
                                                                timeout=timeout)))
    assert policy.retries >= 3


def test_every_custom_job_has_its_timeout_and_the_service_enforces_it(make_vertex, gcs_bucket) -> None:
    vertex = make_vertex(time_scale=3600)  # an hour of job time per second
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, search={"timeoutSeconds": 1800},
                                   backend={"train": {"machineType": "n1-standard-4", "hoursPerTrial": 224}})
    backend = VertexCustomJobBackend(experiment)
    backend.launch("search-0000", {**TRIAL_SPEC, "trainer": {"command": ["sleep", "30"]}})
    backend.launch("train-0000", {**TRIAL_SPEC, "id": "train-0000", "stage": "train"})
    timeouts = {r.body["labels"]["nasctl-stage"]: r.body["jobSpec"]["scheduling"]["timeout"]
                for r in vertex.requests if r.method == "POST"}
    assert timeouts == {"search": "1800s", "train": f"{14 * 24 * 3600}s"}  # 224 h × 1.5 capped at 14 days
    deadline = time.monotonic() + 60
    while (seen := backend.observe("search-0000")).state != FINISHED:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # recorded as a timeout (reason timeout), not as a failure of the trainer
    assert seen.result.status == "timeout" and "maximum running time" in seen.result.message


@pytest.mark.slow  # the emulator runs trial processes
def test_a_pass_launching_more_jobs_than_the_submission_rate_allows_launches_each_once(make_vertex,
                                                                                       gcs_bucket) -> None:
    vertex = make_vertex(quotas={("us-central1", "NVIDIA_TESLA_T4"): 8}, rate_limits={SUBMISSION: 2, CRUD: 600},
                         rate_window_s=1.0)  # the service's 60 job submissions a minute, scaled down
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=6, parallel=6)
    backend = VertexCustomJobBackend(experiment)
    reconciler = Reconciler(experiment, open_store(experiment.spec.state_uri, experiment.metadata.name), backend)
    launches, deadline = [], time.monotonic() + 120
    while (result := reconciler.run_pass()).state.experiment.phase not in (PHASE_SUCCEEDED, PHASE_FAILED):
        launches.append(sum(action.kind == CREATE for action in result.plan.actions))
        assert time.monotonic() < deadline, "the experiment did not finish"
        time.sleep(0.2)
    assert result.state.experiment.phase == PHASE_SUCCEEDED, result.state.experiment.conditions
    assert max(launches) == sum(launches) == 6  # all in one pass: 429s past the 2nd, retried within the pass
    assert vertex.rates.refused[SUBMISSION] >= 2 and backend.calls.retries >= 2
    jobs = _custom_jobs(vertex)
    assert len(jobs) == 6 and len({job.labels["nasctl-key"] for job in jobs}) == 6


def _finished_search(experiment, finished: int) -> Reconciler:  # noqa: ANN001
    """A reconciler of `experiment` whose state already records `finished` succeeded search trials."""
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    state = ExperimentState(ExperimentRecord(name=experiment.metadata.name, generation=spec_generation(experiment),
                                             phase=PHASE_RUNNING))
    state.add([TrialRecord(id=f"search-{index:04d}", stage="search", index=index, dna=[index % 5] * 6, arch=None,
                           status=SUCCEEDED, reward=0.5, launched_at=1.0, finished_at=2.0, attempt=1)
               for index in range(finished)])
    save_trials(store, state)
    save_experiment(store, state)
    return Reconciler(experiment, store, VertexCustomJobBackend(experiment))


@pytest.mark.slow  # the emulator runs trial processes
def test_a_pass_asks_vertex_about_its_running_trials_only_however_many_have_finished(make_emulator,
                                                                                      gcs_bucket) -> None:
    """Vertex allows a project 600 requests a minute per region: a pass's requests must not grow with the search."""
    vertex = make_emulator(image_entrypoints={IMAGE: scripted_entrypoint()})  # trials run until cancelled
    requests = {}
    for finished in (3, 300):
        experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name=f"done-{finished}",
                                       max_trials=finished + 2, parallel=2)
        reconciler = _finished_search(experiment, finished)
        assert sum(action.kind == CREATE for action in reconciler.run_pass().plan.actions) == 2
        before = len(vertex.requests)
        reconciler.run_pass()
        requests[finished] = sorted((r.method, r.path.rsplit("/", 2)[1]) for r in vertex.requests[before:])
    assert requests[3] == requests[300] == [("GET", "customJobs")] * 2  # one GetCustomJob per running trial
