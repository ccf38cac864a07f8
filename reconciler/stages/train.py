"""Stage 2: the top-N stage-1 architectures trained fully, scored by the same reward."""
from __future__ import annotations

import math
from typing import Any

from state.records import SEARCH, TRAIN, TrialRecord
from objective.ranking import rank_trials
from reconciler.stages.base import CostShape, Stage, StageContext, merged_args
from specs.model import NASExperiment


class TrainStage(Stage):
    name = TRAIN
    samples_space = False  # trains stage-1 architectures


    def ready(self, ctx: StageContext) -> bool:
        return self._pool(ctx) is not None

    def complete(self, ctx: StageContext) -> bool:
        return ctx.complete(SEARCH) and super().complete(ctx)

    def _pool(self, ctx: StageContext) -> list[TrialRecord] | None:
        """The stage-1 trials whose top N are trained now: all once the search is complete; with
        `frequency` K, during the search, the first c·K trials once they have all finished (Vertex's
        train_frequency). None while nothing is to be trained."""
        search = ctx.state.stage_trials(SEARCH)
        if ctx.complete(SEARCH):
            return search
        every = ctx.spec.train.frequency
        if every is None:
            return None
        done = 0
        while len(search[done:done + every]) == every and all(t.terminal for t in search[done:done + every]):
            done += every
        return search[:done] or None

    def _training(self, ctx: StageContext) -> list[TrialRecord]:
        """The stage-2 trials that train (or trained) their architecture."""
        return self.trials(ctx)

    def _untrained_sources(self, ctx: StageContext) -> list[TrialRecord]:
        """Top-N distinct stage-1 architectures (of the current pool) without a stage-2 trial yet, best first."""
        trained = {tuple(t.dna) for t in self._training(ctx)}
        top, seen = [], set()
        for trial in rank_trials(self._pool(ctx) or [], ctx.spec.reward):
            key = tuple(trial.dna)
            if key not in seen:
                seen.add(key)
                top.append(trial)
            if len(top) == ctx.spec.train.top_n:
                break
        return [t for t in top if tuple(t.dna) not in trained]

    def missing(self, ctx: StageContext) -> int:
        return len(self._untrained_sources(ctx)) if self.ready(ctx) else 0

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        args = merged_args(ctx.spec.trainer.args, ctx.spec.train.trainer_args)
        return [
            TrialRecord(id=trial_id, stage=TRAIN, index=index, dna=list(source.dna), arch=source.arch,
                        args=args, source_trial=source.id)
            for trial_id, index, source in zip(ids, indices, self._untrained_sources(ctx))
        ]

    def parallel_trials(self, experiment: NASExperiment) -> int:
        return experiment.spec.train.parallel_trials

    def failure_budget(self, experiment: NASExperiment) -> int | None:
        return experiment.spec.train.max_failed_trials

    def timeout_seconds(self, experiment: NASExperiment) -> float | None:
        return experiment.spec.train.timeout_seconds

    def cost_shape(self, experiment: NASExperiment) -> CostShape:
        """The top N; with `frequency` K, up to N a round (a new architecture in the top N is trained in the
        round it got there), one round every K search trials: the worst case is what a budget must allow for."""
        train, searched = experiment.spec.train, experiment.spec.search.max_trials
        if train.frequency is None:
            return CostShape(train.top_n, float(train.top_n), TRAIN)
        most = min(searched, train.top_n * math.ceil(searched / train.frequency))
        note = "" if most == train.top_n else (
            f"up to {most:,} trials, beside the search: the top {train.top_n} every {train.frequency:,} search "
            f"trials, each architecture new to the top trained once (at least {train.top_n})")
        return CostShape(most, float(most), TRAIN, note)

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        return {**super().summary(ctx), "topN": ctx.spec.train.top_n}
