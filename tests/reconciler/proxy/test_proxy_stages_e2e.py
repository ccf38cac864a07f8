"""The three proxy-task stages end to end through the real CLI, local backend and NB201 tabular trainer.

The tabular trainer reports 4 cycles (fractions .25 … 1) and is deterministic, so the results can be
checked exactly: copies of one model agree (CV 0), and a candidate equal to the full training ranks
the reference models perfectly (τ = 1 at its first step).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.proxy.selection import cost_in_full_trainings, planned_schedule
from tests.conftest import nb201_spec

pytestmark = pytest.mark.slow  # every test here runs the real CLI and trial processes

STATE = Path("state") / "exp"


def proxy_spec(*, variance: bool = True, candidates: list[dict[str, Any]] | None = None,
               use_best: bool = True, delay: float = 0.0, **selection: Any) -> dict[str, Any]:
    spec = nb201_spec(max_trials=3, parallel=3, top_n=None, useBestProxyTask=use_best)
    body = spec["spec"]
    if variance:
        body["varianceMeasurement"] = {"copies": 3, "parallelTrials": 3,
                                       "trainerArgs": {"mode": "proxy", "delaySeconds": delay}}
    body["modelSelection"] = {"startModels": 7, "finalModels": 5, "removePerRound": 1, "parallelTrials": 4,
                              "trainerArgs": {"mode": "full", "delaySeconds": delay}, **selection}
    body["proxyTaskSearch"] = {"parallelTrials": 5, "candidates": candidates if candidates is not None else [
        {"name": "proxy12", "trainerArgs": {"mode": "proxy"}}, {"name": "full", "trainerArgs": {}}]}
    return spec


def stages(nasctl, spec: Path) -> dict[str, Any]:
    return json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)["stages"]


def trials_of(tmp_path: Path, stage: str) -> list[dict[str, Any]]:
    """The recorded trial records of a stage (trials.json), in index order."""
    path = tmp_path / STATE / "trials.json"  # written once a pass records a trial
    records = json.loads(path.read_text())["data"]["trials"] if path.exists() else []
    return sorted((t for t in records if t["stage"] == stage), key=lambda t: t["index"])


def test_all_proxy_stages_then_search_on_the_winner(write_spec, nasctl, tmp_path):
    spec = write_spec(proxy_spec())
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)
    summary = {name: stage["summary"] for name, stage in stages(nasctl, spec).items()}

    variance = summary["varianceMeasurement"]
    assert (variance["cv"], variance["smoothness"], variance["verdict"]) == (0.0, 0.0, "good")
    copies = [t for t in trials_of(tmp_path, "varianceMeasurement") if t["source_trial"]]
    assert len(copies) == 3 and {t["source_trial"] for t in copies} == {variance["workableModel"]}
    assert len({t["seed"] for t in copies}) == 3, "each copy trains with its own seed"

    selection = summary["modelSelection"]
    assert selection["iterations"] == 3 and len(selection["finalModels"]) == 5
    assert selection["costInFullTrainings"] == pytest.approx(cost_in_full_trainings(planned_schedule(7, 5, 1)))
    rounds = json.loads((tmp_path / STATE / "modelSelection" / "state.json").read_text())["rounds"]
    assert [len(r["removed"] or []) for r in rounds] == [1, 1, 0]
    assert set(rounds[-1]["scores"]) == set(selection["finalModels"])
    # every model was one trial, continued round after round: 7 trials in all, the final 5 trained to the end
    ms_trials = trials_of(tmp_path, "modelSelection")
    assert len(ms_trials) == 7
    assert {t["id"] for t in ms_trials if t["metrics"]["accuracy"] > 0} >= set(selection["finalModels"])

    search = summary["proxyTaskSearch"]
    full = search["candidates"]["full"]
    assert full["stoppingState"] == "Met desired correlation"
    assert full["accuracyCorrelation"] == pytest.approx(1.0) and full["finalTrainingSteps"] == 1
    assert search["candidates"]["proxy12"]["stoppingState"] in ("Met desired correlation", "Ran till completion")
    successful = {n: c["finalTrainingHours"] for n, c in search["candidates"].items() if c["finalTrainingSteps"]}
    assert search["best"] == min(successful, key=successful.get)
    proxy_trials = trials_of(tmp_path, "proxyTaskSearch")
    assert {t["source_trial"] for t in proxy_trials} == set(selection["finalModels"])

    winner = search["candidates"][search["best"]]
    assert all(t["args"]["steps"] == winner["finalTrainingSteps"] for t in trials_of(tmp_path, "search"))
    for plot in ("varianceMeasurement/variance_curves.png", "modelSelection/round-1/filtered_trial_scores.png",
                 "proxyTaskSearch/correlation_vs_steps.png", "proxyTaskSearch/correlation_vs_hours.png"):
        assert (tmp_path / STATE / plot).stat().st_size > 1000, plot
    assert nasctl("diff", "-f", str(spec), "--detailed-exitcode").returncode == 0


def test_a_candidate_added_later_is_evaluated_alone(write_spec, nasctl, tmp_path):
    first = [{"name": "full", "trainerArgs": {}}]
    spec = write_spec(proxy_spec(variance=False, use_best=False, candidates=first))
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)
    before = trials_of(tmp_path, "proxyTaskSearch")
    spec = write_spec(proxy_spec(variance=False, use_best=False,
                                 candidates=[*first, {"name": "proxy12", "trainerArgs": {"mode": "proxy"}}]))
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)
    after = trials_of(tmp_path, "proxyTaskSearch")
    assert after[: len(before)] == before, "the first candidate's trials are untouched"
    added = after[len(before):]
    assert len(added) == 5 and {t["labels"]["candidate"] for t in added} == {"proxy12"}
    assert set(stages(nasctl, spec)["proxyTaskSearch"]["summary"]["candidates"]) == {"full", "proxy12"}


def test_no_workable_model_fails_the_experiment_clearly(write_spec, nasctl, tmp_path):
    spec_doc = proxy_spec()
    spec_doc["spec"]["varianceMeasurement"].update(maxWorkableAttempts=2, trainerArgs={"table": "no-such-table.csv"})
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", timeout=120)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Failed"
    assert "no workable model in 2 random attempts" in status["conditions"][0]["message"]
    assert len(trials_of(tmp_path, "varianceMeasurement")) == 2
    assert trials_of(tmp_path, "modelSelection") == []


def test_too_many_failed_models_abort_model_selection(write_spec, nasctl):
    spec_doc = proxy_spec(variance=False)
    spec_doc["spec"]["modelSelection"]["trainerArgs"] = {"table": "no-such-table.csv"}
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", timeout=120)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Failed"
    assert "of 7 models failed (more than 20%)" in status["conditions"][0]["message"]


def modes(baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """A proxy-task generator (Vertex's proxy_task_config_generator): candidates derived from the baseline."""
    if baseline.get("mode") != "full":
        raise ValueError(f"expected the full-training baseline, got {baseline}")
    return [{"name": "gen-proxy", "trainerArgs": {"mode": "proxy"}}, {"name": "gen-full", "trainerArgs": {}}]


def test_candidates_from_a_generator(write_spec, nasctl, tmp_path):
    spec_doc = proxy_spec(variance=False, use_best=False, candidates=[])
    spec_doc["spec"]["proxyTaskSearch"]["generator"] = "tests.reconciler.proxy.test_proxy_stages_e2e:modes"
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", "--allow-module", "tests.reconciler.proxy",
           check=True, timeout=240)
    candidates = stages(nasctl, spec)["proxyTaskSearch"]["summary"]["candidates"]
    assert set(candidates) == {"gen-proxy", "gen-full"}
    assert candidates["gen-full"]["stoppingState"] == "Met desired correlation"


