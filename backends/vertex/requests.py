"""Vertex AI requests: the JobServiceClient and the CustomJob / NasJob bodies nasctl sends.

Only ``google.cloud.aiplatform_v1`` (the low-level client, ~1.4 s to import; the high-level SDK
costs ~3 s) and only inside functions, so nothing here slows ``nasctl status``.
A trial's directory is ``<stagingUri>/<experiment>/<trial id>``; inside the job it is reached
through Vertex's Cloud Storage FUSE mount at ``/gcs/<bucket>/<path>``.

Every worker pool gives the image only ``args`` (``python -m <module> ...``): the image has no
entrypoint, so the args are its command, and a test harness can map the image to a local interpreter.
Every job spec carries an explicit ``scheduling.timeout`` (Vertex's default is 7 days, which would
kill a long stage-2 trial): the stage's ``timeoutSeconds``, else its ``hoursPerTrial`` with a margin,
else Vertex's 14-day maximum (what Google's NAS client sets on every trial), never above 14 days (7 days
for a machine with ``schedulingStrategy: FLEX_START``: Dynamic Workload Scheduler takes no longer job).
A NasJob's trial specs are the exception: they carry 14 days, as Google's NAS client sends them ("After
the timeout, the requested job gets cancelled. Note that this is not the timeout for trials."): a shorter
one could end the whole NasJob early (with FLEX_START they carry its 7 days, the most Vertex accepts). The trial's own limit goes to :mod:`trial.nas_entry` as
``--trial-timeout-seconds``, which ends a trial past it.
The backend's job options go into every request (CustomJob trials, latency jobs, both trial specs
of a NasJob): ``network`` / ``reservedIpRanges`` / ``pscInterfaceConfig`` and ``serviceAccount`` on
the job spec, ``encryptionSpec`` on the job; each machine's ``schedulingStrategy`` /
``maxWaitSeconds``, boot disk and ``replicaCount`` on its own job specs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from adaptors import gcp
from pricing.catalog import stage_resources
from specs.vertex import MAX_JOB_SECONDS, max_job_seconds
from state.records import SEARCH, TRAIN
from specs.model import VertexBackendSpec, VertexResourcesSpec
from trial.fuse import fuse_path, gs_uri
from trial.nas_entry import EXPERIMENT_ARG, JOB_DIR_ARG, TRIAL_TIMEOUT_ARG

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import (CustomJob, CustomJobSpec, EncryptionSpec, JobServiceClient, NasJob,
                                            Scheduling, WorkerPoolSpec)

TRIAL_MODULE = "trial.runner"  # CustomJob trials (our controllers)
NAS_TRIAL_MODULE = "trial.nas_entry"  # NasJob trials (Vertex's controllers)
LATENCY_MODULE = "trainers_jax.latency_calculator"  # measures a trial's saved model, writes its latency.json
TIMEOUT_MARGIN = 1.5  # a trial may run this much longer than its hoursPerTrial estimate
MIN_TIMEOUT_SECONDS = 3600.0


def make_job_client(backend: VertexBackendSpec) -> "JobServiceClient":
    """The regional JobServiceClient; `apiEndpoint` (e.g. a loopback emulator) replaces the default."""
    return gcp.job_client(backend.region, backend.api_endpoint)


def parent(backend: VertexBackendSpec) -> str:
    return f"projects/{backend.project}/locations/{backend.region}"


def trial_dir_uri(backend: VertexBackendSpec, experiment: str, trial_id: str) -> str:
    return f"{backend.staging_uri}/{experiment}/{trial_id}"


def nas_dir_uri(backend: VertexBackendSpec, experiment: str) -> str:
    """The experiment's NasJobs' directory: the spec their trials read, and one job dir per NasJob."""
    return f"{backend.staging_uri}/{experiment}/nas"


def nas_job_dir_uri(backend: VertexBackendSpec, experiment: str, run: str) -> str:
    """One NasJob's job dir: its trial ``<stage>-<id>`` writes its protocol files under it (trial.nas_entry).
    A dir per job, as Google's NAS client gives a resumed job a new output directory: whichever way Vertex
    numbers a resumed job's trials, they never write into an earlier job's trial folders."""
    return f"{nas_dir_uri(backend, experiment)}/{run}"


def nas_experiment_uri(backend: VertexBackendSpec, experiment: str) -> str:
    """Where the NasJob's trials read the experiment spec (written before the job is created)."""
    return f"{nas_dir_uri(backend, experiment)}/experiment.json"


