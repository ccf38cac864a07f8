"""Stage 1 as a Vertex NasJob, against the Vertex emulator: the request, adoption by experiment identity,
intent before creation, resume past 14 days as the API wants it, failure limits and cancelling."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pyglove as pg
import pytest

from backends.vertex.labels import experiment_identity
from backends.vertex.nas_search import NasJobsRecord, VertexNasSearch
from nasctl.views import trials_view
from reconciler.delete import delete, undelete
from reconciler.nas_job import NAS_JOB_ID, NasJobReconciler
from search_spaces.registry import build_search_space
from state.records import (
    EXPERIMENT_KEY, FAILED, PHASE_FAILED, PHASE_RUNNING, PHASE_SUCCEEDED, REASON_DELETED, REASON_JOB_TIME_LIMIT,
    REASON_MAX_TRIALS,
    STOPPED, SUCCEEDED, TRIALS_KEY,
)
from state.uri import open_store
from trial.dirs import GcsTrialDir
from trial.fuse import gs_uri
from tests.support.vertex_emulated import vertex_experiment

MONTH = 30 * 24 * 3600


def _reconciler(experiment) -> NasJobReconciler:  # noqa: ANN001
    return NasJobReconciler(experiment, open_store(experiment.spec.state_uri, experiment.metadata.name))


def _creates(vertex) -> list[dict]:  # noqa: ANN001
    return [r.body for r in vertex.requests if r.method == "POST" and r.path.endswith("/nasJobs")]


def _nas_jobs(vertex) -> list:  # noqa: ANN001
    return list(vertex.client().list_nas_jobs(parent="projects/proj/locations/us-central1"))


def _trial_listings(vertex, job: str) -> list:  # noqa: ANN001
    return [r for r in vertex.requests if r.method == "GET" and r.path.endswith(f"{job}/nasTrialDetails")]


def _wait_state(vertex, name: str, states: set[str], timeout: float = 60) -> str:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while (state := vertex.client().get_nas_job(name=name).state.name) not in states:
        assert time.monotonic() < deadline, f"{name} still {state}"
        time.sleep(0.1)
    return state


def test_the_request_maps_the_spec_and_validates(vertex, gcs_bucket) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="REINFORCEMENT_LEARNING",
                                   max_trials=20, parallel=2, top_n=3,
                                   search={"maxFailedTrials": 0},
                                   backend={"train": {"machineType": "n1-standard-8", "hoursPerTrial": 224}})
    result = _reconciler(experiment).run_pass()
    assert [a.kind for a in result.plan.actions] == ["create"]
    (body,) = _creates(vertex)  # the emulator parsed it into the proto: no unknown field, no bad enum
    labels = body["labels"]
    assert labels["nasctl-id"] == experiment_identity(f"gs://{gcs_bucket}/state", "poc")
    assert labels["nasctl-key"].startswith("poc-search-")
    spec = body["nasJobSpec"]
    assert isinstance(pg.from_json_str(spec["searchSpaceSpec"]), pg.geno.DNASpec)  # what the controller samples
    algo = spec["multiTrialAlgorithmSpec"]
    search = algo["searchTrialSpec"]
    assert search["maxFailedTrialCount"] == 1  # allow none: Vertex fails the job at the first failure
    # 14 days on the trial specs, as Google's NAS client sends them; the trial's own limit (1 h per trial,
    # with a margin) goes to the trial, which enforces it
    assert search["searchTrialJobSpec"]["scheduling"]["timeout"] == f"{14 * 24 * 3600}s"
    (pool,) = search["searchTrialJobSpec"]["workerPoolSpecs"]
    args = pool["containerSpec"]["args"]
    assert args[:3] == ["python", "-m", "trial.nas_entry"]
    assert args[args.index("--trial-timeout-seconds") + 1] == "5400"
    train = algo["trainTrialSpec"]
    assert train["maxParallelTrialCount"] == 3  # Vertex trains the top maxParallelTrialCount: topN
    assert train["trainTrialJobSpec"]["scheduling"]["timeout"] == f"{14 * 24 * 3600}s"
    (pool,) = train["trainTrialJobSpec"]["workerPoolSpecs"]
    args = pool["containerSpec"]["args"]
    assert args[args.index("--trial-timeout-seconds") + 1] == str(14 * 24 * 3600)  # 224 h capped at 14 days


def test_same_name_elsewhere_is_another_experiment_and_a_fresh_state_adopts_nothing_finished(
        vertex, gcs_bucket) -> None:
    here = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=1,
                             parallel=1)
    elsewhere = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=1,
                                  parallel=1, state_prefix="other-state")
    first = _reconciler(here).run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    other = _reconciler(elsewhere).run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    assert first != other and len(_nas_jobs(vertex)) == 2
    assert _reconciler(here).run_pass().state.experiment.stages["search"]["summary"]["nasJob"] == first  # adopted

    vertex.client().cancel_nas_job(name=first)
    _wait_state(vertex, first, {"JOB_STATE_CANCELLED"})
    store = open_store(here.spec.state_uri, "poc")
    for key in (EXPERIMENT_KEY, TRIALS_KEY):  # the user deletes the state and applies the same spec again
        store.delete(key)
    fresh = _reconciler(here).run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    assert fresh not in (first, other) and len(_nas_jobs(vertex)) == 3


def test_the_intent_is_recorded_before_the_create_and_a_lost_create_answer_adopts(vertex, gcs_bucket) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=1,
                                   parallel=1, backend={"retry": {"callTimeoutSeconds": 0.5,
                                                                  "initialBackoffSeconds": 0.05, "totalSeconds": 30}})
    vertex.faults.delay(1.0, method="CreateNasJob", count=1)  # the answer comes after the client gave up
    vertex.faults.fail_next(2, http=503, method="ListNasJobs")
    search = VertexNasSearch(experiment)
    intents: list[NasJobsRecord] = []
    space = build_search_space(experiment.spec.search_space).to_json_str()
    status = search.reconcile(space, NasJobsRecord(), intents.append)
    (job,) = _nas_jobs(vertex)
    assert status.created and status.job == job.name  # the retry found the job the slow create made
    assert [i.intent for i in intents] == [job.labels["nasctl-key"]] and intents[0].jobs == []


@pytest.mark.slow
@pytest.mark.parametrize("numbering", ["continue", "restart"])  # how the service numbers them is not documented
def test_a_job_ended_by_the_14_day_limit_is_resumed_as_the_api_says(make_vertex, gcs_bucket, numbering: str) -> None:
    vertex = make_vertex(time_scale=14 * 24 * 3600 / 10, nas_resume_numbering=numbering)  # 14 days of job time in 10 s
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="REINFORCEMENT_LEARNING",
                                   max_trials=40, parallel=2, search={"timeoutSeconds": MONTH})
    reconciler = _reconciler(experiment)
    first = reconciler.run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    _wait_state(vertex, first, {"JOB_STATE_FAILED"}, timeout=60)
    planned = _reconciler(experiment).preview().plan  # `diff` shows the resume the next apply makes
    assert [(a.kind, a.trial_id, a.reason) for a in planned.actions] == [
        ("create", NAS_JOB_ID, f"Vertex NasJob resuming {first}")]
    assert len(_creates(vertex)) == 1
    result = reconciler.run_pass()  # resumes: the emulator refuses a resume repeating space, algorithm, metric
    summary = result.state.experiment.stages["search"]["summary"]
    assert summary["jobs"][0] == first and len(summary["jobs"]) == 2
    resume = _creates(vertex)[1]["nasJobSpec"]
    assert resume["resumeNasJobId"] == first.rsplit("/", 1)[1]
    assert "searchSpaceSpec" not in resume and set(resume["multiTrialAlgorithmSpec"]) == {"searchTrialSpec"}

    listed_before = len(_trial_listings(vertex, first))
    reconciler.run_pass()
    reconciler.run_pass()
    assert len(_trial_listings(vertex, first)) == listed_before, "an ended job's trials are read once"
    fresh = _reconciler(experiment).run_pass()  # another process (a cron apply) reads them once too
    assert len(_trial_listings(vertex, first)) == listed_before + 1
    assert {t.id for t in fresh.state.trials.values()} >= {t.id for t in result.state.trials.values()}

    # each job's trials keep their own ids and folders, whichever way the resumed job numbers them
    resumed = summary["jobs"][1]
    deadline = time.monotonic() + 60
    while not any(d.search_trial.state.name == "SUCCEEDED" for d in _own_trials(vertex, first, resumed, numbering)):
        assert time.monotonic() < deadline, "the resumed job finished no trial"
        time.sleep(0.2)
    vertex.client().cancel_nas_job(name=resumed)
    _wait_state(vertex, resumed, {"JOB_STATE_CANCELLED"})
    trials = _reconciler(experiment).run_pass().state.trials
    first_ids = {f"search-{int(d.search_trial.id):04d}" for d in vertex.client().list_nas_trial_details(parent=first)}
    earlier = {t.id: t for t in result.state.trials.values() if t.id in first_ids}
    assert {i: trials[i].backend_ref["parameters"] for i in earlier} == {
        i: t.backend_ref["parameters"] for i, t in earlier.items()}, "the first job's trials are not overwritten"
    own = _own_trials(vertex, first, resumed, numbering)
    later = sorted(t.id for t in trials.values() if t.stage == "search" and t.id not in earlier)
    assert len(later) == len(own) and min(later) > max(earlier), (later, sorted(earlier))
    job_dirs = [c["nasJobSpec"]["multiTrialAlgorithmSpec"]["searchTrialSpec"]["searchTrialJobSpec"]
                ["workerPoolSpecs"][0]["containerSpec"]["args"] for c in _creates(vertex)]
    first_dir, resumed_dir = (args[args.index("--job-dir") + 1] for args in job_dirs)
    assert first_dir != resumed_dir, "each NasJob writes its trials' folders in a job dir of its own"
    folder = GcsTrialDir(gs_uri(first_dir) + "/search-0001")
    assert json.loads(folder.read_bytes("trial.json"))["dna"] == earlier["search-0001"].dna
    assert trials["search-0001"].backend_ref["folder"] == folder.uri, "the record says where the trial's files are"


def _own_trials(vertex, first: str, resumed: str, numbering: str) -> list:  # noqa: ANN001
    """The resumed job's own trials (not its listing of the first job's)."""
    listed = list(vertex.client().list_nas_trial_details(parent=resumed))
    if numbering == "restart":
        return listed
    inherited = {d.search_trial.id for d in vertex.client().list_nas_trial_details(parent=first)}
    return [d for d in listed if d.search_trial.id not in inherited]


@pytest.mark.slow
@pytest.mark.parametrize("limit_state", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED"])  # the service's is not documented
def test_a_search_is_resumed_once_then_ends_at_its_second_14_day_limit(make_vertex, gcs_bucket,
                                                                       limit_state: str) -> None:
    vertex = make_vertex(time_scale=14 * 24 * 3600 / 8, nas_limit_state=limit_state)  # 14 days of job time in 8 s
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="REINFORCEMENT_LEARNING",
                                   max_trials=200, parallel=2, top_n=2,  # stage 2 once, at 200 search trials
                                   search={"timeoutSeconds": MONTH, "maxFailedTrials": 0},
                                   train={"timeoutSeconds": MONTH})
    reconciler = _reconciler(experiment)
    first = reconciler.run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    _wait_state(vertex, first, {"JOB_STATE_RUNNING"})
    summary = reconciler.run_pass().state.experiment.stages["search"]["summary"]  # status shows the limit
    started = vertex.client().get_nas_job(name=first).start_time.timestamp()
    assert summary["jobEndsBy"] == time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(started + 14 * 24 * 3600))
    assert summary["resumesLeft"] == 1
    _wait_state(vertex, first, {limit_state})
    result = reconciler.run_pass()
    assert result.state.experiment.phase == PHASE_RUNNING, result.state.experiment.conditions
    cut = [t for t in result.state.trials.values() if t.reason == REASON_JOB_TIME_LIMIT]
    assert cut and {t.status for t in cut} == {STOPPED}, "cut short by the limit: not failures (maxFailedTrials 0)"
    resumed = result.state.experiment.stages["search"]["summary"]["jobs"][1]
    assert reconciler.run_pass().state.experiment.stages["search"]["summary"]["resumesLeft"] == 0
    _wait_state(vertex, resumed, {limit_state})

    planned = _reconciler(experiment).preview().plan  # `diff` before the pass that sees the search end
    assert not list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))
    result = reconciler.run_pass()
    assert len(_creates(vertex)) == 2, "a resumed job is not resumed again (Vertex refuses it)"
    record = result.state.experiment
    finished = sum(1 for t in result.state.trials.values() if t.stage == "search" and t.status == SUCCEEDED)
    assert 0 < finished < 200 and f"{finished} of 200 search trials finished" in record.conditions[0].message
    assert "stage 2 trained 0 of the top 2" in record.conditions[0].message  # its round never came: said so
    assert "jobEndsBy" not in record.stages["search"]["summary"]  # no live job: no limit to show
    # so nasctl trains the top 2 itself, as CustomJobs on the stage-2 machine
    assert record.phase == PHASE_RUNNING and record.conditions[0].message.startswith("SearchTimeLimit: ")
    search = [t for t in result.state.trials.values() if t.stage == "search" and t.status == SUCCEEDED]
    best = {t.id for t in sorted(search, key=lambda t: -t.reward)[:2]}
    own = [t for t in result.state.trials.values() if t.stage == "train"]
    assert {t.source_trial for t in own} == best and all(t.labels == {"runner": "customJob"} for t in own)
    assert sorted((a.kind, a.trial_id, a.record.source_trial) for a in planned.actions) == sorted(
        ("create", t.id, t.source_trial) for t in own), "diff showed the launches that pass made"
    assert (planned.next_phase, planned.next_condition) == (record.phase, record.conditions[0])
    preview = _reconciler(experiment).preview().plan  # `diff` in another process: stage 2's plan, nothing to do
    assert preview.phase == PHASE_RUNNING and all(a.kind != "create" for a in preview.actions), preview.actions
    cancelled = delete(reconciler, 60)  # a delete while they train cancels their CustomJobs; undelete relaunches
    assert len(cancelled) == 2 and all("/customJobs/" in name for name in cancelled)
    assert {t.reason for t in reconciler.load().trials.values() if t.stage == "train"} == {REASON_DELETED}
    assert sorted(undelete(reconciler, 60)) == sorted(t.id for t in own)
    deadline = time.monotonic() + 60
    while (record := reconciler.run_pass().state.experiment).phase == PHASE_RUNNING:
        assert time.monotonic() < deadline, record.conditions
        time.sleep(0.2)
    assert (record.phase, record.conditions[0].reason) == (PHASE_SUCCEEDED, "SearchTimeLimit")
    assert record.conditions[0].message.endswith("nasctl trained 2 more of the top 2 as CustomJobs")
    assert record.stages["train"]["summary"]["succeeded"] == 2
    trained = [view for view in trials_view(reconciler.load()) if view["stage"] == "train"]
    assert len(trained) == 2 and all(view["labels"] == {"runner": "customJob"} for view in trained)
    jobs = list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))
    assert sorted(job.state.name for job in jobs) == ["JOB_STATE_CANCELLED"] * 2 + ["JOB_STATE_SUCCEEDED"] * 2
    assert {job.labels["nasctl-stage"] for job in jobs} == {"train"}
    assert reconciler.run_pass().state.experiment.conditions == record.conditions  # done: nothing more runs
    assert len(_creates(vertex)) == 2 and len(list(vertex.client().list_custom_jobs(
        parent="projects/proj/locations/us-central1"))) == 4


@pytest.mark.slow
def test_a_resumed_job_is_ended_once_the_search_has_its_max_trials(make_vertex, gcs_bucket) -> None:
    vertex = make_vertex()
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="REINFORCEMENT_LEARNING",
                                   max_trials=16, parallel=2, search={"timeoutSeconds": MONTH})
    reconciler = _reconciler(experiment)
    first = reconciler.run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    deadline = time.monotonic() + 60
    while sum(d.search_trial.state.name == "SUCCEEDED" for d in vertex.client().list_nas_trial_details(parent=first)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    vertex.clock.set_scale(14 * 24 * 3600)  # the first job's 14 days run out
    _wait_state(vertex, first, {"JOB_STATE_FAILED"})
    vertex.clock.set_scale(1.0)  # the resumed job has all the time it needs
    result = reconciler.run_pass()
    resumed = result.state.experiment.stages["search"]["summary"]["jobs"][1]
    before = sum(1 for t in result.state.trials.values() if t.status == SUCCEEDED)
    assert before < 16
    deadline = time.monotonic() + 90
    while not (stops := [a for a in _reconciler(experiment).preview().plan.actions if a.kind == "stop"]):
        assert time.monotonic() < deadline  # the emulator's resumed job runs 16 trials more
        time.sleep(0.3)
    assert stops[0].trial_id == NAS_JOB_ID and stops[0].reason.startswith(f"{resumed}: the search has its maxTrials")
    assert vertex.client().get_nas_job(name=resumed).state.name == "JOB_STATE_RUNNING", "diff cancels nothing"
    result = reconciler.run_pass()
    assert [a.kind for a in result.plan.actions] == ["stop"]

    record = result.state.experiment
    assert (record.phase, record.conditions[0].reason) == (PHASE_SUCCEEDED, "MaxTrialsReached")
    assert _wait_state(vertex, resumed, {"JOB_STATE_CANCELLED"}) == "JOB_STATE_CANCELLED"
    search = [t for t in result.state.trials.values() if t.stage == "search"]
    finished = sum(1 for t in search if t.status in (SUCCEEDED, FAILED))
    assert 16 <= finished <= 16 + 2 and finished < before + 16, "not the 16 more the resumed job would run"
    assert {t.status for t in search if t.reason == REASON_MAX_TRIALS} <= {STOPPED}
    after = reconciler.run_pass()
    assert after.state.experiment.conditions[0].reason == "MaxTrialsReached" and len(_creates(vertex)) == 2
    assert {t.status for t in after.state.trials.values() if t.reason == REASON_MAX_TRIALS} <= {STOPPED}


@pytest.mark.slow
def test_apply_cancels_the_nas_job_of_a_failed_experiment(vertex, gcs_bucket) -> None:
    failing = {"trainerArgs": {"table": "no-such-table.csv"}}  # every trial fails (nb201-tabular cannot read it)
    lenient = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=30,
                                parallel=1, search={**failing, "maxFailedTrials": 20})
    job = _reconciler(lenient).run_pass().state.experiment.stages["search"]["summary"]["nasJob"]
    details = vertex.client().list_nas_trial_details
    deadline = time.monotonic() + 60
    while not any(d.search_trial.state.name == "INFEASIBLE" for d in details(parent=job)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    strict = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=30,
                               parallel=1, search={**failing, "maxFailedTrials": 0})  # the user lowers the budget
    planned = _reconciler(strict).preview().plan  # `diff` shows the cancel, and the phase the pass records
    (stop,) = planned.actions
    assert stop.kind == "stop" and stop.reason.startswith(f"{job}: ") and "maxFailedTrials=0" in stop.reason
    assert planned.phase_change == (PHASE_RUNNING, PHASE_FAILED)
    assert vertex.client().get_nas_job(name=job).state.name == "JOB_STATE_RUNNING"
    result = _reconciler(strict).run_pass()
    assert result.state.experiment.phase == PHASE_FAILED
    assert result.state.experiment.conditions[0].reason == "TooManyFailedTrials"
    failed = [t for t in result.state.trials.values() if t.status == FAILED]
    assert failed and {t.reason for t in failed} == {"error"}, "the trial's own result, not Vertex's INFEASIBLE"
    assert all("no-such-table.csv" in t.message for t in failed), [t.message for t in failed]
    assert _wait_state(vertex, job, {"JOB_STATE_CANCELLED"}) == "JOB_STATE_CANCELLED"
    recorded = _reconciler(strict).store.get("experiment.json").data
    assert (recorded["phase"], recorded["conditions"][0]["reason"]) == (PHASE_FAILED, "TooManyFailedTrials")
    # recorded as nasctl's cancel, so it is never read as the 14-day limit (which is resumed)
    assert result.state.experiment.stages["search"]["summary"]["stoppedJobs"] == [job]


@pytest.mark.parametrize("state, days, cancelled_by_nasctl, limit", [
    ("JOB_STATE_FAILED", 14, False, True),
    ("JOB_STATE_CANCELLED", 14, False, True),  # how Google's NAS client says a job past its timeout ends
    ("JOB_STATE_CANCELLED", 14, True, False),  # a delete, maxTrials or a failed experiment: nasctl's own cancel
    ("JOB_STATE_CANCELLED", 3, False, False),  # cancelled by someone else: the search failed
    ("JOB_STATE_FAILED", 3, False, False),
    ("JOB_STATE_SUCCEEDED", 14, False, False),
])
def test_the_14_day_limit_is_a_failed_or_cancelled_end_after_14_days_that_nasctl_did_not_cause(
        state: str, days: int, cancelled_by_nasctl: bool, limit: bool) -> None:
    from google.cloud import aiplatform_v1  # noqa: PLC0415

    job = aiplatform_v1.NasJob(name="projects/p/locations/us-central1/nasJobs/1", state=state)
    job.start_time = datetime.fromtimestamp(1_700_000_000, timezone.utc)
    job.end_time = datetime.fromtimestamp(1_700_000_000 + days * 24 * 3600, timezone.utc)
    record = NasJobsRecord(jobs=[job.name], stopped_jobs=[job.name] if cancelled_by_nasctl else [])
    assert VertexNasSearch._hit_time_limit(job, record) is limit


def test_a_changed_spec_is_not_reported_as_observed_while_the_nas_job_keeps_the_old_one(vertex, gcs_bucket) -> None:
    first = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=20,
                              parallel=1)
    created = _reconciler(first).run_pass()
    changed = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=30,
                                parallel=1)
    again = _reconciler(changed)
    result = again.run_pass()
    experiment = result.state.experiment
    assert experiment.observed_generation == created.state.experiment.observed_generation != again.generation
    assert result.plan.observed_generation != result.plan.generation
    assert [c.reason for c in experiment.conditions][1:] == ["NasJobKeepsItsSpec"]
    assert len(_nas_jobs(vertex)) == 1
