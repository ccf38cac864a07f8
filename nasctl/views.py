"""The status and trials views, derived from recorded state alone (no backend, no JAX)."""
from __future__ import annotations

import time
from typing import Any

from objective.pareto import pareto_front
from pricing.catalog import machine_field, stage_resources
from reconciler.budget import budget_view
from reconciler.cost import trial_hours
from reconciler.graph import STAGE_NAMES, enabled_stages
from reconciler.plan import QUOTA_NOTE, STOCKOUT_NOTE
from state.records import FAILED, PENDING, RUNNING, SEARCH, STOPPED, SUCCEEDED, TrialRecord
from objective.reward import REWARD_RANGE, reward_warnings
from objective.ranking import leaderboard, rank_trials
from state.snapshot import ExperimentState
from specs.model import NASExperiment, VertexBackendSpec
from specs.vertex_machines import flex_start_problem
from specs.vertex_quotas import accelerator_quota_metric, cpu_quota_metric


def status_view(experiment: NASExperiment, state: ExperimentState, location: str | None = None) -> dict[str, Any]:
    """What `status` shows; `location`: where the state was read, named when nothing is recorded there."""
    record = state.experiment
    trials = list(state.trials.values())
    unrecorded = [f"nothing is recorded at {location}: not applied yet, or applied from another folder (a relative "
                  "stateUri is relative to the folder nasctl runs in)"] if (
        location is not None and not trials and not state.experiment_generation) else []
    ranked = leaderboard(experiment, state)
    best = ranked[0] if ranked else None
    return {
        "name": experiment.metadata.name,
        "generation": record.generation,
        "observedGeneration": record.observed_generation,
        "phase": record.phase,
        "conditions": [c.__dict__ for c in record.conditions],
        "stages": record.stages,
        "trials": {
            "total": len(trials),
            "succeeded": sum(t.status == SUCCEEDED for t in trials),
            "failed": sum(t.status == FAILED for t in trials),
            "running": sum(t.status == RUNNING for t in trials),
            "pending": sum(t.status == PENDING for t in trials),
            "stopped": sum(t.status == STOPPED for t in trials),
        },
        "best": {"trialId": best.id, "stage": best.stage, "reward": best.reward, "arch": best.arch}
        if best else None,
        "paretoFront": _front(experiment, state),
        "cost": budget_view(experiment, enabled_stages(experiment), trials, time.time()),
        "warnings": (unrecorded + _reward_warnings(experiment, trials) + _stockout_warnings(experiment, trials)
                     + _quota_warnings(experiment, trials)),
    }


def _stockout_warnings(experiment: NASExperiment, trials: list[TrialRecord]) -> list[str]:
    """One line while trials the cloud turned away for lack of machines are unfinished: a stockout does not
    fail them, so without it a long one would only show as a slow search. Where the machine's GPUs allow
    it, the line says that FLEX_START would queue for them instead."""
    turned_away = [t for t in trials if not t.terminal and t.message.startswith(STOCKOUT_NOTE)]
    if not turned_away:
        return []
    backend = experiment.spec.backend
    fields = sorted({machine_field(backend, t.stage) for t in turned_away}) if isinstance(
        backend, VertexBackendSpec) else []
    queueable = [name for name in fields if (machine := getattr(backend, name)).scheduling_strategy != "FLEX_START"
                 and flex_start_problem(machine.accelerator_type, machine.hours_per_trial) is None]
    hint = "".join(f"; schedulingStrategy FLEX_START on spec.backend.{name} would queue for machines instead"
                   for name in queueable)
    return [f"{len(turned_away)} unfinished trial(s) were {STOCKOUT_NOTE} (no machines in the region; each is "
            f"relaunched until it gets some), e.g. {turned_away[0].id}: "
            f"{turned_away[0].message[len(STOCKOUT_NOTE) + 2:]}{hint}"]