def nas_trials_dir_uri(job: "NasJob") -> str | None:
    """The job dir a NasJob's trials write under, from its own search trial spec (``--job-dir``); None when
    the job carries no such spec."""
    spec = job.nas_job_spec.multi_trial_algorithm_spec.search_trial_spec.search_trial_job_spec
    args = list(spec.worker_pool_specs[0].container_spec.args) if spec.worker_pool_specs else []
    if JOB_DIR_ARG not in args[:-1]:
        return None
    return gs_uri(args[args.index(JOB_DIR_ARG) + 1])


def job_timeout_seconds(resources: VertexResourcesSpec, timeout_seconds: float | None) -> int:
    """The ``scheduling.timeout`` of one trial's job (see the module docstring)."""
    if timeout_seconds is not None:
        wanted = timeout_seconds
    elif resources.hours_per_trial is not None:
        wanted = max(MIN_TIMEOUT_SECONDS, resources.hours_per_trial * 3600 * TIMEOUT_MARGIN)
    else:
        wanted = MAX_JOB_SECONDS
    return int(min(wanted, max_job_seconds(resources.scheduling_strategy)))


def _worker_pools(backend: VertexBackendSpec, resources: VertexResourcesSpec, module: str,
                  args: list[str]) -> list["WorkerPoolSpec"]:
    """Vertex's multi-host layout: pool 0 the chief (1 replica), pool 1 the other ``replicaCount - 1``
    workers, all on the same machine with the same image and args (each replica learns its role from
    ``CLUSTER_SPEC``)."""
    v1 = gcp.aiplatform()
    machine = v1.MachineSpec(machine_type=resources.machine_type)
    if resources.accelerator_type:
        machine = v1.MachineSpec(machine_type=resources.machine_type, accelerator_type=resources.accelerator_type,
                                 accelerator_count=resources.accelerator_count)
    pool = v1.WorkerPoolSpec(
        machine_spec=machine, replica_count=1,
        container_spec=v1.ContainerSpec(image_uri=backend.container_image, args=["python", "-m", module, *args]),
    )
    if resources.boot_disk_type or resources.boot_disk_size_gb:
        pool.disk_spec = v1.DiskSpec(boot_disk_type=resources.boot_disk_type or "",
                                     boot_disk_size_gb=resources.boot_disk_size_gb or 0)
    if resources.replica_count == 1:
        return [pool]
    workers = v1.WorkerPoolSpec(pool)  # a copy
    workers.replica_count = resources.replica_count - 1
    return [pool, workers]


def _scheduling(resources: VertexResourcesSpec, timeout_seconds: float | None) -> "Scheduling":
    v1, duration_pb2 = gcp.aiplatform(), gcp.duration_pb2()
    scheduling = v1.Scheduling(timeout=duration_pb2.Duration(seconds=job_timeout_seconds(resources, timeout_seconds)))
    if resources.scheduling_strategy:
        scheduling.strategy = v1.Scheduling.Strategy[resources.scheduling_strategy]
    if resources.max_wait_seconds is not None:
        scheduling.max_wait_duration = duration_pb2.Duration(seconds=resources.max_wait_seconds)
    return scheduling


def encryption(backend: VertexBackendSpec) -> "EncryptionSpec | None":
    """The CMEK ``encryption_spec`` of every CustomJob and NasJob, or None."""
    if backend.encryption_spec is None:
        return None
    return gcp.aiplatform().EncryptionSpec(kms_key_name=backend.encryption_spec.kms_key_name)


def _job_spec(backend: VertexBackendSpec, resources: VertexResourcesSpec, module: str, args: list[str], output_uri: str,
              timeout_seconds: float | None) -> "CustomJobSpec":
    v1 = gcp.aiplatform()
    spec = v1.CustomJobSpec(
        worker_pool_specs=_worker_pools(backend, resources, module, args),
        base_output_directory=v1.GcsDestination(output_uri_prefix=output_uri),
        scheduling=_scheduling(resources, timeout_seconds),
        network=backend.network or "", reserved_ip_ranges=backend.reserved_ip_ranges,
    )
    if backend.psc_interface_config is not None:
        spec.psc_interface_config = v1.PscInterfaceConfig(
            network_attachment=backend.psc_interface_config.network_attachment)
    if backend.service_account:
        spec.service_account = backend.service_account
    if backend.tensorboard:  # Vertex uploads what the trial writes under AIP_TENSORBOARD_LOG_DIR
        spec.tensorboard = backend.tensorboard
    return spec


def custom_job(backend: VertexBackendSpec, experiment: str, trial_id: str, stage: str, labels: dict[str, str],
               timeout_seconds: float | None = None) -> "CustomJob":
    """One trial as a CustomJob: the trainer image runs ``trial.runner`` on the trial's FUSE-mounted directory."""
    v1 = gcp.aiplatform()

    trial_uri = trial_dir_uri(backend, experiment, trial_id)
    spec = _job_spec(backend, stage_resources(backend, stage), TRIAL_MODULE, [fuse_path(trial_uri)], trial_uri,
                     timeout_seconds)
    return v1.CustomJob(display_name=f"nasctl-{experiment}-{trial_id}"[:128], job_spec=spec, labels=labels,
                        encryption_spec=encryption(backend))


