"""Vertex AI requests: the JobServiceClient and the CustomJob / NasJob bodies nasctl sends.

Only ``google.cloud.aiplatform_v1`` (the low-level client, ~1.4 s to import; the high-level SDK
costs ~3 s) and only inside functions, so nothing here slows ``nasctl status``.
A trial's directory is ``<stagingUri>/<experiment>/<trial id>``; inside the job it is reached
through Vertex's Cloud Storage FUSE mount at ``/gcs/<bucket>/<path>``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adaptors import gcp
from state.records import SEARCH, TRAIN
from specs.model import VertexBackendSpec, VertexResourcesSpec

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import CustomJob, CustomJobSpec, JobServiceClient, NasJob

TRIAL_MODULE = "trial.runner"  # CustomJob trials (our controllers)
NAS_TRIAL_MODULE = "trial.nas_entry"  # NasJob trials (Vertex's controllers)
LATENCY_MODULE = "trainers_jax.latency_calculator"  # measures a trial's saved model, writes its latency.json


def make_job_client(backend: VertexBackendSpec) -> "JobServiceClient":
    """The regional JobServiceClient; `apiEndpoint` (e.g. a loopback emulator) replaces the default."""
    return gcp.job_client(backend.region, backend.api_endpoint)


def parent(backend: VertexBackendSpec) -> str:
    return f"projects/{backend.project}/locations/{backend.region}"


def fuse_path(gs_uri: str) -> str:
    """``gs://bucket/a/b`` as seen inside a Vertex job: ``/gcs/bucket/a/b``."""
    if not gs_uri.startswith("gs://"):
        raise ValueError(f"expected a gs:// location, got {gs_uri!r}")
    return "/gcs/" + gs_uri[len("gs://"):]


def trial_dir_uri(backend: VertexBackendSpec, experiment: str, trial_id: str) -> str:
    return f"{backend.staging_uri}/{experiment}/{trial_id}"


def stage_resources(backend: VertexBackendSpec, stage: str) -> VertexResourcesSpec:
    """Stage 2 runs on the train machine; every other stage (search, proxy-task tools) on the search one."""
    return backend.train_resources if stage == TRAIN else backend.search


def nas_experiment_uri(backend: VertexBackendSpec, experiment: str) -> str:
    """Where the NasJob's trials read the experiment spec (written before the job is created)."""
    return f"{backend.staging_uri}/{experiment}/nas/experiment.json"


def _job_spec(backend: VertexBackendSpec, resources: VertexResourcesSpec, module: str, args: list[str], output_uri: str,
              timeout_seconds: float | None) -> "CustomJobSpec":
    v1, duration_pb2 = gcp.aiplatform(), gcp.duration_pb2()

    machine: dict[str, Any] = {"machine_type": resources.machine_type}
    if resources.accelerator_type:
        machine.update(accelerator_type=resources.accelerator_type, accelerator_count=resources.accelerator_count)
    spec = v1.CustomJobSpec(
        worker_pool_specs=[v1.WorkerPoolSpec(
            machine_spec=v1.MachineSpec(**machine), replica_count=1,
            container_spec=v1.ContainerSpec(image_uri=backend.container_image, command=["python"],
                                            args=["-m", module, *args]),
        )],
        base_output_directory=v1.GcsDestination(output_uri_prefix=output_uri),
    )
    if backend.service_account:
        spec.service_account = backend.service_account
    if timeout_seconds is not None:
        spec.scheduling = v1.Scheduling(timeout=duration_pb2.Duration(seconds=int(timeout_seconds)))
    return spec


def custom_job(backend: VertexBackendSpec, experiment: str, trial_id: str, stage: str, labels: dict[str, str],
               timeout_seconds: float | None = None) -> "CustomJob":
    """One trial as a CustomJob: the trainer image runs ``trial.runner`` on the trial's FUSE-mounted directory."""
    v1 = gcp.aiplatform()

    trial_uri = trial_dir_uri(backend, experiment, trial_id)
    spec = _job_spec(backend, stage_resources(backend, stage), TRIAL_MODULE, [fuse_path(trial_uri)], trial_uri,
                     timeout_seconds)
    return v1.CustomJob(display_name=f"nasctl-{experiment}-{trial_id}"[:128], job_spec=spec, labels=labels)


def latency_job(backend: VertexBackendSpec, experiment: str, trial_id: str, labels: dict[str, str]) -> "CustomJob":
    """The latency calculator for one trial, on the `latency` machine (the target device class)."""
    v1 = gcp.aiplatform()

    trial_uri = trial_dir_uri(backend, experiment, trial_id)
    spec = _job_spec(backend, backend.latency, LATENCY_MODULE, [fuse_path(trial_uri)], f"{trial_uri}/latency-job",
                     None)
    return v1.CustomJob(display_name=f"nasctl-{experiment}-{trial_id}-latency"[:128], job_spec=spec, labels=labels)


def nas_job(backend: VertexBackendSpec, experiment: str, *, algorithm: str, search_space_json: str, metric: str,
            max_trials: int, parallel_trials: int, max_failed_trials: int, labels: dict[str, str],
            train_trials: int | None = None, train_frequency: int | None = None,
            resume_nas_job_id: str | None = None) -> "NasJob":
    """Stage 1 as one Vertex NasJob driven by Vertex's own controller (REINFORCEMENT_LEARNING, GRID_SEARCH).

    Trials run :mod:`trial.nas_entry`, which reads the experiment from
    :func:`nas_experiment_uri`, takes the architecture Vertex proposes and reports the reward back.
    With `train_trials` (the spec's ``train.topN``), stage 2 trains that many of the best inside the same job,
    every `train_frequency` search trials (``train.frequency``; default: once, after the search).
    """
    v1 = gcp.aiplatform()

    algo = v1.NasJobSpec.MultiTrialAlgorithmSpec
    output = f"{backend.staging_uri}/{experiment}/nas"
    spec_file = ["--experiment-file", fuse_path(nas_experiment_uri(backend, experiment))]
    search_spec = _job_spec(backend, backend.search, NAS_TRIAL_MODULE, [*spec_file, "--stage", SEARCH],
                            f"{output}/search", None)
    multi = algo(
        multi_trial_algorithm=algorithm,
        metric=algo.MetricSpec(metric_id=metric, goal=algo.MetricSpec.GoalType.MAXIMIZE),
        search_trial_spec=algo.SearchTrialSpec(search_trial_job_spec=search_spec, max_trial_count=max_trials,
                                               max_parallel_trial_count=parallel_trials,
                                               max_failed_trial_count=max_failed_trials),
    )
    if train_trials:
        train_spec = _job_spec(backend, backend.train_resources, NAS_TRIAL_MODULE, [*spec_file, "--stage", TRAIN],
                               f"{output}/train", None)
        multi.train_trial_spec = algo.TrainTrialSpec(
            train_trial_job_spec=train_spec, max_parallel_trial_count=train_trials,
            frequency=train_frequency or max_trials)
    spec = v1.NasJobSpec(multi_trial_algorithm_spec=multi, search_space_spec=search_space_json)
    if resume_nas_job_id:
        spec.resume_nas_job_id = resume_nas_job_id
    return v1.NasJob(display_name=f"nasctl-{experiment}"[:128], nas_job_spec=spec, labels=labels)
