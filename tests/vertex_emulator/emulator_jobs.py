"""Builders and polling for the emulator tests (imported by the test modules; fixtures are in conftest)."""
from __future__ import annotations

import sys
import time
from typing import Any

from google.cloud import aiplatform_v1 as v1

PARENT = "projects/proj/locations/us-central1"
TERMINAL = frozenset({"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"})


def job_spec(code: str, *, replicas: int = 1, accelerators: int = 0, timeout_s: int | None = None,
             env: dict[str, str] | None = None, output: str | None = "gs://bucket/out") -> v1.CustomJobSpec:
    """A one-pool CustomJobSpec running ``python -c code`` on `replicas` replicas."""
    machine = v1.MachineSpec(machine_type="n1-standard-4")
    if accelerators:
        machine = v1.MachineSpec(machine_type="n1-standard-4", accelerator_type="NVIDIA_TESLA_T4",
                                 accelerator_count=accelerators)
    spec = v1.CustomJobSpec(worker_pool_specs=[v1.WorkerPoolSpec(
        machine_spec=machine, replica_count=replicas,
        container_spec=v1.ContainerSpec(image_uri="us-docker.pkg.dev/proj/repo/trainer:1",
                                        command=[sys.executable, "-c", code],
                                        env=[v1.EnvVar(name=k, value=v) for k, v in (env or {}).items()]))])
    if output:
        spec.base_output_directory = v1.GcsDestination(output_uri_prefix=output)
    if timeout_s is not None:
        spec.scheduling = v1.Scheduling(timeout={"seconds": timeout_s})
    return spec


def custom_job(code: str = "pass", labels: dict[str, str] | None = None, **spec: Any) -> v1.CustomJob:
    return v1.CustomJob(display_name="job", job_spec=job_spec(code, **spec), labels=labels or {})


def wait_for(client: v1.JobServiceClient, name: str, states: set[str] | str = TERMINAL,
             timeout: float = 20.0) -> Any:
    """Poll GetCustomJob / GetNasJob until the job is in one of `states`; returns the job."""
    states = {states} if isinstance(states, str) else set(states)
    get = client.get_nas_job if "/nasJobs/" in name else client.get_custom_job
    deadline = time.monotonic() + timeout
    while True:
        job = get(name=name)
        if job.state.name in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {job.state.name}, wanted {states}")
        time.sleep(0.03)


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `predicate()` until it is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