def test_a_failing_generator_fails_the_experiment_clearly(write_spec, nasctl, tmp_path):
    spec_doc = proxy_spec(variance=False, candidates=[])
    spec_doc["spec"]["modelSelection"]["trainerArgs"] = {"mode": "proxy"}  # not what `modes` expects
    spec_doc["spec"]["proxyTaskSearch"]["generator"] = "tests.reconciler.proxy.test_proxy_stages_e2e:modes"
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", "--allow-module", "tests.reconciler.proxy", timeout=240)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Failed"
    assert "generator tests.reconciler.proxy.test_proxy_stages_e2e:modes failed: ValueError" in status["conditions"][0]["message"]
    assert trials_of(tmp_path, "search") == []


def test_latency_enters_the_spread_and_the_success(write_spec, nasctl, tmp_path):
    spec = write_spec(proxy_spec(variance=False, use_best=False, latencyMetric="latency_pixel3_ms",
                                 candidates=[{"name": "full", "trainerArgs": {}}]))
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)
    rounds = json.loads((tmp_path / STATE / "modelSelection" / "state.json").read_text())["rounds"]
    assert all(latency > 0 for _, latency in rounds[0]["scores"].values())
    full = stages(nasctl, spec)["proxyTaskSearch"]["summary"]["candidates"]["full"]
    # the candidate trains the same architectures: their latencies rank exactly as the references'
    assert full["stoppingState"] == "Met desired correlation" and full["latencyCorrelation"] == pytest.approx(1.0)
