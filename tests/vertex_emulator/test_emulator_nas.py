"""NasJobs: trials proposed from a PyGlove space, run as processes, measured, stage 2, limits and resume."""
from __future__ import annotations

import json
import sys

import pyglove as pg
import pytest
from emulator_jobs import PARENT, nas_job, wait_for, wait_until
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1

from vertex_emulator.nas import metrics_file

ALL_ARCHS = {(w, d) for w in (8, 16) for d in (1, 2, 3)}


def _arch(parameters: str) -> tuple[int, int]:
    space = pg.search_space(pg.Dict(width=pg.oneof([8, 16]), depth=pg.oneof([1, 2, 3])))
    dna = pg.DNA.from_parameters(json.loads(parameters), space)
    value = pg.materialize(pg.Dict(width=pg.oneof([8, 16]), depth=pg.oneof([1, 2, 3])), dna)
    return value.width, value.depth


def _details(client, name: str, page_size: int = 0) -> list:
    return list(client.list_nas_trial_details(request={"parent": name, "page_size": page_size}))


def test_grid_search_runs_every_architecture_and_reports_measurements(client, emulator) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(max_trials=6, parallel=2))
    assert created.state.name == "JOB_STATE_QUEUED"
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED", done.error.message
    details = _details(client, created.name, page_size=4)
    assert [d.search_trial.id for d in details] == ["1", "2", "3", "4", "5", "6"]
    assert {_arch(d.parameters) for d in details} == ALL_ARCHS
    for detail in details:
        trial = detail.search_trial
        width, depth = _arch(detail.parameters)
        assert trial.state.name == "SUCCEEDED" and trial.start_time <= trial.end_time
        assert trial.final_measurement.step_count == 10
        (metric,) = trial.final_measurement.metrics
        assert metric.metric_id == "accuracy" and metric.value == pytest.approx(width * depth / 48)
        assert detail.name == f"{created.name}/nasTrialDetails/{trial.id}"
    assert len(done.nas_job_output.multi_trial_job_output.search_trials) == 6
    intervals = sorted((d.search_trial.start_time, d.search_trial.end_time) for d in details)
    assert all(sum(s <= start < e for s, e in intervals) <= 2 for start, _ in intervals)  # max 2 in parallel


def test_each_trial_gets_its_params_id_job_id_and_model_dir(client, emulator) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(algorithm="REINFORCEMENT_LEARNING", max_trials=3))
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    job_id = created.name.rsplit("/", 1)[1]
    for detail in _details(client, created.name, page_size=2):
        log = emulator.job_dir(created.name) / "search" / detail.search_trial.id / "workerpool0-0.log"
        seen = json.loads(log.read_text())
        assert seen == {"trial": detail.search_trial.id, "job": job_id, "params": json.loads(detail.parameters),
                        "model_dir": f"gs://bucket/exp/nas/search/{detail.search_trial.id}/model/"}


def test_the_random_controller_is_seeded(make_emulator) -> None:
    proposals = []
    for _ in range(2):
        client = make_emulator(seed=7).client()
        name = client.create_nas_job(parent=PARENT, nas_job=nas_job(algorithm="REINFORCEMENT_LEARNING",
                                                                    max_trials=3, parallel=3)).name
        wait_for(client, name)
        proposals.append([d.parameters for d in _details(client, name)])
    assert proposals[0] == proposals[1] and len(proposals[0]) == 3


def test_stage2_trains_the_top_trials_every_frequency_search_trials(client) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(max_trials=6, parallel=2, train=(1, 3)))
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    details = _details(client, created.name)
    trained = [d for d in details if d.train_trial.id]
    assert len(trained) == 2
    best = max(details, key=lambda d: d.search_trial.final_measurement.metrics[0].value)
    assert _arch(best.parameters) == (16, 3) and best in trained
    for detail in trained:
        search_value = detail.search_trial.final_measurement.metrics[0].value
        assert detail.train_trial.id == detail.search_trial.id and detail.train_trial.state.name == "SUCCEEDED"
        assert detail.train_trial.final_measurement.metrics[0].value == pytest.approx(search_value + 1)
        assert detail.train_trial.start_time >= detail.search_trial.end_time


