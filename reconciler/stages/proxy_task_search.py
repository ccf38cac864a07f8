"""Proxy-task tool 3 as a stage: evaluate candidate proxy tasks against the reference models.

Candidates are evaluated one at a time, in spec order (then the generator's): the reference models
from model selection are retrained with the candidate's args, and at every reported step Kendall τ
between their accuracies and their full-training scores is computed. Once a stopping condition holds,
the candidate's trials get a stop signal; its outcome is final when they have all finished. A
candidate added to the spec later is evaluated after the others, which are not redone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.proxy.correlation import StepStats, correlation_over_steps, rank_correlation
from reconciler.proxy.plots import plot_correlation
from reconciler.proxy.stopping import (
    EXCESS_FAILURES, RUNNING as RUNNING_STATE, SUCCESSFUL, Criteria, Decision, best_candidate, check_stopping,
    final_decision, require_latency_correlation,
)
from reconciler.proxy.trials import accuracy_metric, latency_metric, trial_curve, write_if_changed
from reconciler.records import FAILED, RUNNING, STOPPED, SUCCEEDED, TrialRecord
from reconciler.stages.base import Stage, StageContext, merged_args
from reconciler.stages.model_selection import ModelSelectionStage
from reconciler.stages.variance_measurement import VarianceMeasurementStage
from specs.model import NASExperiment, ProxyTaskCandidate
from specs.model import ProxyTaskSearchStage as SearchSpec
from trainers_jax.protocol import StopSignal

PROXY_TASK_SEARCH = "proxyTaskSearch"
CANDIDATE = "candidate"
STOPPING = "Stopping"  # a stopping condition holds; waiting for the candidate's trials to end


@dataclass
class Outcome:
    candidate: ProxyTaskCandidate
    trials: list[TrialRecord]
    stats: list[StepStats]
    decision: Decision | None
    final: bool  # decided and every trial finished
    latency_tau: float | None = None

    @property
    def state(self) -> str:
        if self.decision is None:
            return RUNNING_STATE
        return self.decision.state if self.final else STOPPING

    @property
    def successful(self) -> bool:
        return self.final and self.decision is not None and self.decision.state in SUCCESSFUL

    def accuracy_tau(self) -> float | None:
        upto = self.stats[: self.decision.step_index + 1] if self.decision else self.stats
        return next((s.tau for s in reversed(upto) if s.tau is not None), None)

    def to_json(self) -> dict[str, Any]:
        return {"stoppingState": self.state,
                "finalTrainingSteps": self.decision.final_steps if self.successful else None,
                "finalTrainingHours": self.decision.final_hours if self.successful else None,
                "accuracyCorrelation": self.accuracy_tau(), "latencyCorrelation": self.latency_tau}


def baseline_args(ctx: StageContext) -> dict[str, Any]:
    """The full training the reference models had: what candidates modify."""
    return merged_args(ctx.spec.trainer.args, ctx.spec.model_selection.trainer_args)


def load_candidates(ctx: StageContext) -> tuple[list[ProxyTaskCandidate], str | None]:
    """The spec's candidates, then the generator's (called with the baseline args); or why there are none."""
    spec: SearchSpec = ctx.spec.proxy_task_search
    found = list(spec.candidates)
    if spec.generator is not None:
        from trainers_jax.registry import import_function  # noqa: PLC0415

        try:
            generated = import_function(spec.generator)(dict(baseline_args(ctx)))
            found += [item if isinstance(item, ProxyTaskCandidate) else ProxyTaskCandidate.model_validate(item)
                      for item in generated]
        except Exception as exc:  # noqa: BLE001 - a user's generator: report it, never crash apply
            return [], f"generator {spec.generator} failed: {type(exc).__name__}: {exc}"
    names = [c.name for c in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return [], f"candidate names must be unique (repeated: {repeated})"
    return found, None


def candidates(ctx: StageContext) -> list[ProxyTaskCandidate]:
    return load_candidates(ctx)[0]


class ProxyTaskSearchStage(Stage):
    name = PROXY_TASK_SEARCH

    def enabled(self, experiment: NASExperiment) -> bool:
        return experiment.spec.proxy_task_search is not None

    @staticmethod
    def _spec(ctx: StageContext) -> SearchSpec:
        return ctx.spec.proxy_task_search

    def ready(self, ctx: StageContext) -> bool:
        return ModelSelectionStage().complete(ctx)

    def _criteria(self, ctx: StageContext) -> Criteria:
        spec = self._spec(ctx)
        return Criteria(spec.desired_correlation, spec.desired_accuracy, spec.max_training_hours,
                        spec.stop_if_slower_than_best)

    def _outcome(self, ctx: StageContext, candidate: ProxyTaskCandidate, trials: list[TrialRecord],
                 best_hours: float | None) -> Outcome:
        spec, criteria = self._spec(ctx), self._criteria(ctx)
        references = ModelSelectionStage().references(ctx)
        by_model = {t.source_trial: t for t in trials}
        metric = accuracy_metric(ctx)
        curves = {key: trial_curve(ctx, trial, metric) for key, trial in by_model.items()}
        stats = correlation_over_steps(curves, {ref.id: score.accuracy for ref, score in references},
                                       spec.min_pairs, spec.min_valid_ratio)
        all_terminal = all(t.terminal for t in trials)
        decision = check_stopping(stats, criteria, best_hours)
        if decision is None and all_terminal and len(trials) == len(references):
            decision = final_decision(stats, criteria, best_hours)
        usable = len(references) - sum(t.status in (FAILED, STOPPED) for t in trials)
        if decision is None and (usable < spec.min_pairs or usable < spec.min_valid_ratio * len(references)):
            decision = Decision(EXCESS_FAILURES, max(len(stats) - 1, 0))
        # Once decided, the trials not yet created never will be: the outcome is final when the rest end.
        outcome = Outcome(candidate, trials, stats, decision, decision is not None and all_terminal)
        latency = latency_metric(ctx, ctx.spec.model_selection.latency_metric)
        if outcome.final and latency is not None:
            succeeded = {key: t for key, t in by_model.items() if t.status == SUCCEEDED}
            proxy = [succeeded[ref.id].metrics.get(latency) if ref.id in succeeded else None for ref, _ in references]
            corr = rank_correlation(proxy, [score.latency for _, score in references], spec.min_pairs,
                                    spec.min_valid_ratio)
            outcome.latency_tau = corr.tau if corr else None
            outcome.decision = require_latency_correlation(decision, outcome.latency_tau, True,
                                                           spec.desired_latency_correlation)
        return outcome

    def outcomes(self, ctx: StageContext) -> list[Outcome]:
        """Candidates evaluated so far, in order; the last one may still be running."""
        if not self.ready(ctx):
            return []
        trials = self.trials(ctx)
        outcomes: list[Outcome] = []
        for candidate in candidates(ctx):
            mine = [t for t in trials if t.labels.get(CANDIDATE) == candidate.name]
            if not mine:
                break
            best = [o.decision.final_hours for o in outcomes if o.successful]
            outcome = self._outcome(ctx, candidate, mine, min(best) if best else None)
            outcomes.append(outcome)
            if not outcome.final:
                break
        return outcomes

    def best(self, ctx: StageContext) -> Outcome | None:
        outcomes = {o.candidate.name: o for o in self.outcomes(ctx)}
        name = best_candidate({n: (o.state, o.decision.final_hours if o.successful else None)
                               for n, o in outcomes.items()})
        return outcomes[name] if name else None

    def _current(self, ctx: StageContext) -> tuple[ProxyTaskCandidate | None, list[TrialRecord]]:
        """The candidate whose trials are being created, and the trials it already has."""
        outcomes = self.outcomes(ctx)
        if outcomes and not outcomes[-1].final:
            if outcomes[-1].decision is not None:
                return None, []  # stopping: create nothing more for it
            return outcomes[-1].candidate, outcomes[-1].trials
        remaining = candidates(ctx)[len(outcomes):] if self.ready(ctx) else []
        return (remaining[0], []) if remaining else (None, [])

    def _uncreated(self, ctx: StageContext) -> tuple[ProxyTaskCandidate | None, list[TrialRecord]]:
        candidate, mine = self._current(ctx)
        if candidate is None:
            return None, []
        done = {t.source_trial for t in mine}
        return candidate, [ref for ref, _ in ModelSelectionStage().references(ctx) if ref.id not in done]

    def missing(self, ctx: StageContext) -> int:
        return len(self._uncreated(ctx)[1])

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        candidate, references = self._uncreated(ctx)
        args = merged_args(baseline_args(ctx), candidate.trainer_args)
        return [TrialRecord(id=trial_id, stage=PROXY_TASK_SEARCH, index=index, dna=list(ref.dna), arch=ref.arch,
                            args=args, source_trial=ref.id, labels={CANDIDATE: candidate.name})
                for trial_id, index, ref in zip(ids, indices, references)]

    def stop_signals(self, ctx: StageContext) -> dict[str, StopSignal]:
        signals = {}
        hours = self._spec(ctx).max_training_hours
        for outcome in self.outcomes(ctx):
            active = [t for t in outcome.trials if not t.terminal]
            if outcome.decision is not None:  # stop now: the trainer ends at its next cycle
                signals.update({t.id: StopSignal(desired_fraction=0.0) for t in active})
            elif hours is not None:
                signals.update({t.id: StopSignal(max_seconds=hours * 3600) for t in active if t.status != RUNNING})
        return signals

    def complete(self, ctx: StageContext) -> bool:
        if not self.ready(ctx):
            return False
        found, error = load_candidates(ctx)
        outcomes = self.outcomes(ctx)
        return error is None and len(outcomes) == len(found) and all(o.final for o in outcomes)

    def failure(self, ctx: StageContext) -> str | None:
        found, error = load_candidates(ctx)
        if error is not None:
            return error
        if ctx.spec.search.use_best_proxy_task and found and self.complete(ctx) and self.best(ctx) is None:
            return ("no candidate proxy task met its thresholds (see the stage summary); add candidates closer to "
                    "the full training, raise maxTrainingHours, or lower desiredCorrelation")
        return None

    def parallel_trials(self, experiment: NASExperiment) -> int:
        return experiment.spec.proxy_task_search.parallel_trials

    def failure_budget(self, experiment: NASExperiment) -> int | None:
        return None  # failures are judged per candidate (Excess trial failures)

    def timeout_seconds(self, experiment: NASExperiment) -> float | None:
        return experiment.spec.proxy_task_search.timeout_seconds

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        best = self.best(ctx)
        return {**super().summary(ctx), "best": best.candidate.name if best else None,
                "candidates": {o.candidate.name: o.to_json() for o in self.outcomes(ctx)}}

    def write_artifacts(self, ctx: StageContext) -> None:
        outcomes = self.outcomes(ctx)
        if not outcomes:
            return
        folder = ctx.artifacts_dir / PROXY_TASK_SEARCH
        document = {**self.summary(ctx), "stats": {
            o.candidate.name: [{"step": s.step, "tau": s.tau, "pValue": s.p_value, "medianAccuracy": s.median_value,
                                "medianHours": s.median_hours} for s in o.stats] for o in outcomes}}
        if write_if_changed(folder / "state.json", document):
            plot_correlation({o.candidate.name: o.stats for o in outcomes}, folder, self._spec(ctx).desired_correlation)


def proxy_stages_complete(ctx: StageContext) -> bool:
    """Whether every proxy-task design stage in the spec is done (the search waits for them)."""
    stages = (VarianceMeasurementStage(), ModelSelectionStage(), ProxyTaskSearchStage())
    return all(stage.complete(ctx) for stage in stages if stage.enabled(ctx.experiment))


def search_trainer_args(ctx: StageContext) -> dict[str, Any]:
    """Stage-1 trainer args: hand-written, or (useBestProxyTask) the winner's with its final step count.

    The winner's ``finalTrainingSteps`` goes to ``stepsArg``; a trainer whose cosine schedule spans its
    step count (like ``image-classifier``) then decays to 0 exactly there.
    """
    hand_written = merged_args(ctx.spec.trainer.args, ctx.spec.search.trainer_args)
    if not ctx.spec.search.use_best_proxy_task:
        return hand_written
    best = ProxyTaskSearchStage().best(ctx)
    if best is None:
        raise ValueError("search.useBestProxyTask: proxyTaskSearch has no successful candidate yet")
    return {**merged_args(baseline_args(ctx), best.candidate.trainer_args), **ctx.spec.search.trainer_args,
            ctx.spec.proxy_task_search.steps_arg: best.decision.final_steps}
