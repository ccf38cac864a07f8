"""``scheduling.timeout`` in job time: a time scale makes hours and days pass in wall seconds."""
from __future__ import annotations

from emulator_jobs import PARENT, custom_job, wait_for

SLEEP = "import time; time.sleep(60)"


def test_a_job_past_its_timeout_fails_with_deadline_exceeded(make_emulator) -> None:
    emulator = make_emulator(time_scale=3600)  # one wall second is an hour of job time
    client = emulator.client()
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(SLEEP, timeout_s=2 * 3600))
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_FAILED" and done.error.code == 4  # DEADLINE_EXCEEDED
    assert "maximum running time" in done.error.message
    ran = (done.end_time - done.start_time).total_seconds()
    assert 2 * 3600 <= ran < 4 * 3600


def test_the_default_timeout_is_seven_days(make_emulator) -> None:
    emulator = make_emulator(time_scale=7 * 24 * 3600 / 1.5)  # 7 days of job time in 1.5 wall seconds
    client = emulator.client()
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(SLEEP))
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_FAILED" and "604800s" in done.error.message
    assert (done.end_time - done.start_time).total_seconds() >= 7 * 24 * 3600
