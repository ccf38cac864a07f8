"""The dry-run cost preview: per stage, trials × hours → runtime, GPU-hours, quota and dollars.

Formulas (Vertex AI NAS overview): runtime = trials × hours ÷ parallel trials; GPU-hours =
trials × hours × GPUs per trial; quota needed = GPUs per trial × parallel trials, where a trial's GPUs
and price count every replica (``replicaCount``). Dollars come from an offline, dated price catalog
(``pricing/prices.json``) that the spec may override: machines and accelerators (× the Spot multiplier
for ``schedulingStrategy: SPOT``) plus what each replica's boot disk costs beyond Vertex's default.
Hours per trial come from the spec, or are measured from finished trials once there are some.
Nothing here imports a cloud SDK: the preview works offline.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from reconciler.graph import enabled_stages
from state.records import SEARCH, TRAIN, TrialRecord
from specs.model import VERTEX_ALGORITHMS, NASExperiment, VertexBackendSpec, VertexResourcesSpec
from specs.vertex import DEFAULT_BOOT_DISK_GB, DEFAULT_BOOT_DISK_TYPE

if TYPE_CHECKING:
    from state.store import StateStore

NAS_JOB_LIMIT_HOURS = 14 * 24  # a Vertex NasJob ends after 14 days (resumable)
LATENCY = "latency"


@dataclass(frozen=True)
class PriceCatalog:
    recorded_on: str
    region: str
    machines: dict[str, float]
    accelerators: dict[str, float]
    nas_multiplier: float
    default_gpu_quota: int
    spot_multiplier: float = 1.0
    disks: dict[str, float] = field(default_factory=dict)  # USD per GB-hour

    def hourly(self, resources_: VertexResourcesSpec) -> float:
        """USD per trial-hour: every replica's machine with its accelerators (at the Spot rate with
        schedulingStrategy SPOT) and boot disk (see :meth:`_disk_difference`)."""
        try:
            price = self.machines[resources_.machine_type]
        except KeyError:
            raise ValueError(f"no price for machine type {resources_.machine_type!r} in {self.region}; "
                             "set it under spec.backend.prices.machines") from None
        if resources_.accelerator_type:
            try:
                price += self.accelerators[resources_.accelerator_type] * resources_.accelerator_count
            except KeyError:
                raise ValueError(f"no price for accelerator {resources_.accelerator_type!r} in {self.region}; "
                                 "set it under spec.backend.prices.accelerators") from None
        if resources_.scheduling_strategy == "SPOT":
            price *= self.spot_multiplier
        return (price + self._disk_difference(resources_)) * resources_.replica_count

    def _disk_difference(self, resources_: VertexResourcesSpec) -> float:
        """USD per hour of the boot disk beyond Vertex's default (100 GB pd-ssd), which the machine prices
        include (they reproduce the NAS overview's worked examples as they are); a smaller or cheaper
        disk saves the difference."""
        disk = resources_.boot_disk_type or DEFAULT_BOOT_DISK_TYPE
        if disk == DEFAULT_BOOT_DISK_TYPE and resources_.boot_disk_size_gb in (None, DEFAULT_BOOT_DISK_GB):
            return 0.0
        try:
            chosen, default = self.disks[disk], self.disks[DEFAULT_BOOT_DISK_TYPE]
        except KeyError as missing:
            raise ValueError(f"no price for boot disk type {missing.args[0]!r} in {self.region}; "
                             "set it under spec.backend.prices.disks") from None
        return chosen * (resources_.boot_disk_size_gb or DEFAULT_BOOT_DISK_GB) - default * DEFAULT_BOOT_DISK_GB


@lru_cache(maxsize=1)
def _bundled_catalog() -> dict[str, Any]:
    return json.loads(resources.files("pricing").joinpath("prices.json").read_text(encoding="utf-8"))


def load_catalog(backend: VertexBackendSpec) -> PriceCatalog:
    """The bundled catalog for the backend's region, with the spec's overrides applied."""
    raw = _bundled_catalog()
    regions = raw["regions"]
    entry = regions.get(backend.region)
    machines: dict[str, float] = {}
    accelerators: dict[str, float] = {}
    disks: dict[str, float] = {}
    if entry is not None:
        base_name = entry.get("sameAs") or entry.get("of") or backend.region
        base = regions[base_name]
        factor = float(entry.get("multiplier", 1.0))
        machines = {k: v * factor for k, v in base["machines"].items()}
        accelerators = {k: v * factor for k, v in base["accelerators"].items()}
        disks = {k: v * factor for k, v in base.get("disks", {}).items()}
    machines.update(backend.prices.machines)
    accelerators.update(backend.prices.accelerators)
    disks.update(backend.prices.disks)
    multiplier = backend.prices.nas_multiplier or float(raw["nasMultiplier"])
    spot = backend.prices.spot_multiplier or float(raw["spotMultiplier"])
    quota = backend.gpu_quota if backend.gpu_quota is not None else int(raw["defaultGpuQuota"])
    return PriceCatalog(raw["recordedOn"], backend.region, machines, accelerators, multiplier, quota, spot, disks)


@dataclass
class StageCost:
    name: str
    trials: int
    accelerator: str
    gpus_per_trial: int
    hours_per_trial: float | None
    hours_source: str  # "spec", "measured", "timeout" (an upper bound) or "unknown"
    parallel_trials: int
    runtime_hours: float | None
    gpu_hours: float | None
    quota_gpus: int
    cost_usd: float | None
    hourly_usd: float
    note: str = ""  # how the trial count was estimated, when it is an estimate
    finished_trials: int = 0
    spent_usd: float = 0.0

    @property
    def remaining_usd(self) -> float | None:
        return None if self.cost_usd is None else max(0.0, self.cost_usd - self.spent_usd)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "trials": self.trials, "accelerator": self.accelerator,
            "gpusPerTrial": self.gpus_per_trial, "hoursPerTrial": self.hours_per_trial,
            "hoursSource": self.hours_source, "parallelTrials": self.parallel_trials,
            "runtimeHours": self.runtime_hours, "gpuHours": self.gpu_hours, "quotaGpus": self.quota_gpus,
            "costUsd": _money(self.cost_usd), "spentUsd": _money(self.spent_usd),
            "remainingUsd": _money(self.remaining_usd), "finishedTrials": self.finished_trials, "note": self.note,
        }


@dataclass
class CostReport:
    stages: list[StageCost]
    warnings: list[str] = field(default_factory=list)
    price_catalog: str | None = None  # "us-central1, recorded 2026-11-22"; None for a local backend

    @property
    def total_cost_usd(self) -> float | None:
        costs = [s.cost_usd for s in self.stages]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def spent_usd(self) -> float:
        return sum(s.spent_usd for s in self.stages)

    @property
    def remaining_usd(self) -> float | None:
        total = self.total_cost_usd
        return None if total is None else max(0.0, total - self.spent_usd)

    def to_json(self) -> dict[str, Any]:
        return {
            "stages": [s.to_json() for s in self.stages],
            "totalCostUsd": _money(self.total_cost_usd),
            "spentUsd": _money(self.spent_usd),
            "remainingUsd": _money(self.remaining_usd),
            "priceCatalog": self.price_catalog,
            "warnings": list(self.warnings),
        }


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True)
class _StagePlan:
    name: str
    trials: int
    trainings: float  # trial-equivalents at the machine's hours per trial
    parallel: int
    resources: VertexResourcesSpec | None  # None: the local backend
    in_nas_job: bool
    timeout_seconds: float | None
    note: str = ""


def _stage_plans(experiment: NASExperiment) -> list[_StagePlan]:
    """One plan per stage of the stage graph the spec turns on, then the latency-calculator jobs."""
    spec = experiment.spec
    vertex = spec.backend if isinstance(spec.backend, VertexBackendSpec) else None
    nas_job = vertex is not None and spec.search.algorithm in VERTEX_ALGORITHMS
    plans = []
    for stage in enabled_stages(experiment):
        shape = stage.cost_shape(experiment)
        resources = (vertex.search if shape.role == SEARCH else vertex.train_resources) if vertex else None
        plans.append(_StagePlan(stage.name, shape.trials, shape.trainings,
                                max(1, min(stage.parallel_trials(experiment), shape.trials)), resources,
                                nas_job and stage.name in (SEARCH, TRAIN), stage.timeout_seconds(experiment),
                                shape.note))
    if vertex is not None and vertex.latency is not None:
        plans.append(_StagePlan(LATENCY, 1, 1.0, 1, vertex.latency, False, None))
    return plans


def _trial_hours(trials: list[TrialRecord], now: float) -> tuple[list[float], list[float]]:
    """(hours of finished trials, hours so far of running ones)."""
    finished, running = [], []
    for trial in trials:
        if trial.launched_at is None:
            continue
        if trial.terminal and trial.finished_at is not None:
            finished.append(max(0.0, trial.finished_at - trial.launched_at) / 3600)
        elif not trial.terminal:
            running.append(max(0.0, now - trial.launched_at) / 3600)
    return finished, running


def _hours_per_trial(plan: _StagePlan, finished: list[float]) -> tuple[float | None, str]:
    if finished:
        return sum(finished) / len(finished), "measured"
    if plan.resources is not None and plan.resources.hours_per_trial is not None:
        return plan.resources.hours_per_trial, "spec"
    if plan.timeout_seconds is not None:
        return plan.timeout_seconds / 3600, "timeout"
    return None, "unknown"


def estimate_cost(experiment: NASExperiment, trials: list[TrialRecord] | None = None,
                  now: float | None = None) -> CostReport:
    """The cost preview of every stage; with recorded `trials`, measured hours and money spent."""
    now = time.time() if now is None else now
    backend = experiment.spec.backend
    catalog = load_catalog(backend) if isinstance(backend, VertexBackendSpec) else None
    source = f"{catalog.region}, recorded {catalog.recorded_on}" if catalog else None
    report = CostReport(stages=[], price_catalog=source)
    stage_hours: dict[str, float | None] = {}
    for plan in _stage_plans(experiment):
        finished, running = _trial_hours([t for t in trials or [] if t.stage == plan.name], now)
        hours, source = _hours_per_trial(plan, finished)
        if plan.name == LATENCY and hours is None:
            hours, source = stage_hours.get(SEARCH), "search runtime"  # it runs alongside the search
        stage = _stage_cost(plan, hours, source, catalog)
        stage.finished_trials = len(finished)
        stage.spent_usd = (sum(finished) + sum(running)) * stage.hourly_usd
        stage_hours[plan.name] = stage.runtime_hours
        report.stages.append(stage)
        report.warnings.extend(_warnings(plan, stage, catalog))
    return report


def _stage_cost(plan: _StagePlan, hours: float | None, source: str, catalog: PriceCatalog | None) -> StageCost:
    if plan.resources is None:  # local: the machine is already paid for
        accelerator, gpus, hourly = "local", 0, 0.0
    else:
        accelerator = plan.resources.accelerator_type or "none"
        gpus = plan.resources.gpus  # every replica's
        assert catalog is not None
        hourly = catalog.hourly(plan.resources) * (catalog.nas_multiplier if plan.in_nas_job else 1.0)
    runtime = None if hours is None else plan.trainings * hours / plan.parallel
    return StageCost(
        name=plan.name, trials=plan.trials, accelerator=accelerator, gpus_per_trial=gpus,
        hours_per_trial=hours, hours_source=source, parallel_trials=plan.parallel, runtime_hours=runtime,
        gpu_hours=None if hours is None else plan.trainings * hours * gpus, quota_gpus=gpus * plan.parallel,
        cost_usd=None if hours is None else plan.trainings * hours * hourly, hourly_usd=hourly, note=plan.note,
    )


def quota_metric(accelerator: str) -> str:
    """The Vertex quota metric of an accelerator type, as the service names it in its quota errors
    (NVIDIA_TESLA_T4 → aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus)."""
    name = accelerator.lower().replace("_tesla_", "_")
    suffix = "" if name.startswith("tpu_") else "_gpus"
    return f"aiplatform.googleapis.com/custom_model_training_{name}{suffix}"


def _warnings(plan: _StagePlan, stage: StageCost, catalog: PriceCatalog | None) -> list[str]:
    warnings = []
    if stage.hours_per_trial is None:
        warnings.append(f"{plan.name}: hours per trial unknown; set hoursPerTrial (vertex) or timeoutSeconds")
    if catalog is not None and stage.quota_gpus > catalog.default_gpu_quota:
        replicas = plan.resources.replica_count if plan.resources is not None else 1
        per_trial = f"{stage.gpus_per_trial} per trial" + (f" on {replicas} replicas" if replicas > 1 else "")
        never = (" (one trial alone needs more: Vertex refuses its job)"
                 if stage.gpus_per_trial > catalog.default_gpu_quota else "")
        warnings.append(
            f"{plan.name}: needs {stage.quota_gpus} {stage.accelerator} GPUs at once ({per_trial} × "
            f"{stage.parallel_trials} parallel), more than the quota of {catalog.default_gpu_quota} in "
            f"{catalog.region}{never}; request more quota ({quota_metric(stage.accelerator)} in Google Cloud console, "
            "IAM & Admin > Quotas) or lower parallelTrials, acceleratorCount or replicaCount")
    if plan.in_nas_job and plan.name == SEARCH and stage.runtime_hours and stage.runtime_hours > NAS_JOB_LIMIT_HOURS:
        jobs = -(-stage.runtime_hours // NAS_JOB_LIMIT_HOURS)
        warnings.append(
            f"{plan.name}: runtime {stage.runtime_hours:,.0f} h ({stage.runtime_hours / 24:.1f} days) passes "
            f"Vertex's 14-day NasJob limit; apply resumes it (resume_nas_job_id) as {jobs:.0f} jobs in all")
    return warnings


def recorded_trials(store: "StateStore", experiment: NASExperiment) -> tuple[list[TrialRecord], str | None]:
    """Trials recorded so far, or none and a warning when the state cannot be reached.

    The preview must work offline (no cloud credentials for a gs:// state yet), so an unreachable
    store degrades to a spec-only preview; a corrupt one is still an error.
    """
    from state.snapshot import load_state  # noqa: PLC0415
    from state.store import CorruptState  # noqa: PLC0415

    try:
        state = load_state(store, experiment.metadata.name, "")
    except CorruptState:
        raise
    except Exception as exc:  # noqa: BLE001 - no credentials, no network, missing bucket: preview the spec alone
        return [], f"recorded state at {store.uri} not read ({type(exc).__name__}); estimate from the spec only"
    return list(state.trials.values()), None


def cost_preview(experiment: NASExperiment, store: "StateStore") -> CostReport:
    """What `nasctl cost` and `nasctl apply --dry-run` show: the estimate, with spending when under way."""
    trials, note = recorded_trials(store, experiment)
    report = estimate_cost(experiment, trials)
    if note:
        report.warnings.insert(0, note)
    return report
