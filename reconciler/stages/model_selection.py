"""Proxy-task tool 2 as a stage: narrow random models down to reference models with a good spread.

Every model is one trial for the whole selection: each round raises its stop signal's desired
fraction and relaunches it, so it continues from its own checkpoint with the same step count and
schedule. The rounds are replayed from the recorded curves on every pass (a model's accuracy at the
round's fraction is interpolated from its cycles), so the selection is never held only in memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.proxy.curves import value_at_fraction
from reconciler.stages.proxy_plots import SELECTION_PLOT, plot_round_selection
from reconciler.proxy.selection import (
    ModelScore, RoundSelection, ScheduleRound, cost_in_full_trainings, max_failures, next_fraction,
    planned_schedule, removals_for_round, select_round,
)
from reconciler.stages.proxy_support import (
    accuracy_metric, latency_metric, random_architectures, trial_curve,
)
from state.records import MODEL_SELECTION, TRAIN, FAILED, RUNNING, STOPPED, SUCCEEDED, TrialRecord
from reconciler.stages.base import CostShape, Stage, StageContext, merged_args
from specs.model import ModelSelectionSpec
from specs.model import NASExperiment
from trial.protocol import StopSignal



@dataclass
class Round:
    number: int
    models: list[str]  # trial ids trained in this round
    fraction: float  # cumulative share of full training this round reaches
    scores: list[ModelScore] = field(default_factory=list)  # models that reached it
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # still training (or waiting to continue)
    selection: RoundSelection | None = None  # once complete (not for the final round)

    def to_json(self) -> dict[str, Any]:
        return {"round": self.number, "models": len(self.models), "fraction": self.fraction,
                "scores": {s.key: [s.accuracy, s.latency] for s in self.scores}, "failed": self.failed,
                "pending": self.pending, "kept": list(self.selection.kept) if self.selection else None,
                "removed": list(self.selection.removed) if self.selection else None}


@dataclass
class Progress:
    rounds: list[Round] = field(default_factory=list)
    done: bool = False
    aborted: str | None = None

    @property
    def current(self) -> Round | None:
        return None if self.done or self.aborted or not self.rounds else self.rounds[-1]

    @property
    def final_models(self) -> list[ModelScore]:
        return self.rounds[-1].scores if self.done else []

    def cost(self) -> float:
        return cost_in_full_trainings([ScheduleRound(len(r.models), r.fraction) for r in self.rounds])


class ModelSelectionStage(Stage):
    name = MODEL_SELECTION
    needs_curves = True


    @staticmethod
    def _spec(ctx: StageContext) -> ModelSelectionSpec:
        return ctx.spec.model_selection

    def missing(self, ctx: StageContext) -> int:
        return max(0, self._spec(ctx).start_models - len(self.trials(ctx))) if self.ready(ctx) else 0

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        spec = self._spec(ctx)
        args = merged_args(ctx.spec.trainer.args, spec.trainer_args)
        models = random_architectures(ctx, MODEL_SELECTION, spec.seed, indices)
        return [TrialRecord(id=trial_id, stage=MODEL_SELECTION, index=index, dna=dna, arch=arch, args=args)
                for trial_id, index, (dna, arch) in zip(ids, indices, models)]

    # -- the rounds, replayed from recorded curves ---------------------------------------------------
    def _evaluate(self, ctx: StageContext, trials: dict[str, TrialRecord], round_: Round) -> None:
        accuracy, latency = accuracy_metric(ctx), latency_metric(ctx, self._spec(ctx).latency_metric)
        for trial_id in round_.models:
            trial = trials[trial_id]
            value = value_at_fraction(trial_curve(ctx, trial, accuracy), round_.fraction)
            measured = trial.metrics.get(latency) if latency else None
            if value is not None and (measured is not None or not latency):
                round_.scores.append(ModelScore(trial_id, value, measured))
            elif trial.status in (FAILED, STOPPED) or (value is not None and trial.terminal):
                round_.failed.append(trial_id)  # stopped short of the fraction, or never reported its latency
            else:
                round_.pending.append(trial_id)  # training, finishing, or waiting to continue

    def progress(self, ctx: StageContext) -> Progress:
        spec = self._spec(ctx)
        trials = {t.id: t for t in self.trials(ctx)}
        progress = Progress()
        if len(trials) < spec.start_models:  # round 1 is still being created: it cannot be complete
            first = Round(1, list(trials), next_fraction(0.0, spec.start_models, spec.final_models))
            self._evaluate(ctx, trials, first)
            progress.rounds.append(first)
            return progress
        active, fraction, failures = list(trials), 0.0, 0
        tolerated = max_failures(spec.start_models, spec.max_failure_fraction)
        while True:
            fraction = next_fraction(fraction, len(active), spec.final_models)
            round_ = Round(len(progress.rounds) + 1, active, fraction)
            self._evaluate(ctx, trials, round_)
            progress.rounds.append(round_)
            failures += len(round_.failed)
            if failures > tolerated:
                progress.aborted = (f"{failures} of {spec.start_models} models failed (more than "
                                    f"{spec.max_failure_fraction:.0%}); fix the search space, or lower the batch size "
                                    f"or learning rate (last: {round_.failed[-1]})")
                return progress
            if round_.pending:
                return progress
            if fraction >= 1.0:
                progress.done = True
                return progress
            removals = removals_for_round(len(active), spec.final_models, spec.remove_per_round)
            round_.selection = select_round(round_.scores, round_.failed, removals)
            active = list(round_.selection.kept)
            if not active:
                progress.aborted = "every model failed"
                return progress

    def references(self, ctx: StageContext) -> list[tuple[TrialRecord, ModelScore]]:
        """The final models and their full-training scores (empty until the selection is done)."""
        trials = {t.id: t for t in self.trials(ctx)}
        return [(trials[score.key], score) for score in self.progress(ctx).final_models]

    # -- stage hooks ---------------------------------------------------------------------------------
    def continuations(self, ctx: StageContext) -> list[str]:
        current = self.progress(ctx).current
        if current is None:
            return []
        trials = {t.id: t for t in self.trials(ctx)}
        return [trial_id for trial_id in current.pending if trials[trial_id].status == SUCCEEDED]

    def stop_signals(self, ctx: StageContext) -> dict[str, StopSignal]:
        current = self.progress(ctx).current
        if current is None:
            return {}
        desired = current.fraction if current.fraction < 1.0 else None
        trials = {t.id: t for t in self.trials(ctx)}
        return {trial_id: StopSignal(desired_fraction=desired) for trial_id in current.pending
                if trials[trial_id].status not in (FAILED, STOPPED, RUNNING)}  # running ones have theirs

    def failure(self, ctx: StageContext) -> str | None:
        return self.progress(ctx).aborted

    def complete(self, ctx: StageContext) -> bool:
        return self.progress(ctx).done

    def parallel_trials(self, experiment: NASExperiment) -> int:
        return experiment.spec.model_selection.parallel_trials

    def failure_budget(self, experiment: NASExperiment) -> int | None:
        return None  # failures count toward removals; `failure` aborts above maxFailureFraction

    def timeout_seconds(self, experiment: NASExperiment) -> float | None:
        return experiment.spec.model_selection.timeout_seconds

    def cost_shape(self, experiment: NASExperiment) -> CostShape:
        spec = experiment.spec.model_selection
        rounds = planned_schedule(spec.start_models, spec.final_models, spec.remove_per_round)
        return CostShape(spec.start_models, cost_in_full_trainings(rounds), TRAIN,
                         f"{len(rounds)} rounds, {cost_in_full_trainings(rounds):.3g} full trainings")

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        spec, progress = self._spec(ctx), self.progress(ctx)
        planned = planned_schedule(spec.start_models, spec.final_models, spec.remove_per_round)
        return {**super().summary(ctx), "iterations": len(progress.rounds),
                "finalModels": [s.key for s in progress.final_models],
                "costInFullTrainings": progress.cost(), "plannedCostInFullTrainings": cost_in_full_trainings(planned)}

    def artifact_state(self, ctx: StageContext) -> dict[str, Any] | None:
        progress = self.progress(ctx)
        if not progress.rounds:
            return None
        return {**self.summary(ctx), "rounds": [r.to_json() for r in progress.rounds]}

    def artifact_plots(self, ctx: StageContext) -> dict[str, bytes]:
        return {f"round-{r.number}/{SELECTION_PLOT}": plot_round_selection(
                    r.scores, r.selection, f"round {r.number}: {len(r.models)} models at {r.fraction:.2%} of training")
                for r in self.progress(ctx).rounds if r.selection is not None}
