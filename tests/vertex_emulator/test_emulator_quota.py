"""Per-region accelerator quota: a job waits PENDING until GPUs free up; one that can never fit is refused."""
from __future__ import annotations

import pytest
from emulator_jobs import PARENT, custom_job, wait_for
from google.api_core import exceptions

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
    assert client.get_custom_job(name=second).state.name == "JOB_STATE_PENDING"
    (emulator.job_dir(first) / "go").touch()
    assert wait_for(client, first).state.name == "JOB_STATE_SUCCEEDED"
    done = wait_for(client, second)
    assert done.state.name == "JOB_STATE_SUCCEEDED" and done.start_time >= client.get_custom_job(name=first).end_time


def test_a_job_larger_than_the_whole_quota_is_resource_exhausted(make_emulator) -> None:
    emulator = make_emulator(quotas={("us-central1", "NVIDIA_TESLA_T4"): 4})
    with pytest.raises(exceptions.TooManyRequests, match="exceed quota limits"):
        emulator.client().create_custom_job(parent=PARENT, custom_job=custom_job("pass", accelerators=2,
                                                                                 replicas=3))


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
