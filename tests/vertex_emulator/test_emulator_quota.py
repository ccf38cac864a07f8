"""Per-region training quota: a job waits QUEUED until GPUs and vCPUs free up; one that can never fit is refused."""
from __future__ import annotations

import time

import pytest
from emulator_jobs import PARENT, custom_job, wait_for
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1

from vertex_emulator.capacity import FLEX_START

HOLD = "import os, time\nwhile not os.path.exists('go'): time.sleep(0.02)\n"


def test_a_job_waits_for_quota_until_another_finishes(make_emulator) -> None:
    emulator = make_emulator(quotas={("us-central1", "NVIDIA_TESLA_T4"): 4})
    client = emulator.client()
    first = client.create_custom_job(parent=PARENT, custom_job=custom_job(HOLD, accelerators=4)).name
    wait_for(client, first, "JOB_STATE_RUNNING")
    second = client.create_custom_job(parent=PARENT, custom_job=custom_job("pass", accelerators=2)).name
    other_region = client.create_custom_job(parent="projects/proj/locations/europe-west4",
                                            custom_job=custom_job("pass", accelerators=2)).name
    assert wait_for(client, other_region).state.name == "JOB_STATE_SUCCEEDED"  # quota is per region
    assert client.get_custom_job(name=second).state.name == "JOB_STATE_QUEUED"  # the service's word for it
    (emulator.job_dir(first) / "go").touch()
    assert wait_for(client, first).state.name == "JOB_STATE_SUCCEEDED"
    done = wait_for(client, second)
    assert done.state.name == "JOB_STATE_SUCCEEDED" and done.start_time >= client.get_custom_job(name=first).end_time


def test_a_job_larger_than_the_whole_quota_is_resource_exhausted(make_emulator) -> None:
    emulator = make_emulator(quotas={("us-central1", "NVIDIA_TESLA_T4"): 4})
    with pytest.raises(exceptions.TooManyRequests, match="exceed quota limits"):
        emulator.client().create_custom_job(parent=PARENT, custom_job=custom_job("pass", accelerators=2,
                                                                                 replicas=3))


def _spot(job: v1.CustomJob) -> v1.CustomJob:
    job.job_spec.scheduling = v1.Scheduling(strategy="SPOT")
    return job


def test_spot_gpus_count_against_their_own_quota(make_emulator) -> None:
    """As on Google Cloud: Spot GPUs use the preemptible quota, on-demand GPUs the other; each waits for its own."""
    emulator = make_emulator(quotas={("us-central1", "NVIDIA_TESLA_T4"): 2,
                                     ("us-central1", "PREEMPTIBLE_NVIDIA_TESLA_T4"): 2})
    client = emulator.client()
    on_demand = client.create_custom_job(parent=PARENT, custom_job=custom_job(HOLD, accelerators=2)).name
    spot = client.create_custom_job(parent=PARENT, custom_job=_spot(custom_job(HOLD, accelerators=2))).name
    wait_for(client, on_demand, "JOB_STATE_RUNNING")
    wait_for(client, spot, "JOB_STATE_RUNNING")  # the on-demand job's GPUs are not the Spot quota's
    waiting = client.create_custom_job(parent=PARENT, custom_job=_spot(custom_job("pass", accelerators=1))).name
    time.sleep(0.3)
    assert client.get_custom_job(name=waiting).state.name == "JOB_STATE_QUEUED"
    (emulator.job_dir(spot) / "go").touch()
    assert wait_for(client, waiting).state.name == "JOB_STATE_SUCCEEDED"  # Spot GPUs freed: it runs
    assert client.get_custom_job(name=on_demand).state.name == "JOB_STATE_RUNNING"
    with pytest.raises(exceptions.TooManyRequests, match="custom_model_training_preemptible_nvidia_t4_gpus"):
        client.create_custom_job(parent=PARENT, custom_job=_spot(custom_job("pass", accelerators=4)))
    (emulator.job_dir(on_demand) / "go").touch()


def _on(machine_type: str, job: v1.CustomJob) -> v1.CustomJob:
    job.job_spec.worker_pool_specs[0].machine_spec.machine_type = machine_type
    return job