def test_failed_trials_fail_the_job_at_max_failed_trial_count(client) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(max_trials=6, parallel=1, max_failed=2,
                                                                   env={"TRIAL_FAILS": "1"}))
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_FAILED" and "max_failed_trial_count" in done.error.message
    assert [d.search_trial.state.name for d in _details(client, created.name)] == ["INFEASIBLE", "INFEASIBLE"]


def test_a_trial_that_meets_a_stockout_is_infeasible_without_running(client, emulator) -> None:
    emulator.capacity.stockout("us-central1", "NVIDIA_TESLA_T4", jobs=1)
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(max_trials=3, parallel=1, max_failed=2,
                                                                   accelerators=1))
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    first, *others = _details(client, created.name)
    assert first.search_trial.state.name == "INFEASIBLE" and not first.search_trial.final_measurement.metrics
    assert not (emulator.job_dir(created.name) / "search" / first.search_trial.id).exists()  # never ran
    assert [d.search_trial.state.name for d in others] == ["SUCCEEDED", "SUCCEEDED"]


def test_a_flex_start_trial_queues_through_a_stockout_and_runs(client, emulator) -> None:
    emulator.capacity.stockout("us-central1", "NVIDIA_TESLA_A100", jobs=2, wait_seconds=0.2)
    request = nas_job(max_trials=2, parallel=1, max_failed=1)
    trial_spec = request.nas_job_spec.multi_trial_algorithm_spec.search_trial_spec.search_trial_job_spec
    trial_spec.worker_pool_specs[0].machine_spec = v1.MachineSpec(
        machine_type="a2-highgpu-1g", accelerator_type="NVIDIA_TESLA_A100", accelerator_count=1)
    trial_spec.scheduling = v1.Scheduling(strategy="FLEX_START", timeout={"seconds": 3600})
    created = client.create_nas_job(parent=PARENT, nas_job=request)
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    first, second = _details(client, created.name)
    assert (first.search_trial.state.name, second.search_trial.state.name) == ("SUCCEEDED", "SUCCEEDED")


def test_max_failed_trial_count_zero_lets_the_service_choose_20_percent(client) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(max_trials=5, parallel=1, max_failed=0,
                                                                   env={"TRIAL_FAILS": "1"}))
    assert wait_for(client, created.name).state.name == "JOB_STATE_FAILED"
    assert len(_details(client, created.name)) == 1  # 20 % of 5 trials


def test_resuming_an_unknown_or_live_job_is_refused(client) -> None:
    with pytest.raises(exceptions.NotFound):
        client.create_nas_job(parent=PARENT, nas_job=nas_job(resume="42"))
    live = client.create_nas_job(parent=PARENT, nas_job=nas_job(env={"TRIAL_SLEEP": "30"})).name
    with pytest.raises(exceptions.BadRequest, match="only an ended job"):
        client.create_nas_job(parent=PARENT, nas_job=nas_job(resume=live.rsplit("/", 1)[1]))
    client.cancel_nas_job(name=live)


def test_a_preempted_trial_restarts_and_one_detail_can_be_read(client, emulator) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(max_trials=1, parallel=1,
                                                                   env={"TRIAL_SLEEP": "0.5"}))
    wait_for(client, created.name, "JOB_STATE_RUNNING")
    wait_until(lambda: _details(client, created.name) and
               _details(client, created.name)[0].search_trial.state.name == "ACTIVE", what="trial 1 to start")
    emulator.preempt(created.name, trial_id="1")
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    detail = client.get_nas_trial_detail(name=f"{created.name}/nasTrialDetails/1")
    assert detail.search_trial.state.name == "SUCCEEDED"
    log = emulator.job_dir(created.name) / "search" / "1" / "workerpool0-0.log"
    assert len(log.read_text().splitlines()) == 1  # the killed run printed nothing, the restarted one did


