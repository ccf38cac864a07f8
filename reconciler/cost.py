"""The dry-run cost preview: per stage, trials × hours → runtime, GPU-hours, quota and dollars.

Formulas (Vertex AI NAS overview): runtime = trials × hours ÷ parallel trials; GPU-hours =
trials × hours × GPUs per trial; quota needed = GPUs per trial × parallel trials, where a trial's GPUs
and price count every replica (``replicaCount``). The vCPUs needed at once are counted the same way,
for machines whose vCPUs count against a CPU quota (specs.vertex_quotas). Dollars come from an offline,
dated price catalog (``pricing/prices.json``) that the spec may override: machines and accelerators (× the
Spot multiplier for ``schedulingStrategy: SPOT``) plus what each replica's boot disk costs beyond Vertex's
default.
Hours per trial come from the spec, or are measured from finished trials once there are some.
Nothing here imports a cloud SDK: the preview works offline.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backends.vertex.nas_search import NAS_JOB_LIMIT_SECONDS
from pricing.catalog import (
    LATENCY, PriceCatalog, load_catalog, role_resources, runs_in_nas_job, trial_hourly_usd,
)
from reconciler.graph import enabled_stages
from state.records import SEARCH, TRAIN, TrialRecord
from specs.model import NASExperiment, VertexBackendSpec, VertexResourcesSpec
from specs.vertex_quotas import (
    CRUD_REQUESTS_PER_MINUTE, JOB_SUBMISSIONS_PER_MINUTE, accelerator_quota_metric, cpu_quota_metric, machine_vcpus,
)

if TYPE_CHECKING:
    from state.store import StateStore

NAS_JOB_LIMIT_HOURS = NAS_JOB_LIMIT_SECONDS / 3600  # a Vertex NasJob ends after 14 days (resumable)
SEARCH_LIMIT_HOURS = 2 * NAS_JOB_LIMIT_HOURS  # and is resumed once (a resumed job cannot be resumed)
POLLING_SHARE = 0.5  # of the project's CRUD rate quota that apply's polling may take before the preview warns


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
    quota_cpus: int = 0  # vCPUs at once, where the machine's vCPUs count against a CPU quota
    cpu_quota_metric: str | None = None  # that quota (custom_model_training_cpus for N1 and E2)
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
            "quotaCpus": self.quota_cpus, "cpuQuotaMetric": self.cpu_quota_metric,
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
    hourly_usd: float
    note: str = ""


def _stage_plans(experiment: NASExperiment, catalog: PriceCatalog | None) -> list[_StagePlan]:
    """One plan per stage of the stage graph the spec turns on, then the latency-calculator jobs."""
    plans = []
    for stage in enabled_stages(experiment):
        shape = stage.cost_shape(experiment)
        in_nas_job = runs_in_nas_job(experiment, shape.role)
        # Inside a NasJob, Vertex trains the top N at once: TrainTrialSpec.max_parallel_trial_count is both.
        parallel = experiment.spec.train.top_n if in_nas_job and shape.role == TRAIN else stage.parallel_trials(
            experiment)
        plans.append(_StagePlan(stage.name, shape.trials, shape.trainings, max(1, min(parallel, shape.trials)),
                                role_resources(experiment, shape.role), in_nas_job,
                                stage.timeout_seconds(experiment), trial_hourly_usd(experiment, shape.role, catalog),
                                shape.note))
    latency = role_resources(experiment, LATENCY)
    if latency is not None:
        plans.append(_StagePlan(LATENCY, 1, 1.0, 1, latency, False, None,
                                trial_hourly_usd(experiment, LATENCY, catalog)))
    return plans


def trial_hours(trial: TrialRecord, now: float) -> float | None:
    """Hours a trial ran (finished) or has run so far (active); None when never launched."""
    if trial.launched_at is None:
        return None
    end = trial.finished_at if trial.terminal and trial.finished_at is not None else now
    return max(0.0, end - trial.launched_at) / 3600


def _trial_hours(trials: list[TrialRecord], now: float) -> tuple[list[float], list[float]]:
    """(hours of finished trials, hours so far of running ones)."""
    finished, running = [], []
    for trial in trials:
        hours = trial_hours(trial, now)
        if hours is not None and (not trial.terminal or trial.finished_at is not None):
            (finished if trial.terminal else running).append(hours)
    return finished, running


def _spent_usd(experiment: NASExperiment, plan: _StagePlan, trials: list[TrialRecord], now: float,
               catalog: PriceCatalog | None) -> float:
    """Hours run × the price each trial is billed at, as the budget guard bills it: a NasJob experiment's
    stage-2 trial that nasctl runs as a CustomJob has no NAS multiplier."""
    def hours_run(group: list[TrialRecord]) -> float:
        return sum(map(sum, _trial_hours(group, now)))

    own = [t for t in trials if t.runs_as_custom_job]
    spent = hours_run([t for t in trials if not t.runs_as_custom_job]) * plan.hourly_usd
    if own:
        spent += hours_run(own) * trial_hourly_usd(experiment, TRAIN, catalog, in_nas_job=False)
    return spent


def expected_hours(finished: list[float], spec_hours: float | None,
                   timeout_seconds: float | None) -> tuple[float | None, str]:
    """Hours one more trial is expected to take, and from what: measured (the mean of finished trials),
    spec (hoursPerTrial), timeout (an upper bound) or unknown."""
    if finished:
        return sum(finished) / len(finished), "measured"
    if spec_hours is not None:
        return spec_hours, "spec"
    if timeout_seconds is not None:
        return timeout_seconds / 3600, "timeout"
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
    plans = _stage_plans(experiment, catalog)
    for plan in plans:
        stage_trials = [t for t in trials or [] if t.stage == plan.name]
        finished, _ = _trial_hours(stage_trials, now)
        spec_hours = plan.resources.hours_per_trial if plan.resources is not None else None
        hours, source = expected_hours(finished, spec_hours, plan.timeout_seconds)
        if plan.name == LATENCY and hours is None:
            hours, source = stage_hours.get(SEARCH), "search runtime"  # it runs alongside the search
        stage = _stage_cost(plan, hours, source)
        stage.finished_trials = len(finished)
        stage.spent_usd = _spent_usd(experiment, plan, stage_trials, now, catalog)
        stage_hours[plan.name] = stage.runtime_hours
        report.stages.append(stage)
        report.warnings.extend(_warnings(plan, stage, catalog))
    report.warnings.extend(_last_stage2_warning(experiment, stage_hours.get(SEARCH)))
    report.warnings.extend(_nas_job_stage2_parallel_warning(experiment))
    report.warnings.extend(_overlapping_quota_warning(experiment, report.stages, catalog))
    report.warnings.extend(_request_rate_warnings(experiment, plans))
    return report


def _last_stage2_warning(experiment: NASExperiment, search_runtime_hours: float | None) -> list[str]:
    """Inside a NasJob, Vertex trains the top models every ``train.frequency`` search trials (nasctl's default:
    once, at maxTrials). A search that outlives its first NasJob may never reach that round: it ends at the
    28-day limit, or in its resumed job, whose count of search trials the docs do not define. nasctl then
    trains them after the search (reconciler.nas_stage2); the warning says so, and how to have Vertex do it."""
    train = experiment.spec.train
    if (train is None or train.frequency is not None or not runs_in_nas_job(experiment, SEARCH)
            or not search_runtime_hours or search_runtime_hours <= NAS_JOB_LIMIT_HOURS):
        return []
    max_trials = experiment.spec.search.max_trials
    return [f"{TRAIN}: Vertex trains the top {train.top_n} inside the NasJob once {max_trials:,} search trials have "
            "finished in it; a search resumed past 14 days may end before that round (at the 28-day limit, or "
            f"because the resumed job counts only its own trials). Then nasctl trains the top {train.top_n} itself, "
            "as CustomJobs after the search (billed without the NAS multiplier, so at most the stage-2 cost shown); "
            "set train.frequency to have Vertex train them during the search instead"]


def _nas_job_stage2_parallel_warning(experiment: NASExperiment) -> list[str]:
    """A NasJob cannot train fewer than its top N at once; a `parallelTrials` the user set says otherwise."""
    train = experiment.spec.train
    if (train is None or not runs_in_nas_job(experiment, TRAIN) or "parallel_trials" not in train.model_fields_set
            or train.parallel_trials == train.top_n):
        return []
    return [f"{TRAIN}: Vertex trains the top {train.top_n} inside the NasJob all at once (its "
            "max_parallel_trial_count is both the N and the parallelism), so parallelTrials "
            f"{train.parallel_trials} applies only if nasctl trains them after the search; to train fewer at once, "
            "lower topN, or search with one of nasctl's algorithms"]


def _overlapping_quota_warning(experiment: NASExperiment, stages: list[StageCost],
                               catalog: PriceCatalog | None) -> list[str]:
    """With `train.frequency`, stage 2 runs beside the search: their GPUs count against one quota at once."""
    named = {stage.name: stage for stage in stages}
    search, train = named.get(SEARCH), named.get(TRAIN)
    if (catalog is None or search is None or train is None or experiment.spec.train.frequency is None
            or not search.quota_gpus or search.accelerator != train.accelerator):
        return []
    together = search.quota_gpus + train.quota_gpus
    if together <= catalog.default_gpu_quota or max(search.quota_gpus, train.quota_gpus) > catalog.default_gpu_quota:
        return []  # fits, or a stage alone is over the quota (warned above)
    return [f"{TRAIN}: with train.frequency, stage 2 runs beside the search: {search.quota_gpus} + "
            f"{train.quota_gpus} = {together} {search.accelerator} GPUs at once, more than the quota of "
            f"{catalog.default_gpu_quota} in {catalog.region}; stage-2 trials wait for search trials to end "
            "(request more quota, or lower parallelTrials or topN)"]


def _request_rate_warnings(experiment: NASExperiment, plans: list[_StagePlan]) -> list[str]:
    """Vertex meters requests per project and region (:data:`CRUD_REQUESTS_PER_MINUTE`,
    :data:`JOB_SUBMISSIONS_PER_MINUTE`). With nasctl's controllers every pass gets each running trial's
    CustomJob (and its latency calculator's), and a stage's first pass creates `parallelTrials` jobs at once.
    Requests over a quota are answered 429 and retried, so nothing fails, but polling that takes most of the
    quota slows every pass and whatever else the project runs in the region."""
    backend = experiment.spec.backend
    stages = [plan for plan in plans if plan.resources is not None and not plan.in_nas_job and plan.name != LATENCY]
    if not isinstance(backend, VertexBackendSpec) or not stages:
        return []
    warnings = []
    widest = max(stages, key=lambda plan: plan.parallel)
    jobs = widest.parallel * (2 if backend.latency is not None else 1)
    per_minute = jobs * 60 / backend.poll_seconds
    if per_minute > POLLING_SHARE * CRUD_REQUESTS_PER_MINUTE:
        fitting_poll = math.ceil(jobs * 60 / (POLLING_SHARE * CRUD_REQUESTS_PER_MINUTE))
        warnings.append(
            f"{widest.name}: each apply pass asks Vertex about up to {jobs} running jobs; every "
            f"{backend.poll_seconds:g} s that is about {per_minute:,.0f} requests a minute, of the "
            f"{CRUD_REQUESTS_PER_MINUTE} a minute Vertex allows the project in {backend.region} (requests over it are "
            f"refused with 429 and retried, slowing every pass); set backend.pollSeconds to {fitting_poll} or more")
    if widest.parallel > JOB_SUBMISSIONS_PER_MINUTE:
        warnings.append(
            f"{widest.name}: apply creates up to {widest.parallel} CustomJobs at once, more than the "
            f"{JOB_SUBMISSIONS_PER_MINUTE} job submissions a minute Vertex allows the project in {backend.region}: "
            f"those over it are refused with 429 and retried, so launching them takes about "
            f"{math.ceil(widest.parallel / JOB_SUBMISSIONS_PER_MINUTE)} minutes")
    return warnings


def _stage_cost(plan: _StagePlan, hours: float | None, source: str) -> StageCost:
    hourly = plan.hourly_usd
    if plan.resources is None:  # local: trialHourUsd, 0 unless the machine is rented
        accelerator, gpus, vcpus, cpu_metric = "local", 0, 0, None
    else:
        accelerator = plan.resources.accelerator_type or "none"
        gpus = plan.resources.gpus  # every replica's
        vcpus = (machine_vcpus(plan.resources.machine_type) or 0) * plan.resources.replica_count
        cpu_metric = cpu_quota_metric(plan.resources.machine_type)
    runtime = None if hours is None else plan.trainings * hours / plan.parallel
    return StageCost(
        name=plan.name, trials=plan.trials, accelerator=accelerator, gpus_per_trial=gpus,
        hours_per_trial=hours, hours_source=source, parallel_trials=plan.parallel, runtime_hours=runtime,
        gpu_hours=None if hours is None else plan.trainings * hours * gpus, quota_gpus=gpus * plan.parallel,
        cost_usd=None if hours is None else plan.trainings * hours * hourly, hourly_usd=hourly, note=plan.note,
        quota_cpus=vcpus * plan.parallel, cpu_quota_metric=cpu_metric,
    )


def _warnings(plan: _StagePlan, stage: StageCost, catalog: PriceCatalog | None) -> list[str]:
    warnings = []
    if stage.hours_per_trial is None:
        warnings.append(f"{plan.name}: hours per trial unknown; set hoursPerTrial (vertex) or timeoutSeconds")
    if catalog is not None and stage.quota_gpus > catalog.default_gpu_quota:
        replicas = plan.resources.replica_count if plan.resources is not None else 1
        strategy = plan.resources.scheduling_strategy if plan.resources is not None else None
        per_trial = f"{stage.gpus_per_trial} per trial" + (f" on {replicas} replicas" if replicas > 1 else "")
        never = (" (one trial alone needs more: Vertex refuses its job)"
                 if stage.gpus_per_trial > catalog.default_gpu_quota else "")
        metric = accelerator_quota_metric(stage.accelerator, spot=strategy == "SPOT")
        warnings.append(
            f"{plan.name}: needs {stage.quota_gpus} {stage.accelerator} GPUs at once ({per_trial} × "
            f"{stage.parallel_trials} parallel), more than the quota of {catalog.default_gpu_quota} in "
            f"{catalog.region}{never}; request more quota ({metric} in Google Cloud "
            "console, IAM & Admin > Quotas) or lower parallelTrials, acceleratorCount or replicaCount")
    if plan.in_nas_job and plan.name == SEARCH and stage.runtime_hours and stage.runtime_hours > NAS_JOB_LIMIT_HOURS:
        warnings.append(_time_limit_warning(plan, stage))
    return warnings


def _time_limit_warning(plan: _StagePlan, stage: StageCost) -> str:
    """A NasJob runs 14 days and Vertex resumes a search once: 28 days in all, then the search ends."""
    runtime = f"{plan.name}: runtime {stage.runtime_hours:,.0f} h ({stage.runtime_hours / 24:.1f} days)"
    if stage.runtime_hours <= SEARCH_LIMIT_HOURS:
        return f"{runtime} passes Vertex's 14-day NasJob limit; apply resumes it once (resume_nas_job_id)"
    share = SEARCH_LIMIT_HOURS / stage.runtime_hours
    fits, needed = int(plan.trials * share), math.ceil(plan.parallel / share)
    return (f"{runtime} passes the 28 days Vertex gives a search (a NasJob runs 14 days and is resumed once, "
            f"resume_nas_job_id): about {fits:,} of {plan.trials:,} trials would finish; raise parallelTrials "
            f"to {needed} or lower maxTrials to {fits:,}")


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
