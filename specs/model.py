"""The NASExperiment API: pydantic models with explicit, documented defaults.

YAML keys are camelCase (``maxTrials``); Python attributes are snake_case. Unknown keys are errors.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from specs.vertex import (
    MAX_BOOT_DISK_GB,
    MAX_JOB_SECONDS,
    MIN_BOOT_DISK_GB,
    check_accelerator,
    check_boot_disk_type,
    check_ip_range_name,
    check_kms_key,
    check_network,
    check_network_attachment,
    check_region,
    check_strategy,
)
from specs.vertex_machines import flex_start_problem, machine_problem

API_VERSION = "nasctl.dev/v1alpha1"
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TENSORBOARD_RE = re.compile(r"projects/[^/]+/locations/[^/]+/tensorboards/[^/]+")
_MODULE_FUNCTION_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


# Bounds that keep a spec that validates cheap to plan (a billion trials would be a billion plan actions).
MAX_TRIALS = 100_000
MAX_PARALLEL = 10_000
MAX_MODELS = 10_000


class SpecModel(BaseModel):
    """Base of every spec model: camelCase keys, unknown keys rejected, finite numbers, no booleans as
    numbers, validated on assignment."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True,
        allow_inf_nan=False,
    )

    @classmethod
    def _annotation(cls, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        return field.annotation if field is not None else None

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            annotation = str(cls._annotation(info))
            if ("int" in annotation or "float" in annotation) and "bool" not in annotation:
                raise ValueError("expected a number, got a boolean")
        return value


def _check_module_function(value: str | None) -> str | None:
    if value is not None and not _MODULE_FUNCTION_RE.match(value):
        raise ValueError(f"expected 'package.module:function', got {value!r}")
    return value


class MetadataSpec(SpecModel):
    name: str = Field(description="Experiment name: lowercase letters, digits and '-', at most 63 characters.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ValueError("expected lowercase letters, digits and '-', starting and ending alphanumeric, ≤ 63 chars")
        return value


class LocalBackendSpec(SpecModel):
    """Trials run as subprocesses of `nasctl apply` on this machine."""

    type: Literal["local"] = "local"
    gpus: list[int] = Field(
        default_factory=list,
        description="GPU ids trials may use; empty = CPU only. Each trial gets one GPU slot.",
    )
    trials_per_gpu: int = Field(1, ge=1, le=64, description="Trials packed on one GPU (each gets 1/N of its memory).")
    poll_seconds: float = Field(0.2, gt=0, description="How often apply polls running trials.")
    trial_hour_usd: float = Field(
        0.0, ge=0, description="USD one trial-hour costs here (e.g. a rented GPU box's hourly price ÷ trials at "
                               "once), for the cost preview and spec.budget; 0 = the machine is already paid for.")


# Vertex AI NAS's own controllers: with one of them, stage 1 runs as a single Vertex NasJob.
VERTEX_ALGORITHMS = ("REINFORCEMENT_LEARNING", "GRID_SEARCH")


class VertexResourcesSpec(SpecModel):
    """The machine one trial (or the latency calculator) gets on Vertex AI."""

    machine_type: str = Field("n1-standard-8", description="Compute Engine machine type, e.g. 'n1-highmem-16'.")
    accelerator_type: str | None = Field(
        None, description="Vertex accelerator enum name, e.g. 'NVIDIA_TESLA_T4'; none = CPU only."
    )
    accelerator_count: int = Field(0, ge=0, description="Accelerators per trial.")
    hours_per_trial: float | None = Field(
        None, gt=0, le=MAX_JOB_SECONDS / 3600,
        description="Expected hours per trial, for the cost preview (measured hours win once trials finish); also "
                    "the job's limit, × 1.5, unless the stage sets timeoutSeconds. A Vertex job runs 14 days at most."
    )
    replica_count: int = Field(
        1, ge=1, description="Machines per trial (multi-host): pool 0 is the chief, pool 1 the other "
                                      "replicaCount-1 workers, all with this machine, image and args.")
    boot_disk_type: str | None = Field(
        None, description="Boot disk type: pd-ssd (Vertex's default), pd-standard or hyperdisk-balanced.")
    boot_disk_size_gb: int | None = Field(
        None, ge=MIN_BOOT_DISK_GB, le=MAX_BOOT_DISK_GB, description="Boot disk size in GB (Vertex's default: 100).")
    scheduling_strategy: str | None = Field(
        None, description="STANDARD (on-demand, Vertex's default), SPOT (cheaper, can be preempted) or FLEX_START "
                          "(waits for capacity).")
    max_wait_seconds: int | None = Field(
        None, ge=0, description="FLEX_START only: how long a job may wait for its machines (Vertex's default 24 h; "
                                "0 = no limit).")

    _known_accelerator = field_validator("accelerator_type")(check_accelerator)
    _known_strategy = field_validator("scheduling_strategy")(check_strategy)
    _known_disk_type = field_validator("boot_disk_type")(check_boot_disk_type)

    @field_validator("scheduling_strategy")
    @classmethod
    def _flex_start_rules(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "FLEX_START" and (problem := flex_start_problem(info.data.get("accelerator_type"),
                                                                     info.data.get("hours_per_trial"))):
            raise ValueError(problem)
        return value

    @field_validator("max_wait_seconds")
    @classmethod
    def _flex_start_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("scheduling_strategy") != "FLEX_START":
            raise ValueError("maxWaitSeconds applies to schedulingStrategy FLEX_START only")
        return value

    @model_validator(mode="after")
    def _accelerator_consistent(self) -> "VertexResourcesSpec":
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise ValueError("set acceleratorType and acceleratorCount together (or neither)")
        problem = machine_problem(self.machine_type, self.accelerator_type, self.accelerator_count)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def gpus(self) -> int:
        """Accelerators one trial holds: every replica's."""
        return self.accelerator_count * self.replica_count


class PriceOverridesSpec(SpecModel):
    """Hourly USD prices that replace the bundled catalog's (for discounts or regions it lacks)."""

    machines: dict[str, float] = Field(default_factory=dict, description="{machine type: USD per hour}.")
    accelerators: dict[str, float] = Field(default_factory=dict, description="{accelerator: USD per hour}.")
    nas_multiplier: float | None = Field(None, gt=0, description="Factor on trial-hours billed inside a NasJob.")
    spot_multiplier: float | None = Field(
        None, gt=0, le=1, description="Spot price as a share of the on-demand price (schedulingStrategy SPOT).")
    disks: dict[str, float] = Field(default_factory=dict, description="{boot disk type: USD per GB-hour}.")


class VertexRetrySpec(SpecModel):
    """Deadlines and retries of Vertex API calls (transient 429/5xx errors and stalled connections)."""

    call_timeout_seconds: float = Field(60.0, gt=0, description="Deadline of one attempt of one call.")
    initial_backoff_seconds: float = Field(1.0, gt=0, description="First wait before a retry; doubles each time.")
    max_backoff_seconds: float = Field(30.0, gt=0, description="Longest wait between two attempts.")
    total_seconds: float = Field(600.0, gt=0, description="Give up on a call after this long.")


class PscInterfaceSpec(SpecModel):
    """Private Service Connect interface (PSC-I): the jobs reach your VPC through a network attachment."""

    network_attachment: str = Field(description="Attachment name, or projects/P/regions/REGION/networkAttachments/N.")

    @field_validator("network_attachment")
    @classmethod
    def _attachment_format(cls, value: str) -> str:
        return check_network_attachment(value, None)


class EncryptionSpec(SpecModel):
    """Customer-managed encryption key (CMEK) of the jobs' resources."""

    kms_key_name: str = Field(description="projects/P/locations/REGION/keyRings/R/cryptoKeys/K, in the jobs' region.")

    @field_validator("kms_key_name")
    @classmethod
    def _key_format(cls, value: str) -> str:
        return check_kms_key(value, None)


class VertexBackendSpec(SpecModel):
    """Trials run on Vertex AI: one NasJob (Vertex's controllers) or one CustomJob per trial (ours)."""

    type: Literal["vertex"]
    project: str = Field(description="Google Cloud project id.")
    region: str = Field("us-central1", description="Vertex AI region.")
    service_account: str | None = Field(None, description="Service account the jobs run as.")
    network: str | None = Field(
        None, description="VPC network the jobs peer with: projects/PROJECT_NUMBER/global/networks/NAME.")
    reserved_ip_ranges: list[str] = Field(
        default_factory=list, description="Reserved IP ranges of `network` the jobs are placed in (names).")
    psc_interface_config: PscInterfaceSpec | None = Field(
        None, description="Private Service Connect interface (a network attachment) of every job.")
    encryption_spec: EncryptionSpec | None = Field(
        None, description="Customer-managed key (CMEK) of every CustomJob and NasJob.")
    tensorboard: str | None = Field(
        None, description="Vertex TensorBoard resource (projects/P/locations/L/tensorboards/ID) that CustomJob "
                          "trials upload their curves to; needs serviceAccount.")
    container_image: str = Field(description="Trainer image (see `nasctl build`), e.g. 'us-docker.pkg.dev/p/r/trainer:1'.")
    staging_uri: str = Field(description="gs:// folder holding each trial's directory (protocol files, checkpoints).")
    search: VertexResourcesSpec = Field(default_factory=VertexResourcesSpec, description="Stage-1 trial machine.")
    train: VertexResourcesSpec | None = Field(None, description="Stage-2 trial machine; default: the stage-1 machine.")
    latency: VertexResourcesSpec | None = Field(
        None, description="Latency-calculator machine (a CustomJob driven by apply); none = no calculator job."
    )
    gpu_quota: int | None = Field(None, ge=0, description=(
        "GPUs of the accelerator type this project may use at once (Spot GPUs have a quota of their own)."))
    prices: PriceOverridesSpec = Field(default_factory=PriceOverridesSpec, description="Overrides of the price catalog.")
    api_endpoint: str | None = Field(None, description="Vertex API endpoint override (private endpoints, tests).")
    poll_seconds: float = Field(60.0, gt=0, description="How often `apply` polls Vertex jobs.")
    retry: VertexRetrySpec = Field(default_factory=VertexRetrySpec, description="Deadlines and retries of API calls.")

    _known_region = field_validator("region")(check_region)
    _network_format = field_validator("network")(check_network)

    @field_validator("reserved_ip_ranges")
    @classmethod
    def _ranges_need_network(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and "network" in info.data and not info.data["network"]:  # (a malformed network has its error)
            raise ValueError("reservedIpRanges are ranges of `network`: set network too")
        return [check_ip_range_name(name) for name in value]

    @field_validator("psc_interface_config")
    @classmethod
    def _attachment_in_region(cls, value: PscInterfaceSpec | None, info: ValidationInfo) -> PscInterfaceSpec | None:
        if value is not None:
            check_network_attachment(value.network_attachment, info.data.get("region"))
        return value

    @field_validator("encryption_spec")
    @classmethod
    def _key_in_region(cls, value: EncryptionSpec | None, info: ValidationInfo) -> EncryptionSpec | None:
        if value is not None:
            check_kms_key(value.kms_key_name, info.data.get("region"))
        return value

    @field_validator("latency")
    @classmethod
    def _one_latency_machine(cls, value: VertexResourcesSpec | None) -> VertexResourcesSpec | None:
        if value is not None and value.replica_count != 1:
            raise ValueError("the latency calculator measures on one machine: latency.replicaCount must be 1")
        return value

    @field_validator("staging_uri")
    @classmethod
    def _gs_only(cls, value: str) -> str:
        if not value.startswith("gs://") or not value[len("gs://"):].split("/", 1)[0]:
            raise ValueError("expected gs://bucket/prefix")
        return value.rstrip("/")

    @property
    def train_resources(self) -> VertexResourcesSpec:
        return self.train or self.search

    @model_validator(mode="after")
    def _tensorboard_needs_service_account(self) -> "VertexBackendSpec":
        if self.tensorboard is not None and self.service_account is None:
            raise ValueError("tensorboard needs serviceAccount: Vertex uploads the curves as that account")
        if self.tensorboard is not None and not _TENSORBOARD_RE.fullmatch(self.tensorboard):
            raise ValueError("tensorboard: expected projects/PROJECT/locations/REGION/tensorboards/ID")
        return self


def _backend_type(value: Any) -> str:
    """The backend's `type`, defaulting to 'local' so specs written before `type` existed still load."""
    if isinstance(value, dict):
        return value.get("type", "local")
    return getattr(value, "type", "local")


Backend = Annotated[
    Annotated[LocalBackendSpec, Tag("local")] | Annotated[VertexBackendSpec, Tag("vertex")],
    Discriminator(_backend_type),
]



class SearchSpaceSpec(SpecModel):
    """Exactly one of `prebuilt`, `function` or `choices`."""

    prebuilt: str | None = Field(None, description="Name of a prebuilt space, e.g. 'nb201'.")
    function: str | None = Field(None, description="'module:function' returning a PyGlove hyper value.")
    choices: dict[str, list[Any]] | None = Field(
        None, description="Inline categorical choices: {decision name: [candidates]}."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments for a prebuilt space or function.")

    _check_function = field_validator("function")(_check_module_function)

    @model_validator(mode="after")
    def _exactly_one(self) -> "SearchSpaceSpec":
        given = [k for k in ("prebuilt", "function", "choices") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"set exactly one of prebuilt, function, choices (got {given or 'none'})")
        if self.choices is not None:
            empty = [name for name, values in self.choices.items() if not values]
            if empty or not self.choices:
                raise ValueError(f"every choice needs at least one candidate (empty: {empty or 'no choices'})")
        return self


class TrainerSpec(SpecModel):
    """Exactly one of `prebuilt`, `module` or `command`."""

    prebuilt: str | None = Field(None, description="Name of a prebuilt trainer, e.g. 'nb201-tabular'.")
    module: str | None = Field(None, description="'module:function' called with a TrialContext (custom trainer API).")
    command: list[str] | None = Field(
        None, description="Executable and arguments; run with NASCTL_TRIAL_DIR set to the trial directory."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Trainer arguments shared by every stage.")

    _check_module = field_validator("module")(_check_module_function)

    @model_validator(mode="after")
    def _exactly_one(self) -> "TrainerSpec":
        given = [k for k in ("prebuilt", "module", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"set exactly one of prebuilt, module, command (got {given or 'none'})")
        if self.command is not None and not self.command:
            raise ValueError("command must name an executable")
        return self


class ObjectiveTargetSpec(SpecModel):
    """A latency (or FLOPs) or memory term of the MnasNet/Vertex reward."""

    metric: str = Field(description="Metric reported by the trainer or latency calculator, e.g. 'latency_ms'.")
    target: float = Field(gt=0, description="Target value; the reward is penalised above it.")
    weight: float = Field(1.0, description="Exponent w in (target/measured)^w.")


class RewardSpec(SpecModel):
    """reward = metric × (target/latency)^w × (target/memory)^w, each factor capped at 1 in 'hard' mode."""

    metric: str = Field("accuracy", description="Metric to maximise (reported by the trainer).")
    latency: ObjectiveTargetSpec | None = Field(None, description="Latency (or FLOPs) term; none = no penalty.")
    memory: ObjectiveTargetSpec | None = Field(None, description="Memory term; none = no penalty.")
    limit: Literal["hard", "soft"] = Field(
        "hard", description="hard: factors capped at 1 (Vertex default); soft: MnasNet (measured/target)^beta."
    )
    soft_exponent: float = Field(-0.07, description="beta of the soft form (MnasNet: -0.07).")


class StageTrainerOverridesSpec(SpecModel):
    trainer_args: dict[str, Any] = Field(
        default_factory=dict, description="Merged over trainer.args for this stage's trials."
    )
    timeout_seconds: float | None = Field(None, gt=0, description="A trial running longer is stopped (reason timeout).")


class SearchStageSpec(StageTrainerOverridesSpec):
    """Stage 1: the controller proposes architectures, each trained with the proxy task."""

    algorithm: str = Field("bayesopt", description="Search controller: bayesopt (default), random, grid, evolution, reinforce.")
    algorithm_settings: dict[str, Any] = Field(default_factory=dict, description="Controller-specific settings.")
    max_trials: int = Field(ge=1, le=MAX_TRIALS, description="Stage-1 trials in total (failed ones included).")
    parallel_trials: int = Field(1, ge=1, le=MAX_PARALLEL, description="Trials running at once.")
    max_failed_trials: int | None = Field(
        None, ge=0, description="Failures tolerated before the experiment fails; default 20 % of maxTrials."
    )
    nan_counts_as_failure: bool = Field(
        True, description="A trial whose loss became NaN counts against maxFailedTrials (Vertex's default); false: it "
                          "is still recorded as failed (reason nan), and the controller learns from it, but it does not "
                          "count, for spaces where some architectures diverge."
    )
    seed: int = Field(0, description="Seed of the controller: same seed, same proposals.")
    use_best_proxy_task: bool = Field(
        False, description="Train with the proxyTaskSearch winner's args and finalTrainingSteps (cosine decay to it)."
    )

    @model_validator(mode="after")
    def _consistent_counts(self) -> "SearchStageSpec":
        if self.parallel_trials > self.max_trials:
            raise ValueError(
                f"parallelTrials ({self.parallel_trials}) must not exceed maxTrials ({self.max_trials})"
            )
        return self

    @property
    def failure_budget(self) -> int:
        """Failures allowed: explicit, or 20 % of maxTrials as in Vertex's guidance."""
        if self.max_failed_trials is not None:
            return self.max_failed_trials
        return int(self.max_trials * 0.2)


class TrainStageSpec(StageTrainerOverridesSpec):
    """Stage 2: the top-N stage-1 architectures trained fully."""

    top_n: int = Field(10, ge=1, le=MAX_TRIALS, description="How many of the best stage-1 architectures to train.")
    frequency: int | None = Field(
        None, ge=1,
        description="Also train the current top N every this many finished search trials (Vertex's train_frequency).",
    )
    parallel_trials: int = Field(1, ge=1, le=MAX_PARALLEL, description="Trials running at once.")
    max_failed_trials: int | None = Field(None, ge=0, description="Default: all may fail without failing the experiment.")


# -- proxy-task design tools (Vertex's three controller jobs, here stages of one experiment) ----------
_CANDIDATE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class VarianceMeasurementSpec(StageTrainerOverridesSpec):
    """Tool 1: find a workable model, train copies of it with the proxy settings (`trainerArgs`), report
    the coefficient of variation of their final accuracy and the smoothness of their curves."""

    copies: int = Field(5, ge=2, le=MAX_MODELS, description="Copies of the workable model trained with the proxy settings.")
    max_workable_attempts: int = Field(
        10, ge=1, le=MAX_MODELS, description="Random models tried (each a short training) to find one without NaN/OOM."
    )
    workable_fraction: float = Field(
        0.01, gt=0, le=1, description="Share of training an attempt must complete to count as workable."
    )
    max_cv: float = Field(0.4, gt=0, description="Good if the coefficient of variation is at most this.")
    max_smoothness: float = Field(
        10.0, gt=0, description="Good if the smoothness (Vertex's definition) is at most this."
    )
    parallel_trials: int = Field(1, ge=1, le=MAX_PARALLEL, description="Trials running at once.")
    seed: int = Field(0, description="Seed of the random attempts and of the copies' training seeds.")


class ModelSelectionSpec(StageTrainerOverridesSpec):
    """Tool 2: from `startModels` random models, keep `finalModels` with a good spread of (accuracy,
    latency), trained to completion with the baseline (full) training in `trainerArgs`."""

    start_models: int = Field(30, ge=3, le=MAX_MODELS, description="Random models to start from.")
    final_models: int = Field(10, ge=2, le=MAX_MODELS, description="Reference models kept and trained to completion.")
    remove_per_round: int = Field(5, ge=1, description="Models removed per round (failures included).")
    max_failure_fraction: float = Field(
        0.2, ge=0, le=1, description="Abort when more than this share of startModels has failed (Vertex: 20 %)."
    )
    latency_metric: str | None = Field(
        None, description="Latency metric of the spread; default: reward.latency.metric, if any."
    )
    parallel_trials: int = Field(1, ge=1, le=MAX_PARALLEL, description="Trials running at once.")
    seed: int = Field(0, description="Seed of the random starting models.")

    @model_validator(mode="after")
    def _shrinks(self) -> "ModelSelectionSpec":
        if self.final_models > self.start_models:
            raise ValueError(f"finalModels ({self.final_models}) must not exceed startModels ({self.start_models})")
        return self


class ProxyTaskCandidateSpec(SpecModel):
    name: str = Field(description="Candidate name (letters, digits, '_', '-', '.').")
    trainer_args: dict[str, Any] = Field(
        default_factory=dict, description="Merged over the baseline (trainer.args + modelSelection.trainerArgs)."
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _CANDIDATE_NAME_RE.match(value):
            raise ValueError("expected letters, digits, '_', '-' or '.', at most 63 characters")
        return value


class ProxyTaskSearchSpec(SpecModel):
    """Tool 3: retrain the model-selection reference models with each candidate proxy task and stop it
    when its Kendall τ against their full-training scores reaches `desiredCorrelation`."""

    candidates: list[ProxyTaskCandidateSpec] = Field(default_factory=list, max_length=100,
                                                     description="Candidate proxy tasks.")
    generator: str | None = Field(
        None, description="'module:function' given the baseline trainer args, returning [{name, trainerArgs}]."
    )
    desired_correlation: float | None = Field(0.65, ge=-1, le=1, description="Stop once τ reaches this (success).")
    desired_accuracy: float | None = Field(None, description="Stop once the median accuracy reaches this (success).")
    max_training_hours: float | None = Field(None, gt=0, description="Stop once the median model trained this long.")
    stop_if_slower_than_best: bool = Field(False, description="Stop a candidate already slower than the best one.")
    desired_latency_correlation: float = Field(
        0.65, ge=-1, le=1, description="When latency is measured, a success also needs this latency τ."
    )
    min_pairs: int = Field(5, ge=2, description="τ needs at least this many models with both scores.")
    min_valid_ratio: float = Field(0.7, ge=0, le=1, description="... and this share of the reference models.")
    steps_arg: str = Field("steps", description="Trainer arg holding the step count (set to finalTrainingSteps).")
    parallel_trials: int = Field(1, ge=1, le=MAX_PARALLEL, description="Trials running at once.")
    timeout_seconds: float | None = Field(None, gt=0, description="A trial running longer is stopped.")

    _check_generator = field_validator("generator")(_check_module_function)

    @model_validator(mode="after")
    def _has_candidates(self) -> "ProxyTaskSearchSpec":
        if not self.candidates and self.generator is None:
            raise ValueError("set candidates, generator, or both")
        names = [c.name for c in self.candidates]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"candidate names must be unique (repeated: {duplicates})")
        if self.desired_correlation is None and self.desired_accuracy is None:
            raise ValueError("set desiredCorrelation or desiredAccuracy: nothing would ever succeed")
        return self


class BudgetSpec(SpecModel):
    """A spending limit: no trial of any stage is launched whose expected cost would take the committed
    spend (finished trials' cost + running trials' expected cost) above maxCostUsd."""

    max_cost_usd: float = Field(gt=0, description="USD the experiment may commit, all stages together.")


class ExperimentSpec(SpecModel):
    backend: Backend = Field(default_factory=LocalBackendSpec, description="Where trials run: local or vertex.")
    state_uri: str = Field(
        ".nasctl", description="Where state is recorded: a directory (bare path or file://) or gs://bucket/prefix."
    )
    search_space: SearchSpaceSpec
    trainer: TrainerSpec
    reward: RewardSpec = Field(default_factory=RewardSpec)
    search: SearchStageSpec
    train: TrainStageSpec | None = Field(None, description="Stage-2 full training; omit to stop after search.")
    variance_measurement: VarianceMeasurementSpec | None = Field(
        None, description="Proxy-task tool 1, run before the search; omit to skip."
    )
    model_selection: ModelSelectionSpec | None = Field(
        None, description="Proxy-task tool 2, run before the search; omit to skip."
    )
    proxy_task_search: ProxyTaskSearchSpec | None = Field(
        None, description="Proxy-task tool 3 (needs modelSelection), run before the search; omit to skip."
    )
    budget: BudgetSpec | None = Field(None, description="Stop launching trials past this spend; omit for no limit.")

    @field_validator("state_uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an empty state location; expected a path, file:// or gs:// (default: .nasctl)")
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in ("", "file", "gs"):
            raise ValueError(f"unsupported state location scheme {scheme!r}; expected a path, file:// or gs://")
        if scheme == "gs" and not value[len("gs://"):].split("/", 1)[0]:
            raise ValueError("a gs:// state location needs a bucket: gs://bucket/prefix")
        return value

    @field_validator("train")
    @classmethod
    def _top_n_within_search(cls, train: TrainStageSpec | None, info: ValidationInfo) -> TrainStageSpec | None:
        """A field validator (search is validated before train), so the error is reported at spec.train."""
        search = info.data.get("search")
        if train is not None and search is not None and train.top_n > search.max_trials:
            raise ValueError(f"topN ({train.top_n}) is more than search.maxTrials ({search.max_trials}): stage 2 "
                             "cannot train more architectures than stage 1 finds")
        return train

    @model_validator(mode="after")
    def _proxy_search_needs_references(self) -> "ExperimentSpec":
        if self.proxy_task_search is not None and self.model_selection is None:
            raise ValueError("proxyTaskSearch retrains the modelSelection reference models: add modelSelection")
        if self.search.use_best_proxy_task and self.proxy_task_search is None:
            raise ValueError("search.useBestProxyTask needs a proxyTaskSearch stage")
        return self

    @model_validator(mode="after")
    def _vertex_algorithms_need_vertex(self) -> "ExperimentSpec":
        if self.search.algorithm in VERTEX_ALGORITHMS and self.backend.type != "vertex":
            raise ValueError(f"algorithm {self.search.algorithm} is Vertex AI NAS's own; it needs backend type vertex")
        proxy = [name for name, stage in (("varianceMeasurement", self.variance_measurement),
                                          ("modelSelection", self.model_selection),
                                          ("proxyTaskSearch", self.proxy_task_search)) if stage is not None]
        if self.search.algorithm in VERTEX_ALGORITHMS and not self.search.nan_counts_as_failure:
            raise ValueError(f"search.nanCountsAsFailure: false needs nasctl's own controllers: a Vertex NasJob "
                             f"({self.search.algorithm}) counts every failed trial against its max_failed_trial_count")
        if self.search.algorithm in VERTEX_ALGORITHMS and self.budget is not None:
            raise ValueError(f"budget needs nasctl's own controllers: a Vertex NasJob ({self.search.algorithm}) "
                             "launches its trials itself, so nasctl cannot refuse the one that would pass the budget")
        if self.search.algorithm in VERTEX_ALGORITHMS and proxy:
            raise ValueError(f"{', '.join(proxy)} run as nasctl stages, which a Vertex NasJob ({self.search.algorithm}) "
                             "does not run: use one of nasctl's algorithms (e.g. bayesopt) with the vertex backend, "
                             "or run the proxy-task stages in an experiment of their own")
        return self


class NASExperiment(SpecModel):
    api_version: Literal["nasctl.dev/v1alpha1"] = Field(API_VERSION, description="API version of this document.")
    kind: Literal["NASExperiment"]
    metadata: MetadataSpec
    spec: ExperimentSpec