def test_vcpus_count_against_the_cpu_quota_of_their_machine_family(make_emulator) -> None:
    """N1 and E2 vCPUs share custom_model_training_cpus (the quota public reports show refusing a new project's
    first n1-standard-4 job), other CPU families have their own."""
    emulator = make_emulator(quotas={("us-central1", "CPUS"): 6, ("us-central1", "NVIDIA_TESLA_T4"): 1})
    client = emulator.client()
    first = client.create_custom_job(parent=PARENT, custom_job=custom_job(HOLD)).name  # n1-standard-4: 4 vCPUs
    wait_for(client, first, "JOB_STATE_RUNNING")
    waiting = client.create_custom_job(parent=PARENT, custom_job=_on("e2-standard-4", custom_job("pass"))).name
    n2 = client.create_custom_job(parent=PARENT, custom_job=_on("n2-standard-8", custom_job("pass"))).name
    assert wait_for(client, n2).state.name == "JOB_STATE_SUCCEEDED"  # N2 vCPUs are not the N1/E2 quota's
    assert client.get_custom_job(name=waiting).state.name == "JOB_STATE_QUEUED"
    (emulator.job_dir(first) / "go").touch()
    assert wait_for(client, waiting).state.name == "JOB_STATE_SUCCEEDED"
    with pytest.raises(exceptions.TooManyRequests, match=(
            "exceed quota limits: aiplatform.googleapis.com/custom_model_training_cpus "
            "\\(region us-central1: 8 > 6\\), "
            "aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus \\(region us-central1: 2 > 1\\)")):
        client.create_custom_job(parent=PARENT, custom_job=custom_job("pass", replicas=2, accelerators=1))


def test_a_stockout_fails_the_next_jobs_needing_that_accelerator_without_running_them(make_emulator) -> None:
    emulator = make_emulator(time_scale=600)
    emulator.capacity.stockout("us-central1", "NVIDIA_TESLA_T4", jobs=1, wait_seconds=1800)
    client = emulator.client()
    writes = "open('ran', 'w').close()"
    turned_away = client.create_custom_job(parent=PARENT, custom_job=custom_job(writes, accelerators=1)).name
    cpu_only = client.create_custom_job(parent=PARENT, custom_job=custom_job(writes)).name
    assert wait_for(client, cpu_only).state.name == "JOB_STATE_SUCCEEDED"
    failed = wait_for(client, turned_away)
    assert failed.state.name == "JOB_STATE_FAILED" and failed.error.code == 8
    assert "Resources are insufficient in region: us-central1" in failed.error.message
    assert not failed.start_time and failed.end_time.timestamp() - failed.create_time.timestamp() >= 1800
    assert not (emulator.job_dir(turned_away) / "ran").exists() and (emulator.job_dir(cpu_only) / "ran").exists()
    again = client.create_custom_job(parent=PARENT, custom_job=custom_job(writes, accelerators=1)).name
    assert wait_for(client, again).state.name == "JOB_STATE_SUCCEEDED"  # the stockout was for one job


def _flex_start(job: v1.CustomJob, max_wait_seconds: int | None = None) -> v1.CustomJob:
    pool = job.job_spec.worker_pool_specs[0]
    pool.machine_spec = v1.MachineSpec(machine_type="a2-highgpu-1g", accelerator_type="NVIDIA_TESLA_A100",
                                       accelerator_count=1)
    job.job_spec.scheduling = v1.Scheduling(strategy="FLEX_START", timeout={"seconds": 3600})
    if max_wait_seconds is not None:
        job.job_spec.scheduling.max_wait_duration = {"seconds": max_wait_seconds}
    return job


def test_a_flex_start_job_queues_through_a_stockout_and_fails_only_past_its_max_wait(make_emulator) -> None:
    assert FLEX_START == v1.Scheduling.Strategy.FLEX_START
    emulator = make_emulator(time_scale=3600)  # an hour of job time a second
    emulator.capacity.stockout("us-central1", "NVIDIA_TESLA_A100", jobs=3, wait_seconds=1800)
    client = emulator.client()
    writes = "open('ran', 'w').close()"
    queued = client.create_custom_job(parent=PARENT, custom_job=_flex_start(custom_job(writes))).name
    done = wait_for(client, queued)  # turned away three times, half an hour apart, then machines are free
    assert done.state.name == "JOB_STATE_SUCCEEDED" and (emulator.job_dir(queued) / "ran").exists()
    assert done.start_time.timestamp() - done.create_time.timestamp() >= 2 * 1800

    emulator.capacity.stockout("us-central1", "NVIDIA_TESLA_A100", jobs=100, wait_seconds=1800)
    short = client.create_custom_job(parent=PARENT, custom_job=_flex_start(custom_job(writes), 7200)).name
    failed = wait_for(client, short)
    assert failed.state.name == "JOB_STATE_FAILED" and failed.error.code == 8 and "7200s" in failed.error.message
    assert not failed.start_time and failed.end_time.timestamp() - failed.create_time.timestamp() >= 7200
    assert not (emulator.job_dir(short) / "ran").exists()
    emulator.clock.set_scale(36_000)  # ten hours a second: the default wait is long
    default = client.create_custom_job(parent=PARENT, custom_job=_flex_start(custom_job(writes))).name
    assert wait_for(client, default, timeout=60).error.message.endswith(
        "within the maximum wait duration of 86400s (scheduling.max_wait_duration).")  # 24 h unless set