# Every replica reports a value of its own; the workers report later, so a reader of every replica's
# reports would take a worker's last line.
EVERY_REPLICA_REPORTS = """
import json, os, time
task = json.loads(os.environ["CLUSTER_SPEC"])["task"]
chief = (task["type"], task["index"]) == ("workerpool0", 0)
if not chief:
    time.sleep(0.3)
with open(os.environ["CLOUD_ML_HP_METRIC_FILE"], "a") as metrics:
    metrics.write(json.dumps({os.environ["CLOUD_ML_HP_METRIC_TAG"]: "0.9" if chief else str(task["index"]),
                              "global_step": "3"}) + "\\n")
"""


def test_a_multi_replica_trial_is_measured_by_its_chief_alone(client, emulator) -> None:
    job = nas_job(max_trials=2, parallel=2)
    (pool,) = job.nas_job_spec.multi_trial_algorithm_spec.search_trial_spec.search_trial_job_spec.worker_pool_specs
    pool.replica_count = 3
    pool.container_spec.command = [sys.executable, "-c", EVERY_REPLICA_REPORTS]
    created = client.create_nas_job(parent=PARENT, nas_job=job)
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
    for detail in _details(client, created.name):
        (metric,) = detail.search_trial.final_measurement.metrics
        assert metric.value == pytest.approx(0.9)
        work_dir = emulator.job_dir(created.name) / "search" / detail.search_trial.id
        worker = json.loads(metrics_file(work_dir, "workerpool0-2").read_text())
        assert worker["accuracy"] == "2"  # written on the worker's own machine, never read


def test_cancel_stops_a_running_nas_job(client) -> None:
    created = client.create_nas_job(parent=PARENT, nas_job=nas_job(env={"TRIAL_SLEEP": "30"}))
    wait_for(client, created.name, "JOB_STATE_RUNNING")
    client.cancel_nas_job(name=created.name)
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_CANCELLED" and done.error.code == 1
    assert {d.search_trial.state.name for d in _details(client, created.name)} <= {"INFEASIBLE"}


def test_a_nas_job_stops_at_14_days_and_a_resumed_job_continues_its_trials(make_emulator) -> None:
    emulator = make_emulator(time_scale=14 * 24 * 3600 / 2.5)  # 14 days of job time in 2.5 wall seconds
    client = emulator.client()
    first = client.create_nas_job(parent=PARENT, nas_job=nas_job(
        max_trials=6, parallel=1, env={"TRIAL_SLEEP": "0.5"}, timeout_s=14 * 24 * 3600)).name
    stopped = wait_for(client, first)
    assert stopped.state.name == "JOB_STATE_FAILED" and stopped.error.code == 4 and "14 days" in stopped.error.message
    assert (stopped.end_time - stopped.start_time).total_seconds() >= 14 * 24 * 3600
    old = _details(client, first)
    assert 1 <= len(old) < 6

    resumed = client.create_nas_job(parent=PARENT, nas_job=nas_job(
        resume=first.rsplit("/", 1)[1], max_trials=6, parallel=1, timeout_s=14 * 24 * 3600)).name
    assert wait_for(client, resumed).state.name == "JOB_STATE_SUCCEEDED"  # the grid runs out first
    details = _details(client, resumed)
    assert [d.search_trial.id for d in details] == [str(i) for i in range(1, 7)]
    assert [d.parameters for d in details[:len(old)]] == [d.parameters for d in old]
    assert {_arch(d.parameters) for d in details} == ALL_ARCHS

    with pytest.raises(exceptions.BadRequest, match="cannot be resumed again"):  # a search is resumed once
        client.create_nas_job(parent=PARENT, nas_job=nas_job(resume=resumed.rsplit("/", 1)[1]))
