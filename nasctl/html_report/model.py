"""The report's view model: everything the page shows, derived from recorded state and stage artifacts.

Pure data (JSON-ready dicts and lists), so the page only lays it out and tests can check the numbers
without a browser. Reads only: the state documents and the stages' artifacts, never the lock.
"""
from __future__ import annotations

import base64
import json
import math
import time
from typing import Any, Sequence

from nasctl.html_report.architecture import arch_lines, arch_summary
from nasctl.views import trial_seconds
from objective.ranking import leaderboard
from objective.pareto import pareto_front
from reconciler.cost import estimate_cost
from reconciler.graph import STAGE_NAMES, enabled_nodes
from specs.model import NASExperiment
from state.records import MODEL_SELECTION, PROXY_TASK_SEARCH, SEARCH, SUCCEEDED, TRAIN, VARIANCE, TrialRecord
from state.snapshot import ExperimentState
from state.store import StateStore

STAGE_STATE = "state.json"  # what `reconciler.apply.write_stage_artifacts` stores per stage
BEST_SHOWN = 5


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity (a diverged trial reports them): they become null."""
    return value if value is None or math.isfinite(value) else None


def _metrics(trial: TrialRecord) -> dict[str, float | None]:
    return {k: _number(v) for k, v in trial.metrics.items()}


def _trial_row(trial: TrialRecord, now: float) -> dict[str, Any]:
    """One trial as the table and the charts' tooltips show it (short keys: 2,000 of them are embedded)."""
    return {"id": trial.id, "stage": trial.stage, "status": trial.status, "reason": trial.reason or "",
            "message": trial.message, "reward": _number(trial.reward), "metrics": _metrics(trial),
            "arch": arch_summary(trial.arch),
            "seconds": trial_seconds(trial, now)}


def _best(trial: TrialRecord) -> dict[str, Any]:
    """A best trial with its architecture as a block list."""
    return {"id": trial.id, "stage": trial.stage, "reward": _number(trial.reward), "metrics": _metrics(trial),
            "lines": arch_lines(trial.arch)}


def _curve(stage: str, trials: Sequence[TrialRecord], row: dict[str, int]) -> dict[str, Any]:
    """Every rewarded trial's (index, reward, row) and the best reward so far, in index order."""
    rewarded = sorted((t for t in trials if _number(t.reward) is not None), key=lambda t: t.index)
    best, running = [], float("-inf")
    for trial in rewarded:
        running = max(running, float(trial.reward))
        best.append([trial.index, running])
    return {"stage": stage, "points": [[t.index, float(t.reward), row[t.id]] for t in rewarded], "best": best}


def _scatter(experiment: NASExperiment, search: Sequence[TrialRecord], row: dict[str, int]) -> dict[str, Any] | None:
    """Accuracy vs latency (else memory) of succeeded search trials, their Pareto front and the target."""
    reward = experiment.spec.reward
    term = reward.latency or reward.memory
    if term is None:
        return None
    two_objectives = reward.model_copy(update={"memory": None}) if reward.latency else reward
    points = [t for t in search if t.status == SUCCEEDED
              and all(_number(t.metrics.get(m)) is not None for m in (reward.metric, term.metric))]
    front = sorted(pareto_front(points, two_objectives), key=lambda p: p.values[term.metric])
    return {"x": term.metric, "y": reward.metric, "target": term.target,
            "points": [[t.metrics[term.metric], t.metrics[reward.metric], row[t.id]] for t in points],
            "front": [[p.values[term.metric], p.values[reward.metric], row[p.trial_id]] for p in front]}


