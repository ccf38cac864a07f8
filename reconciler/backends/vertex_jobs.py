"""Vertex AI requests: the JobServiceClient and the CustomJob / NasJob bodies nasctl sends.

Only ``google.cloud.aiplatform_v1`` (the low-level client, ~1.4 s to import; the high-level SDK
costs ~3 s) and only inside functions, so nothing here slows ``nasctl status``.
A trial's directory is ``<stagingUri>/<experiment>/<trial id>``; inside the job it is reached
through Vertex's Cloud Storage FUSE mount at ``/gcs/<bucket>/<path>``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specs.model import VertexBackend, VertexResources

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import CustomJob, CustomJobSpec, JobServiceClient, NasJob

TRIAL_MODULE = "trainers_jax.run_trial"  # CustomJob trials (our controllers)
NAS_TRIAL_MODULE = "reconciler.backends.vertex_nas_trial"  # NasJob trials (Vertex's controllers)
LATENCY_MODULE = "latency.calculator"  # measures a trial's saved model, writes its latency.json


def make_job_client(backend: VertexBackend) -> "JobServiceClient":
    """The regional JobServiceClient; `apiEndpoint` (e.g. a loopback test server) replaces the default."""
    from google.cloud import aiplatform_v1  # noqa: PLC0415 - heavy

    if backend.api_endpoint:
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

        insecure = backend.api_endpoint.startswith("http://")
        return aiplatform_v1.JobServiceClient(
            transport="rest", client_options={"api_endpoint": backend.api_endpoint},
            credentials=AnonymousCredentials() if insecure else None,
        )
    return aiplatform_v1.JobServiceClient(
        client_options={"api_endpoint": f"{backend.region}-aiplatform.googleapis.com"})


def parent(backend: VertexBackend) -> str:
    return f"projects/{backend.project}/locations/{backend.region}"


def fuse_path(gs_uri: str) -> str:
    """``gs://bucket/a/b`` as seen inside a Vertex job: ``/gcs/bucket/a/b``."""
    if not gs_uri.startswith("gs://"):
        raise ValueError(f"expected a gs:// location, got {gs_uri!r}")
    return "/gcs/" + gs_uri[len("gs://"):]


def trial_dir_uri(backend: VertexBackend, experiment: str, trial_id: str) -> str:
    return f"{backend.staging_uri}/{experiment}/{trial_id}"


def stage_resources(backend: VertexBackend, stage: str) -> VertexResources:
    """Stage 2 runs on the train machine; every other stage (search, proxy-task tools) on the search one."""
    return backend.train_resources if stage == "train" else backend.search


def nas_experiment_uri(backend: VertexBackend, experiment: str) -> str:
    """Where the NasJob's trials read the experiment spec (written before the job is created)."""
    return f"{backend.staging_uri}/{experiment}/nas/experiment.json"


def _job_spec(backend: VertexBackend, resources: VertexResources, module: str, args: list[str], output_uri: str,
              timeout_seconds: float | None) -> "CustomJobSpec":
    from google.cloud import aiplatform_v1 as v1  # noqa: PLC0415
    from google.protobuf import duration_pb2  # noqa: PLC0415

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


def custom_job(backend: VertexBackend, experiment: str, trial_id: str, stage: str, labels: dict[str, str],
               timeout_seconds: float | None = None) -> "CustomJob":
    """One trial as a CustomJob: the trainer image runs ``run_trial`` on the trial's FUSE-mounted directory."""
    from google.cloud import aiplatform_v1 as v1  # noqa: PLC0415

    trial_uri = trial_dir_uri(backend, experiment, trial_id)
    spec = _job_spec(backend, stage_resources(backend, stage), TRIAL_MODULE, [fuse_path(trial_uri)], trial_uri,
                     timeout_seconds)
    return v1.CustomJob(display_name=f"nasctl-{experiment}-{trial_id}"[:128], job_spec=spec, labels=labels)


def latency_job(backend: VertexBackend, experiment: str, trial_id: str, labels: dict[str, str]) -> "CustomJob":
    """The latency calculator for one trial, on the `latency` machine (the target device class)."""
    from google.cloud import aiplatform_v1 as v1  # noqa: PLC0415

    trial_uri = trial_dir_uri(backend, experiment, trial_id)
    spec = _job_spec(backend, backend.latency, LATENCY_MODULE, [fuse_path(trial_uri)], f"{trial_uri}/latency-job",
                     None)
    return v1.CustomJob(display_name=f"nasctl-{experiment}-{trial_id}-latency"[:128], job_spec=spec, labels=labels)


def nas_job(backend: VertexBackend, experiment: str, *, algorithm: str, search_space_json: str, metric: str,
            max_trials: int, parallel_trials: int, max_failed_trials: int, labels: dict[str, str],
            train_trials: int | None = None, train_parallel: int | None = None,
            resume_nas_job_id: str | None = None) -> "NasJob":
    """Stage 1 as one Vertex NasJob driven by Vertex's own controller (REINFORCEMENT_LEARNING, GRID_SEARCH).

    Trials run :mod:`reconciler.backends.vertex_nas_trial`, which reads the experiment from
    :func:`nas_experiment_uri`, takes the architecture Vertex proposes and reports the reward back.
    With `train_trials`, stage 2 runs inside the same job every ``trainFrequency`` search trials.
    """
    from google.cloud import aiplatform_v1 as v1  # noqa: PLC0415

    algo = v1.NasJobSpec.MultiTrialAlgorithmSpec
    output = f"{backend.staging_uri}/{experiment}/nas"
    spec_file = ["--experiment-file", fuse_path(nas_experiment_uri(backend, experiment))]
    search_spec = _job_spec(backend, backend.search, NAS_TRIAL_MODULE, [*spec_file, "--stage", "search"],
                            f"{output}/search", None)
    multi = algo(
        multi_trial_algorithm=algorithm,
        metric=algo.MetricSpec(metric_id=metric, goal=algo.MetricSpec.GoalType.MAXIMIZE),
        search_trial_spec=algo.SearchTrialSpec(search_trial_job_spec=search_spec, max_trial_count=max_trials,
                                               max_parallel_trial_count=parallel_trials,
                                               max_failed_trial_count=max_failed_trials),
    )
    if train_trials:
        train_spec = _job_spec(backend, backend.train_resources, NAS_TRIAL_MODULE, [*spec_file, "--stage", "train"],
                               f"{output}/train", None)
        multi.train_trial_spec = algo.TrainTrialSpec(
            train_trial_job_spec=train_spec, max_parallel_trial_count=train_parallel or train_trials,
            frequency=backend.train_frequency or max_trials)
    spec = v1.NasJobSpec(multi_trial_algorithm_spec=multi, search_space_spec=search_space_json)
    if resume_nas_job_id:
        spec.resume_nas_job_id = resume_nas_job_id
    return v1.NasJob(display_name=f"nasctl-{experiment}"[:128], nas_job_spec=spec, labels=labels)
