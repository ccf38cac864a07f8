"""The HTML report's view model and page, from hand-made recorded state (no browser, no trials run)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path


from benchmarks.report_generation import LATENCY, experiment_spec, synthetic_trials
from nasctl.html_report.architecture import arch_lines, arch_summary
from nasctl.html_report.model import build_report
from nasctl.html_report.page import render_page
from objective.pareto import pareto_front
from reconciler.cost import estimate_cost
from specs.loader import load_experiment
from specs.model import NASExperiment
from state.local import LocalStore
from state.records import (
    FAILED, PROXY_TASK_SEARCH, REASON_NAN, SEARCH, SUCCEEDED, VARIANCE, ExperimentRecord, TrialRecord,
)
from state.snapshot import ExperimentState
from tests.conftest import REPO

NB201_ARCH = {"edges": ["nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3"]}
MNASNET_ARCH = {"stem": 32, "head": 1280, "blocks": [
    {"repeats": 2, "block": "mbconv", "expand": 1, "kernel": 5, "se": 0.25, "filters": 24, "stride": 1},
    {"repeats": 3, "block": "conv", "expand": 6, "kernel": 3, "se": 0.0, "filters": 40, "stride": 2}]}


def _experiment(**spec_updates: dict) -> NASExperiment:
    spec = experiment_spec("state")
    spec["spec"].update(spec_updates)
    return NASExperiment.model_validate(spec)


def _trial(index: int, reward: float | None, latency: float = 3.0, status: str = SUCCEEDED, **fields) -> TrialRecord:
    metrics = {} if reward is None else {"accuracy": reward, LATENCY: latency}
    return TrialRecord(id=f"search-{index:04d}", stage=SEARCH, index=index, dna=[index], arch=NB201_ARCH,
                       status=status, reward=reward, metrics=metrics, **fields)


def _state(trials: list[TrialRecord]) -> ExperimentState:
    return ExperimentState(ExperimentRecord(name="bench", generation="g1", observed_generation="g0", phase="Running"),
                           {t.id: t for t in trials})


def test_search_curve_has_every_reward_and_the_best_so_far(tmp_path: Path) -> None:
    trials = [_trial(0, 0.5), _trial(1, 0.7), _trial(2, None, status=FAILED, reason=REASON_NAN, message="loss is nan"),
              _trial(3, 0.6), _trial(4, 0.8)]
    model = build_report(_experiment(), _state(trials), LocalStore(tmp_path), now=1e9)
    (curve,) = model["curves"]
    assert curve["stage"] == SEARCH
    assert [p[:2] for p in curve["points"]] == [[0, 0.5], [1, 0.7], [3, 0.6], [4, 0.8]]
    assert curve["best"] == [[0, 0.5], [1, 0.7], [3, 0.7], [4, 0.8]]
    failed = model["trials"][2]
    assert (failed["id"], failed["status"], failed["reason"], failed["message"]) == ("search-0002", FAILED, REASON_NAN, "loss is nan")
    assert model["statuses"] == {SUCCEEDED: 4, FAILED: 1}
    assert (model["generation"], model["observedGeneration"], model["phase"]) == ("g1", "g0", "Running")


def test_scatter_has_the_pareto_front_and_the_target(tmp_path: Path) -> None:
    trials = [_trial(0, 0.90, 9.0), _trial(1, 0.85, 4.0), _trial(2, 0.80, 6.0), _trial(3, 0.70, 2.0),
              _trial(4, math.nan, 1.0)]  # a diverged trial reports NaN: not plotted, null in the JSON
    experiment = _experiment()
    model = build_report(experiment, _state(trials), LocalStore(tmp_path), now=1e9)
    scatter = model["scatter"]
    assert (scatter["x"], scatter["y"], scatter["target"]) == (LATENCY, "accuracy", 5.0)
    assert len(scatter["points"]) == 4
    rows = [model["trials"][p[2]]["id"] for p in scatter["front"]]
    expected = pareto_front(trials[:4], experiment.spec.reward)
    assert sorted(rows) == sorted(p.trial_id for p in expected) == ["search-0000", "search-0001", "search-0003"]
    assert [p[0] for p in scatter["front"]] == sorted(p[0] for p in scatter["front"])  # drawn left to right
    assert model["trials"][4]["metrics"]["accuracy"] is None
    json.dumps(model, allow_nan=False)


def test_no_scatter_without_a_latency_or_memory_term(tmp_path: Path) -> None:
    experiment = _experiment(reward={"metric": "accuracy"})
    model = build_report(experiment, _state([_trial(0, 0.5)]), LocalStore(tmp_path), now=1e9)
    assert model["scatter"] is None
    assert "no trade-off to show" in render_page(model)


def test_proxy_task_stages_show_verdicts_tables_and_their_plots(tmp_path: Path) -> None:
    experiment = _experiment(varianceMeasurement={"copies": 2}, modelSelection={},
                             proxyTaskSearch={"candidates": [{"name": "short", "trainerArgs": {}}]})
    store = LocalStore(tmp_path)
    store.put_artifact(f"{VARIANCE}/state.json", json.dumps(
        {"cv": 0.2, "smoothness": 0.01, "verdict": "BAD", "reasons": ["coefficient of variation 0.2 > 0.1"],
         "curves": {"a": [[0.5, 0.1]]}}).encode())
    store.put_artifact(f"{VARIANCE}/variance_curves.png", b"\x89PNG-bytes")
    store.put_artifact(f"{PROXY_TASK_SEARCH}/state.json", json.dumps(
        {"best": "short", "candidates": {"short": {"stoppingState": "SUCCESS", "finalTrainingSteps": 300}}}).encode())
    state = _state([])
    state.experiment.stages = {"modelSelection": {"phase": "Running", "summary": {"iterations": 1, "finalModels": []}}}
    model = build_report(experiment, state, store, now=1e9)
    stages = {s["name"]: s for s in model["stages"]}
    assert list(stages) == [VARIANCE, "modelSelection", PROXY_TASK_SEARCH]
    assert stages[VARIANCE]["verdict"] == "BAD; coefficient of variation 0.2 > 0.1"
    assert stages[VARIANCE]["facts"]["cv"] == 0.2 and "curves" not in stages[VARIANCE]["facts"]
    assert stages[VARIANCE]["images"] == [{"name": "variance_curves.png", "src": "data:image/png;base64,iVBORy1ieXRlcw=="}]
    assert (stages["modelSelection"]["phase"], stages["modelSelection"]["verdict"]) == ("Running", "in progress")
    assert stages["modelSelection"]["facts"] == {"iterations": 1}  # no state.json yet: the recorded summary
    assert stages[PROXY_TASK_SEARCH]["verdict"] == "best proxy task: short"
    assert stages[PROXY_TASK_SEARCH]["tables"]["candidates"]["short"]["finalTrainingSteps"] == 300
    page = render_page(model)
    assert "data:image/png;base64,iVBORy1ieXRlcw==" in page and "best proxy task: short" in page


def test_architectures_read_as_cell_edges_blocks_or_keys() -> None:
    assert arch_summary(NB201_ARCH) == "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    assert arch_lines(NB201_ARCH)[2] == "node 2 ← node 1: none"
    assert arch_lines(MNASNET_ARCH) == ["stem 32 ch", "1. mbconv · ×2 · k 5 · expand 1 · SE 0.25 · stride 1 · 24 ch",
                                        "2. conv · ×3 · k 3 · expand 6 · SE 0.0 · stride 2 · 40 ch", "head 1280 ch"]
    assert arch_summary(MNASNET_ARCH) == "k5e1×2:24 k3e6×3:40"
    assert arch_lines({"width": 32, "depth": [2, 3]}) == ["width: 32", "depth: [2,3]"]


def test_page_is_self_contained_and_escapes_what_trials_report(tmp_path: Path) -> None:
    hostile = _trial(0, None, status=FAILED, reason="error", message="</script><script>alert(1)</script>")
    page = render_page(build_report(_experiment(), _state([hostile, _trial(1, 0.5)]), LocalStore(tmp_path), now=1e9))
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "</script><script>alert(1)" not in page  # the embedded JSON cannot close its <script> early
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["trials"][0]["message"] == "</script><script>alert(1)</script>"
    assert "apply last observed g0" in page  # generation g1 not yet observed: said in the header


def test_two_thousand_trials_stay_under_two_megabytes(tmp_path: Path) -> None:
    trials = synthetic_trials(2000)
    model = build_report(_experiment(), _state(trials), LocalStore(tmp_path), now=1e9)
    assert len(model["trials"]) == 2010 and len(model["curves"]) == 2
    assert len(render_page(model).encode()) <= 2_000_000


def test_header_shows_vertex_spend_so_far_and_projected(tmp_path: Path) -> None:
    experiment = load_experiment(REPO / "specs" / "examples" / "test-drive-vertex.yaml")
    trials = [t for t in synthetic_trials(8) if t.stage == SEARCH]
    model = build_report(experiment, _state(trials), LocalStore(tmp_path), now=2e9)
    expected = estimate_cost(experiment, trials, 2e9)
    assert model["cost"]["spentUsd"] == round(expected.spent_usd, 2) > 0
    assert model["cost"]["projectedUsd"] == round(expected.total_cost_usd, 2) > model["cost"]["spentUsd"]
    assert f"${expected.spent_usd:,.2f} so far, ${expected.total_cost_usd:,.2f} projected" in render_page(model)