def latency_job(backend: VertexBackendSpec, experiment: str, trial_id: str, labels: dict[str, str]) -> "CustomJob":
    """The latency calculator for one trial, on the `latency` machine (the target device class)."""
    v1 = gcp.aiplatform()

    trial_uri = trial_dir_uri(backend, experiment, trial_id)
    spec = _job_spec(backend, backend.latency, LATENCY_MODULE, [fuse_path(trial_uri)], f"{trial_uri}/latency-job",
                     None)
    return v1.CustomJob(display_name=f"nasctl-{experiment}-{trial_id}-latency"[:128], job_spec=spec, labels=labels,
                        encryption_spec=encryption(backend))


def vertex_failure_limit(failure_budget: int) -> int:
    """``max_failed_trial_count`` for nasctl's budget: Vertex fails the job *at* that many failures (0 means
    "the service chooses"), nasctl fails an experiment *above* its budget; so a budget of 0 is a limit of 1."""
    return failure_budget + 1


def nas_job(backend: VertexBackendSpec, experiment: str, run: str, *, algorithm: str, search_space_json: str,
            metric: str, max_trials: int, parallel_trials: int, max_failed_trials: int, labels: dict[str, str],
            train_trials: int | None = None, train_frequency: int | None = None,
            search_timeout_seconds: float | None = None, train_timeout_seconds: float | None = None,
            resume_nas_job_id: str | None = None) -> "NasJob":
    """Stage 1 as one Vertex NasJob driven by Vertex's own controller (REINFORCEMENT_LEARNING, GRID_SEARCH).

    Trials run :mod:`trial.nas_entry`, which reads the experiment from :func:`nas_experiment_uri`, takes
    the architecture Vertex proposes and reports the reward back; they write under this job's own dir,
    named by `run` (:func:`nas_job_dir_uri`). With `train_trials` (``train.topN``),
    stage 2 trains that many of the best inside the same job (Vertex trains the top
    ``max_parallel_trial_count``) every `train_frequency` search trials (default: once, after the search).
    `max_failed_trials` is nasctl's failure budget (see :func:`vertex_failure_limit`). A resumed job
    (`resume_nas_job_id`) must not repeat the search space, the algorithm or the metric: Vertex takes
    them from the resumed job (the field's documentation; google/vertex-ai-nas clears them too).
    """
    v1 = gcp.aiplatform()

    algo = v1.NasJobSpec.MultiTrialAlgorithmSpec
    output = nas_job_dir_uri(backend, experiment, run)
    common = [EXPERIMENT_ARG, fuse_path(nas_experiment_uri(backend, experiment)), JOB_DIR_ARG, fuse_path(output)]

    def trial_args(stage: str, resources: VertexResourcesSpec, timeout_seconds: float | None) -> list[str]:
        return [*common, "--stage", stage, TRIAL_TIMEOUT_ARG, str(job_timeout_seconds(resources, timeout_seconds))]

    search_spec = _job_spec(backend, backend.search, NAS_TRIAL_MODULE,
                            trial_args(SEARCH, backend.search, search_timeout_seconds), f"{output}/search", MAX_JOB_SECONDS)
    multi = algo(search_trial_spec=algo.SearchTrialSpec(
        search_trial_job_spec=search_spec, max_trial_count=max_trials, max_parallel_trial_count=parallel_trials,
        max_failed_trial_count=vertex_failure_limit(max_failed_trials)))
    if train_trials:
        train_spec = _job_spec(backend, backend.train_resources, NAS_TRIAL_MODULE,
                               trial_args(TRAIN, backend.train_resources, train_timeout_seconds), f"{output}/train",
                               MAX_JOB_SECONDS)
        multi.train_trial_spec = algo.TrainTrialSpec(
            train_trial_job_spec=train_spec, max_parallel_trial_count=train_trials,
            frequency=train_frequency or max_trials)
    if resume_nas_job_id:
        spec = v1.NasJobSpec(multi_trial_algorithm_spec=multi, resume_nas_job_id=resume_nas_job_id)
    else:
        multi.multi_trial_algorithm = algorithm
        multi.metric = algo.MetricSpec(metric_id=metric, goal=algo.MetricSpec.GoalType.MAXIMIZE)
        spec = v1.NasJobSpec(multi_trial_algorithm_spec=multi, search_space_spec=search_space_json)
    return v1.NasJob(display_name=f"nasctl-{experiment}"[:128], nas_job_spec=spec, labels=labels,
                     encryption_spec=encryption(backend))
