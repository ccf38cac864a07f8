"""CustomJobs move through the service's states, with its timestamps, errors, cancel and preemption rules."""
from __future__ import annotations

from pathlib import Path

import pytest
from emulator_jobs import PARENT, custom_job, wait_for, wait_until
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1

WAIT_FOR_FILE = "import os, time\nwhile not os.path.exists('go'): time.sleep(0.02)\n"


def test_a_job_runs_queued_to_succeeded_with_service_timestamps(client) -> None:
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job("pass", labels={"k": "v"}))
    assert created.state.name == "JOB_STATE_QUEUED"
    assert created.name.startswith(f"{PARENT}/customJobs/") and created.create_time
    assert not created.start_time and not created.end_time
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_SUCCEEDED" and not done.error.message
    assert created.create_time <= done.start_time <= done.end_time == done.update_time
    assert done.labels == {"k": "v"} and done.display_name == "job"


def test_a_non_zero_exit_fails_the_job_with_the_exit_code(client) -> None:
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job("import sys; sys.exit(3)"))
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_FAILED" and done.end_time
    assert "workerpool0-0 exited with a non-zero status of 3" in done.error.message


def test_cancel_moves_a_running_job_through_cancelling_to_cancelled(client, emulator) -> None:
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(WAIT_FOR_FILE))
    wait_for(client, created.name, "JOB_STATE_RUNNING")
    client.cancel_custom_job(name=created.name)
    assert client.get_custom_job(name=created.name).state.name in ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED")
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_CANCELLED" and done.error.code == 1 and done.end_time


def test_cancelling_a_finished_job_is_failed_precondition(client) -> None:
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job("pass"))
    wait_for(client, created.name)
    with pytest.raises(exceptions.BadRequest) as error:  # REST maps FAILED_PRECONDITION to HTTP 400
        client.cancel_custom_job(name=created.name)
    assert error.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"


def _preempt_and_wait_restart(emulator, job: str, log: Path, starts: int, index: int = 0) -> None:
    emulator.preempt(job, index=index)
    wait_until(lambda: log.read_text().count("started") == starts, what=f"start {starts} of the worker")


def test_a_worker_preempted_a_sixth_time_fails_the_job(client, emulator) -> None:
    code = "import os, time\nprint('started', flush=True)\n" + WAIT_FOR_FILE
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(code))
    log = emulator.job_dir(created.name) / "workerpool0-0.log"
    wait_until(lambda: log.exists() and "started" in log.read_text(), what="the worker to start")
    for restart in range(1, 6):  # the training service restarts a preempted worker 5 times
        _preempt_and_wait_restart(emulator, created.name, log, starts=restart + 1)
    assert client.get_custom_job(name=created.name).state.name == "JOB_STATE_RUNNING"
    emulator.preempt(created.name)
    done = wait_for(client, created.name)
    assert done.state.name == "JOB_STATE_FAILED" and "restarted more than 5 times" in done.error.message


def test_with_restart_job_on_worker_restart_a_preemption_restarts_every_worker(client, emulator) -> None:
    code = "import os, time\nprint('started', flush=True)\n" + WAIT_FOR_FILE
    job = custom_job(code, replicas=2)
    job.job_spec.scheduling = v1.Scheduling(restart_job_on_worker_restart=True)
    created = client.create_custom_job(parent=PARENT, custom_job=job)
    logs = [emulator.job_dir(created.name) / f"workerpool0-{i}.log" for i in (0, 1)]
    wait_until(lambda: all(log.exists() and "started" in log.read_text() for log in logs), what="both workers")
    _preempt_and_wait_restart(emulator, created.name, logs[1], starts=2, index=1)
    wait_until(lambda: logs[0].read_text().count("started") == 2, what="the chief to restart as well")
    (emulator.job_dir(created.name) / "go").touch()
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"


def test_a_preempted_worker_restarts_and_the_job_still_succeeds(client, emulator) -> None:
    code = "import os, time\nprint('started', flush=True)\n" + WAIT_FOR_FILE
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job(code))
    wait_for(client, created.name, "JOB_STATE_RUNNING")
    log = emulator.job_dir(created.name) / "workerpool0-0.log"
    wait_until(lambda: log.exists() and "started" in log.read_text(), what="the worker to start")
    emulator.preempt(created.name)
    wait_until(lambda: log.read_text().count("started") == 2, what="the worker to restart")
    assert client.get_custom_job(name=created.name).state.name == "JOB_STATE_RUNNING"
    (emulator.job_dir(created.name) / "go").touch()
    assert wait_for(client, created.name).state.name == "JOB_STATE_SUCCEEDED"
