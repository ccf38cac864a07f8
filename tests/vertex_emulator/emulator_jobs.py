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


# A NAS trial as google/vertex-ai-nas trainers are written: read --nas_params_str, train (here: a formula of
# the architecture), report the metric as metrics_reporter.NasMetricsReporter does (JSON lines in the file
# named by CLOUD_ML_HP_METRIC_FILE, keyed by CLOUD_ML_HP_METRIC_TAG).
NAS_TRIAL = """
import argparse, json, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--nas_params_str")
args, _ = parser.parse_known_args()
params = json.loads(args.nas_params_str)
literal = {key: int(value.split("(")[1].rstrip(")")) for key, value in params.items()}
time.sleep(float(os.environ.get("TRIAL_SLEEP", "0")))
if os.environ.get("TRIAL_FAILS"):
    raise SystemExit(1)
value = literal["width"] * literal["depth"] / 48 + float(os.environ.get("BONUS", "0"))
with open(os.environ["CLOUD_ML_HP_METRIC_FILE"], "a") as metrics:
    metrics.write(json.dumps({os.environ["CLOUD_ML_HP_METRIC_TAG"]: str(value), "global_step": "10",
                              "model_flops": "0.0", "trial": os.environ["CLOUD_ML_TRIAL_ID"]}) + "\\n")
print(json.dumps({"trial": os.environ["CLOUD_ML_TRIAL_ID"], "job": os.environ["CLOUD_ML_JOB_ID"],
                  "model_dir": os.environ["AIP_MODEL_DIR"], "params": params}))
"""


def search_space_json() -> str:
    """6 architectures: width in {8, 16} x depth in {1, 2, 3}, as nasctl sends a space to Vertex."""
    import pyglove as pg

    return pg.search_space(pg.Dict(width=pg.oneof([8, 16]), depth=pg.oneof([1, 2, 3]))).to_json_str(
        hide_default_values=True)


def nas_job(*, algorithm: str | None = "GRID_SEARCH", max_trials: int = 6, parallel: int = 2, max_failed: int = 0,
            env: dict[str, str] | None = None, train: tuple[int, int] | None = None, resume: str | None = None,
            timeout_s: int | None = None, accelerators: int = 0) -> v1.NasJob:
    """A NasJob over :func:`search_space_json` running :data:`NAS_TRIAL`; `train` = (top N, frequency)."""
    algo = v1.NasJobSpec.MultiTrialAlgorithmSpec
    search = job_spec(NAS_TRIAL, env=env, output="gs://bucket/exp/nas/search", timeout_s=timeout_s,
                      accelerators=accelerators)
    multi = algo(search_trial_spec=algo.SearchTrialSpec(
        search_trial_job_spec=search, max_trial_count=max_trials, max_parallel_trial_count=parallel,
        max_failed_trial_count=max_failed))
    if train:
        multi.train_trial_spec = algo.TrainTrialSpec(
            train_trial_job_spec=job_spec(NAS_TRIAL, env={"BONUS": "1"}, output="gs://bucket/exp/nas/train"),
            max_parallel_trial_count=train[0], frequency=train[1])
    if resume:  # the space, algorithm and metric come from the resumed job
        spec = v1.NasJobSpec(multi_trial_algorithm_spec=multi, resume_nas_job_id=resume)
    else:
        multi.multi_trial_algorithm = algorithm
        multi.metric = algo.MetricSpec(metric_id="accuracy", goal="MAXIMIZE")
        spec = v1.NasJobSpec(multi_trial_algorithm_spec=multi, search_space_spec=search_space_json())
    return v1.NasJob(display_name="nas", nas_job_spec=spec, labels={"exp": "demo"})