def _verdict(stage: str, summary: dict[str, Any]) -> str:
    """The one line a person needs from a proxy-task stage: may the search trust its proxy task?"""
    if stage == VARIANCE:
        if "verdict" not in summary:
            return "not measured yet"
        return "; ".join([str(summary["verdict"]), *summary.get("reasons", [])])
    if stage == MODEL_SELECTION:
        kept = summary.get("finalModels") or []
        if not kept:
            return "in progress"
        return f"{len(kept)} reference models kept after {summary.get('iterations', 0)} rounds"
    if stage == PROXY_TASK_SEARCH:
        best = summary.get("best")
        return f"best proxy task: {best}" if best else "no candidate has a decision yet"
    return ""


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _stage_view(stage: str, phase: str | None, summary: dict[str, Any], images: dict[str, bytes]) -> dict[str, Any]:
    """Scalars as facts (empty ones left out), dicts of dicts (e.g. proxy-task candidates) as tables, plots
    as data URIs.

    The bulky details (curves, rounds, τ per step) are what the plots draw, so they are not repeated.
    """
    facts = {k: v if _is_scalar(v) else ", ".join(map(str, v)) for k, v in summary.items()
             if v not in (None, "", []) and (_is_scalar(v) or (isinstance(v, list) and all(map(_is_scalar, v))))}
    tables = {k: v for k, v in summary.items()
              if isinstance(v, dict) and v and all(isinstance(row, dict) for row in v.values())}
    return {"name": stage, "phase": phase, "verdict": _verdict(stage, summary), "facts": facts, "tables": tables,
            "images": [{"name": name, "src": "data:image/png;base64," + base64.b64encode(png).decode()}
                       for name, png in sorted(images.items())]}


def _proxy_stages(experiment: NASExperiment, state: ExperimentState, store: StateStore) -> list[dict[str, Any]]:
    """The enabled proxy-task stages: phase, their stored ``state.json`` (else the recorded summary), plots."""
    views = []
    for node in enabled_nodes(experiment):
        if node.name in (SEARCH, TRAIN):
            continue
        recorded = state.experiment.stages.get(node.name, {})
        stored = store.get_artifact(f"{node.name}/{STAGE_STATE}")
        summary = json.loads(stored) if stored else recorded.get("summary", {})
        images = {key.split("/", 1)[1]: store.get_artifact(key) or b""
                  for key in store.list(f"{node.name}/") if key.endswith(".png")}
        views.append(_stage_view(node.name, recorded.get("phase"), summary, images))
    return views


def _cost(experiment: NASExperiment, trials: list[TrialRecord], now: float) -> dict[str, Any]:
    """Money spent so far and the projected total (None while some stage's hours are unknown)."""
    report = estimate_cost(experiment, trials, now)
    total = report.total_cost_usd
    return {"spentUsd": round(report.spent_usd, 2), "projectedUsd": None if total is None else round(total, 2),
            "priceCatalog": report.price_catalog}


def build_report(experiment: NASExperiment, state: ExperimentState, store: StateStore,
                 now: float | None = None) -> dict[str, Any]:
    """The view model of one experiment (see the module docstring)."""
    now = time.time() if now is None else now
    order = {name: n for n, name in enumerate(STAGE_NAMES)}
    trials = sorted(state.trials.values(), key=lambda t: (order.get(t.stage, len(order)), t.index))
    row = {t.id: n for n, t in enumerate(trials)}
    record = state.experiment
    statuses: dict[str, int] = {}
    for trial in trials:
        statuses[trial.status] = statuses.get(trial.status, 0) + 1
    return {
        "name": experiment.metadata.name,
        "generatedAt": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
        "phase": record.phase,
        "generation": record.generation,
        "observedGeneration": record.observed_generation,
        "conditions": [c.__dict__ for c in record.conditions],
        "statuses": statuses,
        "cost": _cost(experiment, trials, now),
        "trials": [_trial_row(t, now) for t in trials],
        "curves": [_curve(stage, [t for t in trials if t.stage == stage], row) for stage in STAGE_NAMES
                   if any(t.stage == stage and _number(t.reward) is not None for t in trials)],
        "scatter": _scatter(experiment, state.stage_trials(SEARCH), row),
        "stages": _proxy_stages(experiment, state, store),
        "best": [_best(t) for t in leaderboard(experiment, state)[:BEST_SHOWN]],
    }
