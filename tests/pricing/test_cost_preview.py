"""The dry-run cost preview: the seed's worked examples, the formulas, measured hours, overrides."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cost import estimate_cost, load_catalog
from reconciler.proxy.selection import cost_in_full_trainings, planned_schedule
from state.records import FAILED, RUNNING, SUCCEEDED, TrialRecord
from specs.loader import parse_experiment
from specs.model import NASExperiment, VertexBackendSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "specs" / "examples"


def _example(name: str) -> NASExperiment:
    path = EXAMPLES / name
    return parse_experiment(path.read_text(encoding="utf-8"), str(path))


def _stages(report_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage["name"]: stage for stage in report_json["stages"]}


def test_mnasnet_poc_gives_the_seed_figures() -> None:
    report = estimate_cost(_example("mnasnet-poc-vertex.yaml")).to_json()
    search, train = _stages(report)["search"], _stages(report)["train"]
    assert (search["trials"], search["gpusPerTrial"], search["parallelTrials"]) == (2000, 2, 10)
    assert search["runtimeHours"] == 600 and search["runtimeHours"] / 24 == 25
    assert search["gpuHours"] == 12_000 and search["quotaGpus"] == 20
    assert search["accelerator"] == "NVIDIA_TESLA_T4"
    assert search["costUsd"] == pytest.approx(15_000, rel=0.25)
    assert train["gpuHours"] == 8_960 and train["quotaGpus"] == 40 and train["runtimeHours"] == 224
    assert search["quotaCpus"] == 160  # n1-highmem-16 × 10 parallel
    assert search["cpuQuotaMetric"] == "aiplatform.googleapis.com/custom_model_training_cpus"
    assert train["costUsd"] == pytest.approx(8_000, rel=0.25)
    assert report["totalCostUsd"] == pytest.approx(23_000, rel=0.25)
    assert report["totalCostUsd"] == pytest.approx(sum(s["costUsd"] for s in report["stages"]), abs=0.05)


def test_test_drive_gives_the_seed_figures() -> None:
    report = estimate_cost(_example("test-drive-vertex.yaml")).to_json()
    (search,) = report["stages"]
    assert (search["trials"], search["runtimeHours"], search["gpuHours"], search["quotaGpus"]) == (25, 12.5, 150, 12)
    assert search["costUsd"] == pytest.approx(185, rel=0.25)
    assert report["warnings"] == []


def test_poc_warns_about_quota_and_the_14_day_limit() -> None:
    warnings = estimate_cost(_example("mnasnet-poc-vertex.yaml")).warnings
    assert any("search" in w and "20 NVIDIA_TESLA_T4" in w and "quota" in w for w in warnings)
    assert any("train" in w and "40 NVIDIA_TESLA_T4" in w for w in warnings)
    assert any("14-day" in w and "resumes it once" in w for w in warnings)  # 25 days: one resume


def test_a_search_longer_than_28_days_is_told_what_fits_and_what_to_change() -> None:
    poc = _example("mnasnet-poc-vertex.yaml")
    search = poc.spec.search.model_copy(update={"parallel_trials": 5})  # 50 days at 5 trials at once
    slow = poc.model_copy(update={"spec": poc.spec.model_copy(update={"search": search})})
    (warning,) = [w for w in estimate_cost(slow).warnings if "28 days" in w]
    assert "1,200 h (50.0 days)" in warning and "about 1,120 of 2,000 trials" in warning
    assert "parallelTrials to 9" in warning and "maxTrials to 1,120" in warning
    search = poc.spec.search.model_copy(update={"parallel_trials": 9})  # what it advised: 27.8 days
    advised = poc.model_copy(update={"spec": poc.spec.model_copy(update={"search": search})})
    assert not [w for w in estimate_cost(advised).warnings if "28 days" in w]


def test_a_search_past_14_days_with_stage_2_only_at_max_trials_is_told_who_trains_stage_2() -> None:
    poc = _example("mnasnet-poc-vertex.yaml")  # 25 days, stage 2 once at 2,000 search trials
    (warning,) = [w for w in estimate_cost(poc).warnings if w.startswith("train: Vertex trains the top")]
    assert "top 10 inside the NasJob once 2,000 search trials" in warning and "set train.frequency" in warning
    assert "nasctl trains the top 10 itself, as CustomJobs after the search" in warning
    periodic = poc.model_copy(update={"spec": poc.spec.model_copy(update={
        "train": poc.spec.train.model_copy(update={"frequency": 500})})})
    assert not [w for w in estimate_cost(periodic).warnings if "set train.frequency" in w]
    search = poc.spec.search.model_copy(update={"parallel_trials": 20})  # 12.5 days: one NasJob
    short = poc.model_copy(update={"spec": poc.spec.model_copy(update={"search": search})})
    assert not [w for w in estimate_cost(short).warnings if "set train.frequency" in w]


def _poc_with_train(**train: Any) -> NASExperiment:
    """The POC spec with stage-2 fields set as a user writes them (so that they count as set)."""
    import yaml  # noqa: PLC0415

    data = yaml.safe_load((EXAMPLES / "mnasnet-poc-vertex.yaml").read_text(encoding="utf-8"))
    data["spec"]["train"].update(train)
    return parse_experiment(yaml.safe_dump(data))


@pytest.mark.parametrize(("frequency", "trained"), [(200, 100), (500, 40), (1_500, 20), (2_000, 10)])
def test_stage_2_during_the_search_is_priced_for_every_round(frequency: int, trained: int) -> None:
    """Each round trains the top 10 not trained yet: up to 10 new ones a round, one round every `frequency`."""
    once = _stages(estimate_cost(_poc_with_train()).to_json())["train"]
    report = estimate_cost(_poc_with_train(frequency=frequency)).to_json()
    train = _stages(report)["train"]
    assert train["trials"] == trained and train["gpuHours"] == once["gpuHours"] * trained / 10
    assert train["costUsd"] == pytest.approx(once["costUsd"] * trained / 10)
    assert (f"up to {trained} trials, beside the search" in train["note"]) == (trained > 10)


def test_a_nas_job_trains_its_top_n_at_once_whatever_parallel_trials_says() -> None:
    once = _stages(estimate_cost(_poc_with_train(parallelTrials=10)).to_json())["train"]
    report = estimate_cost(_poc_with_train(parallelTrials=5))
    train = _stages(report.to_json())["train"]
    assert (train["parallelTrials"], train["quotaGpus"], train["runtimeHours"]) == (10, 40, 224) == (
        once["parallelTrials"], once["quotaGpus"], once["runtimeHours"])
    (warning,) = [w for w in report.warnings if "parallelTrials 5 applies only" in w]
    assert "top 10 inside the NasJob all at once" in warning
    assert not [w for w in estimate_cost(_poc_with_train(parallelTrials=10)).warnings if "applies only" in w]


def test_stage_2_beside_the_search_counts_against_the_same_gpu_quota() -> None:
    """Search 7 × 2 T4 and stage 2 1 × 4 T4 each fit the quota of 16; with frequency they run together (18)."""
    import yaml  # noqa: PLC0415

    data = yaml.safe_load((EXAMPLES / "mnasnet-poc-vertex.yaml").read_text(encoding="utf-8"))
    data["spec"]["search"]["parallelTrials"] = 7
    data["spec"]["train"].update(topN=1, parallelTrials=1)
    alone = estimate_cost(parse_experiment(yaml.safe_dump(data))).warnings
    data["spec"]["train"]["frequency"] = 500
    beside = estimate_cost(parse_experiment(yaml.safe_dump(data))).warnings
    assert not [w for w in alone if "GPUs at once" in w]
    (warning,) = [w for w in beside if "GPUs at once" in w]
    assert "stage 2 runs beside the search: 14 + 4 = 18 NVIDIA_TESLA_T4 GPUs at once, more than the quota of 16" in warning


def test_json_has_the_documented_keys() -> None:
    report = estimate_cost(_example("test-drive-vertex.yaml")).to_json()
    assert {"stages", "totalCostUsd", "warnings"} <= report.keys()
    assert {"name", "trials", "accelerator", "gpusPerTrial", "hoursPerTrial", "parallelTrials", "runtimeHours",
            "gpuHours", "quotaGpus", "costUsd"} <= report["stages"][0].keys()


def _vertex_spec(**search: Any) -> NASExperiment:
    experiment = _example("test-drive-vertex.yaml")
    data = experiment.model_dump(by_alias=True)
    data["spec"]["backend"]["search"].update(search)
    data["spec"]["backend"]["prices"] = {"machines": {"m": 1.0}, "accelerators": {"NVIDIA_L4": 2.0}}
    data["spec"]["search"]["algorithm"] = "random"  # CustomJobs: no NasJob multiplier
    return NASExperiment.model_validate(data)


@settings(max_examples=60, deadline=None)
@given(trials=st.integers(1, 5000), parallel=st.integers(1, 64), gpus=st.integers(0, 8),
       hours=st.floats(0.01, 336, allow_nan=False), replicas=st.integers(1, 8))
def test_formulas_hold_for_any_stage(trials: int, parallel: int, gpus: int, hours: float, replicas: int) -> None:
    parallel = min(parallel, trials)
    experiment = _vertex_spec(machineType="m", acceleratorType="NVIDIA_L4" if gpus else None,
                              acceleratorCount=gpus, hoursPerTrial=hours, replicaCount=replicas)
    data = experiment.model_dump(by_alias=True)
    data["spec"]["search"].update(maxTrials=trials, parallelTrials=parallel)
    (stage,) = estimate_cost(NASExperiment.model_validate(data)).stages
    assert stage.runtime_hours == pytest.approx(trials * hours / parallel)
    assert stage.gpu_hours == pytest.approx(trials * hours * gpus * replicas)  # every replica holds its GPUs
    assert stage.quota_gpus == gpus * replicas * parallel
    assert stage.cost_usd == pytest.approx(trials * hours * (1.0 + 2.0 * gpus) * replicas)


CPU: dict[str, Any] = {"machineType": "m", "acceleratorType": None, "acceleratorCount": 0, "hoursPerTrial": 2}


def test_spot_trials_cost_the_spot_share_and_a_boot_disk_beyond_the_default_costs_extra() -> None:
    on_demand = estimate_cost(_vertex_spec(**CPU)).stages[0]
    spot = estimate_cost(_vertex_spec(**CPU, schedulingStrategy="SPOT")).stages[0]
    catalog = load_catalog(_vertex_spec().spec.backend)  # type: ignore[arg-type]
    assert 0 < catalog.spot_multiplier < 1
    assert spot.hourly_usd == pytest.approx(on_demand.hourly_usd * catalog.spot_multiplier)
    gpu = {**CPU, "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1}  # Dynamic Workload Scheduler's GPUs only
    flex = estimate_cost(_vertex_spec(**gpu, schedulingStrategy="FLEX_START")).stages[0]
    assert flex.hourly_usd == estimate_cost(_vertex_spec(**gpu)).stages[0].hourly_usd  # on demand: an upper bound
    data = _vertex_spec(**CPU, schedulingStrategy="SPOT").model_dump(by_alias=True)
    data["spec"]["backend"]["prices"]["spotMultiplier"] = 0.3
    overridden = estimate_cost(NASExperiment.model_validate(data)).stages[0]
    assert overridden.hourly_usd == pytest.approx(0.3 * on_demand.hourly_usd)

    default = estimate_cost(_vertex_spec(**CPU, bootDiskSizeGb=100)).stages[0]
    large = estimate_cost(_vertex_spec(**CPU, bootDiskSizeGb=1000, replicaCount=2)).stages[0]
    cheap = estimate_cost(_vertex_spec(**CPU, bootDiskType="pd-standard")).stages[0]
    assert default.hourly_usd == on_demand.hourly_usd == 1.0  # the machine price includes the default disk
    assert large.hourly_usd == pytest.approx(2 * (1.0 + catalog.disks["pd-ssd"] * 900))
    assert cheap.hourly_usd == pytest.approx(1.0 - 100 * (catalog.disks["pd-ssd"] - catalog.disks["pd-standard"]))


def test_the_quota_warning_counts_replicas_and_names_the_quota_to_request() -> None:
    experiment = _vertex_spec(replicaCount=3)  # 2 T4 × 3 replicas × 6 parallel = 36 GPUs
    (warning,) = [w for w in estimate_cost(experiment).warnings if "quota" in w]
    assert "needs 36 NVIDIA_TESLA_T4 GPUs at once (6 per trial on 3 replicas × 6 parallel)" in warning
    assert "request more quota (aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus" in warning
    (spot,) = [w for w in estimate_cost(_vertex_spec(replicaCount=3, schedulingStrategy="SPOT")).warnings if "quota" in w]
    assert "(aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_t4_gpus" in spot, "Spot's own quota"


def _rate_warnings(parallel: int, poll_seconds: float, **backend: Any) -> list[str]:
    data = _vertex_spec(**CPU).model_dump(by_alias=True)
    data["spec"]["search"].update(maxTrials=max(parallel, 100), parallelTrials=parallel)
    data["spec"]["backend"].update(pollSeconds=poll_seconds, **backend)
    return [w for w in estimate_cost(NASExperiment.model_validate(data)).warnings if "a minute" in w]


def test_polling_and_launching_are_held_against_vertex_request_rates() -> None:
    assert _rate_warnings(10, 60) == []  # the POC's shape at the default poll: 10 requests a minute
    (polling,) = _rate_warnings(50, 5)  # 600 a minute: all of the project's CRUD requests in the region
    assert "up to 50 running jobs; every 5 s that is about 600 requests a minute, of the 600" in polling
    assert "set backend.pollSeconds to 10 or more" in polling
    assert _rate_warnings(50, 10) == []  # at half of it
    (with_latency,) = _rate_warnings(50, 10, latency=CPU)  # each trial's latency calculator is polled too
    assert "up to 100 running jobs" in with_latency and "pollSeconds to 20 or more" in with_latency
    (burst,) = _rate_warnings(150, 60)
    assert "creates up to 150 CustomJobs at once, more than the 60 job submissions a minute" in burst
    assert "about 3 minutes" in burst
    nas = _example("test-drive-vertex.yaml").model_dump(by_alias=True)  # Vertex polls its own NasJob trials
    nas["spec"]["backend"]["pollSeconds"] = 1
    nas["spec"]["search"].update(maxTrials=100, parallelTrials=80)
    assert [w for w in estimate_cost(NASExperiment.model_validate(nas)).warnings if "a minute" in w] == []


def test_nas_job_trial_hours_cost_the_catalog_multiplier() -> None:
    nas = _example("test-drive-vertex.yaml")
    data = nas.model_dump(by_alias=True)
    data["spec"]["search"]["algorithm"] = "random"
    custom = NASExperiment.model_validate(data)
    multiplier = load_catalog(nas.spec.backend).nas_multiplier  # type: ignore[arg-type]
    assert estimate_cost(nas).total_cost_usd == pytest.approx(estimate_cost(custom).total_cost_usd * multiplier)


def test_unknown_machine_type_says_how_to_price_it() -> None:
    experiment = _vertex_spec(machineType="n9-mystery-4")
    with pytest.raises(ValueError, match="n9-mystery-4.*spec.backend.prices.machines"):
        estimate_cost(experiment)


def test_region_multiplier_and_overrides() -> None:
    backend = _example("test-drive-vertex.yaml").spec.backend
    assert isinstance(backend, VertexBackendSpec)
    base = load_catalog(backend)
    europe = load_catalog(backend.model_copy(update={"region": "europe-west4"}))
    assert europe.machines["n1-highmem-16"] == pytest.approx(base.machines["n1-highmem-16"] * 1.1)
    assert base.default_gpu_quota == 16
    assert load_catalog(backend.model_copy(update={"gpu_quota": 64})).default_gpu_quota == 64


def _trial(index: int, stage: str, status: str, launched: float, finished: float | None) -> TrialRecord:
    return TrialRecord(id=f"t{index}", stage=stage, index=index, dna=[0], arch={}, status=status,
                       launched_at=launched, finished_at=finished)


def test_measured_hours_replace_the_spec_and_spending_is_counted() -> None:
    experiment = _example("test-drive-vertex.yaml")
    now = 100_000.0
    trials = [
        _trial(0, "search", SUCCEEDED, now - 5 * 3600, now - 3 * 3600),  # 2 h
        _trial(1, "search", FAILED, now - 4 * 3600, now - 0 * 3600),  # 4 h
        _trial(2, "search", RUNNING, now - 1 * 3600, None),  # 1 h so far
        _trial(3, "search", "pending", None, None),  # type: ignore[arg-type]
    ]
    report = estimate_cost(experiment, trials, now=now)
    (stage,) = report.stages
    assert (stage.hours_per_trial, stage.hours_source, stage.finished_trials) == (3.0, "measured", 2)
    assert stage.spent_usd == pytest.approx(7 * stage.hourly_usd)
    assert report.remaining_usd == pytest.approx(stage.cost_usd - 7 * stage.hourly_usd)
    assert report.to_json()["spentUsd"] == pytest.approx(round(7 * stage.hourly_usd, 2))


def test_local_backend_costs_nothing_and_uses_the_timeout_as_a_bound() -> None:
    experiment = NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "local"},
        "spec": {"searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
                 "search": {"maxTrials": 8, "parallelTrials": 2, "timeoutSeconds": 1800},
                 "train": {"topN": 2}},
    })
    report = estimate_cost(experiment)
    search, train = report.stages
    assert (search.hours_source, search.runtime_hours, search.cost_usd) == ("timeout", 2.0, 0.0)
    assert train.hours_per_trial is None and report.total_cost_usd is None
    assert any("train: hours per trial unknown" in w for w in report.warnings)
    assert report.to_json()["totalCostUsd"] is None and report.price_catalog is None


@pytest.mark.parametrize("name", ["mnasnet-poc-vertex.yaml", "test-drive-vertex.yaml"])
def test_example_specs_pass_every_check_and_their_trainer_args_are_valid(name: str) -> None:
    from specs.loader import load_experiment
    from trainers_jax.trainer_args import ClassifierArgs

    experiment = load_experiment(EXAMPLES / name)
    stages = [experiment.spec.search] + ([experiment.spec.train] if experiment.spec.train else [])
    for stage in stages:
        ClassifierArgs.model_validate({**experiment.spec.trainer.args, **stage.trainer_args})


def test_proxy_task_stages_are_priced_from_the_stage_graph() -> None:
    experiment = _example("mnasnet-poc-vertex.yaml").model_copy(deep=True)
    raw = experiment.model_dump(mode="json", by_alias=True)
    raw["spec"]["search"]["algorithm"] = "bayesopt"  # proxy-task stages run as nasctl stages, on CustomJobs
    raw["spec"]["varianceMeasurement"] = {"copies": 5}
    raw["spec"]["modelSelection"] = {"startModels": 30, "finalModels": 10, "removePerRound": 5}
    raw["spec"]["proxyTaskSearch"] = {"candidates": [{"name": "quarter", "trainerArgs": {"steps": 100}},
                                                     {"name": "half", "trainerArgs": {"steps": 200}}]}
    report = estimate_cost(NASExperiment.model_validate(raw)).to_json()
    stages = _stages(report)
    assert list(stages)[:3] == ["varianceMeasurement", "modelSelection", "proxyTaskSearch"]
    search, train = stages["search"], stages["train"]
    variance, selection, proxy = stages["varianceMeasurement"], stages["modelSelection"], stages["proxyTaskSearch"]
    # variance measurement trains the proxy task (stage-1 machine): 5 copies and one workable attempt
    assert variance["hoursPerTrial"] == search["hoursPerTrial"]
    assert variance["gpuHours"] == pytest.approx((5 + 0.01) * search["hoursPerTrial"] * search["gpusPerTrial"])
    # model selection costs the seed's ≈ 12 full trainings on the stage-2 machine, proxy-task search at most
    # candidates × reference models full trainings
    full = cost_in_full_trainings(planned_schedule(30, 10, 5))
    assert selection["gpuHours"] == pytest.approx(full * train["hoursPerTrial"] * train["gpusPerTrial"])
    assert proxy["trials"] == 2 * 10
    assert proxy["gpuHours"] == pytest.approx(20 * train["hoursPerTrial"] * train["gpusPerTrial"])
    for stage in (variance, selection, proxy):
        assert stage["costUsd"] > 0 and stage["runtimeHours"] > 0
    assert report["totalCostUsd"] == pytest.approx(sum(s["costUsd"] for s in report["stages"]), abs=0.05)
