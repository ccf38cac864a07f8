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
from reconciler.stages.proxy_plots import plot_correlation
from reconciler.proxy.stopping import (
    EXCESS_FAILURES, RUNNING as RUNNING_STATE, SUCCESSFUL, Criteria, Decision, best_candidate, check_stopping,
    final_decision, require_latency_correlation,
)
from reconciler.stages.proxy_support import accuracy_metric, latency_metric, trial_curve
from state.records import MODEL_SELECTION, PROXY_TASK_SEARCH, TRAIN, FAILED, RUNNING, STOPPED, SUCCEEDED, TrialRecord
from reconciler.stages.candidates import baseline_args
from reconciler.stages.base import CostShape, Stage, StageContext, merged_args
from specs.model import NASExperiment, ProxyTaskCandidateSpec
from specs.model import ProxyTaskSearchSpec
from trial.protocol import StopSignal

CANDIDATE = "candidate"
STOPPING = "Stopping"  # a stopping condition holds; waiting for the candidate's trials to end


@dataclass
class Outcome:
    candidate: ProxyTaskCandidateSpec
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


def candidates(ctx: StageContext) -> list[ProxyTaskCandidateSpec]:
    return ctx.observed.candidates.found


class ProxyTaskSearchStage(Stage):
    name = PROXY_TASK_SEARCH
    needs_curves = True
    samples_space = False  # retrains the reference models


    @staticmethod
    def _spec(ctx: StageContext) -> ProxyTaskSearchSpec:
        return ctx.spec.proxy_task_search

    def _criteria(self, ctx: StageContext) -> Criteria:
        spec = self._spec(ctx)
        return Criteria(spec.desired_correlation, spec.desired_accuracy, spec.max_training_hours,
                        spec.stop_if_slower_than_best)

    def _outcome(self, ctx: StageContext, candidate: ProxyTaskCandidateSpec, trials: list[TrialRecord],
                 best_hours: float | None) -> Outcome:
        spec, criteria = self._spec(ctx), self._criteria(ctx)
        references = ctx.stage(MODEL_SELECTION).references(ctx)
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

    def _current(self, ctx: StageContext) -> tuple[ProxyTaskCandidateSpec | None, list[TrialRecord]]:
        """The candidate whose trials are being created, and the trials it already has."""
        outcomes = self.outcomes(ctx)
        if outcomes and not outcomes[-1].final:
            if outcomes[-1].decision is not None:
                return None, []  # stopping: create nothing more for it
            return outcomes[-1].candidate, outcomes[-1].trials
        remaining = candidates(ctx)[len(outcomes):] if self.ready(ctx) else []
        return (remaining[0], []) if remaining else (None, [])

    def _uncreated(self, ctx: StageContext) -> tuple[ProxyTaskCandidateSpec | None, list[TrialRecord]]:
        candidate, mine = self._current(ctx)
        if candidate is None:
            return None, []
        done = {t.source_trial for t in mine}
        return candidate, [ref for ref, _ in ctx.stage(MODEL_SELECTION).references(ctx) if ref.id not in done]

    def missing(self, ctx: StageContext) -> int:
        return len(self._uncreated(ctx)[1])

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        candidate, references = self._uncreated(ctx)
        args = merged_args(baseline_args(ctx.experiment), candidate.trainer_args)
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
        known = ctx.observed.candidates
        outcomes = self.outcomes(ctx)
        return (known.error is None and known.deferred is None and len(outcomes) == len(known.found)
                and all(o.final for o in outcomes))

    def failure(self, ctx: StageContext) -> str | None:
        found, error = ctx.observed.candidates.found, ctx.observed.candidates.error
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

    def cost_shape(self, experiment: NASExperiment) -> CostShape:
        spec, references = experiment.spec.proxy_task_search, experiment.spec.model_selection.final_models
        trials = len(spec.candidates) * references
        note = "at most: every candidate retrains the reference models fully"
        if spec.generator is not None:
            note += f"; candidates from {spec.generator} are not counted"
        return CostShape(trials, float(trials), TRAIN, note)

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        best = self.best(ctx)
        return {**super().summary(ctx), "best": best.candidate.name if best else None,
                "candidates": {o.candidate.name: o.to_json() for o in self.outcomes(ctx)}}

    def artifact_state(self, ctx: StageContext) -> dict[str, Any] | None:
        outcomes = self.outcomes(ctx)
        if not outcomes:
            return None
        return {**self.summary(ctx), "stats": {
            o.candidate.name: [{"step": s.step, "tau": s.tau, "pValue": s.p_value, "medianAccuracy": s.median_value,
                                "medianHours": s.median_hours} for s in o.stats] for o in outcomes}}

    def artifact_plots(self, ctx: StageContext) -> dict[str, bytes]:
        return plot_correlation({o.candidate.name: o.stats for o in self.outcomes(ctx)},
                                self._spec(ctx).desired_correlation)


def search_trainer_args(ctx: StageContext) -> dict[str, Any]:
    """Stage-1 trainer args: hand-written, or (useBestProxyTask) the winner's with its final step count.

    The winner's ``finalTrainingSteps`` goes to ``stepsArg``; a trainer whose cosine schedule spans its
    step count (like ``image-classifier``) then decays to 0 exactly there.
    """
    hand_written = merged_args(ctx.spec.trainer.args, ctx.spec.search.trainer_args)
    if not ctx.spec.search.use_best_proxy_task:
        return hand_written
    best = ctx.stage(PROXY_TASK_SEARCH).best(ctx) if ctx.enabled(PROXY_TASK_SEARCH) else None
    if best is None:
        raise ValueError("search.useBestProxyTask: proxyTaskSearch has no successful candidate yet")
    return {**merged_args(baseline_args(ctx.experiment), best.candidate.trainer_args), **ctx.spec.search.trainer_args,
            ctx.spec.proxy_task_search.steps_arg: best.decision.final_steps}