def _quota_warnings(experiment: NASExperiment, trials: list[TrialRecord]) -> list[str]:
    """One line while trials wait in the cloud's queue for quota (a CustomJob trial counts as running, a NasJob
    trial as pending): without it a search short of quota would only show as slower than its cost preview."""
    queued = [t for t in trials if not t.terminal and t.message.startswith(QUOTA_NOTE)]
    if not queued:
        return []
    backend = experiment.spec.backend
    machines = [stage_resources(backend, t.stage) for t in queued] if isinstance(backend, VertexBackendSpec) else []
    metrics = sorted({accelerator_quota_metric(m.accelerator_type, spot=m.scheduling_strategy == "SPOT")
                      for m in machines if m.accelerator_type}
                     | {metric for m in machines if (metric := cpu_quota_metric(m.machine_type))})
    request = f"request more of the quota they lack ({' or '.join(metrics)}) or " if metrics else ""
    return [f"{len(queued)} unfinished trial(s) are {QUOTA_NOTE}: the cloud holds them until the project has "
            f"the quota (e.g. {queued[0].id}: {queued[0].message[len(QUOTA_NOTE) + 2:]}); {request}lower parallelTrials"]


def _reward_warnings(experiment: NASExperiment, trials: list[TrialRecord]) -> list[str]:
    """One line when rewards fall outside Vertex's [1e-3, 10]: usually a unit mistake in the spec."""
    odd = [t for t in trials if t.reward is not None and reward_warnings(t.reward, experiment.spec.reward)]
    if not odd:
        return []
    first = odd[0]
    return [f"{len(odd)} trial(s) have rewards outside [{REWARD_RANGE[0]:g}, {REWARD_RANGE[1]:g}], "
            f"e.g. {first.id}: {reward_warnings(first.reward, experiment.spec.reward)[0]}"]


def _front(experiment: NASExperiment, state: ExperimentState) -> list[dict[str, Any]] | None:
    """The stage-1 Pareto front when the reward has a latency or memory term, else None."""
    reward = experiment.spec.reward
    if reward.latency is None and reward.memory is None:
        return None
    return [{"trialId": p.trial_id, "values": p.values} for p in pareto_front(state.stage_trials(SEARCH), reward)]


def trial_seconds(trial: TrialRecord, now: float) -> float | None:
    """Seconds a trial ran (or has run so far); None when never launched."""
    hours = trial_hours(trial, now)
    return None if hours is None else round(hours * 3600, 1)


def trial_view(trial: TrialRecord) -> dict[str, Any]:
    view = {"id": trial.id, "stage": trial.stage, "index": trial.index, "arch": trial.arch, "status": trial.status,
            "reward": trial.reward, "metrics": trial.metrics, "args": trial.args, "attempt": trial.attempt,
            "launchedAt": trial.launched_at, "finishedAt": trial.finished_at,
            "seconds": trial_seconds(trial, time.time())}
    if trial.reason:
        view["reason"] = trial.reason
    if trial.message:
        view["message"] = trial.message
    if trial.source_trial:
        view["sourceTrial"] = trial.source_trial
    if trial.labels:
        view["labels"] = trial.labels
    return view


TRIAL_STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED)


def trials_view(state: ExperimentState, experiment: NASExperiment | None = None, stage: str | None = None,
                status: str | None = None, top: int | None = None) -> list[dict[str, Any]]:
    """The recorded trials in stage and index order; or only a `stage`'s, or a `status`; or the `top` N by the
    experiment's ranking (feasible first, then reward: what stage 2 trains), best first."""
    if stage is not None:
        known = {s.name for s in enabled_stages(experiment)} if experiment else set()
        known |= {t.stage for t in state.trials.values()}
        if stage not in known:
            raise ValueError(f"no stage {stage!r}; this experiment's stages: {', '.join(sorted(known))}")
    if status is not None and status not in TRIAL_STATUSES:
        raise ValueError(f"no trial status {status!r}; expected one of {', '.join(TRIAL_STATUSES)}")
    chosen = [t for t in state.trials.values()
              if (stage is None or t.stage == stage) and (status is None or t.status == status)]
    if top is not None:
        if experiment is None:
            raise ValueError("ranking the top trials needs the experiment's reward")
        return [trial_view(t) for t in rank_trials(chosen, experiment.spec.reward)[:top]]
    order = {name: rank for rank, name in enumerate(STAGE_NAMES)}  # the stage graph's order, as the report's
    return [trial_view(t) for t in sorted(chosen, key=lambda t: (order.get(t.stage, len(order)), t.stage, t.index))]
