"""Stage 1: the controller proposes architectures; each trial trains the proxy task."""
from __future__ import annotations

from typing import Any

from reconciler.controllers.base import Controller, Observation
from reconciler.controllers.registry import make_controller
from state.records import REASON_NAN, SEARCH, SUCCEEDED, TrialRecord
from reconciler.stages.base import CostShape, Stage, StageContext
from reconciler.stages.proxy_task_search import search_trainer_args
from search_spaces.registry import build_search_space
from specs.model import NASExperiment


def new_controller(experiment: NASExperiment) -> Controller:
    """The search's controller, fed nothing yet."""
    search = experiment.spec.search
    return make_controller(search.algorithm, build_search_space(experiment.spec.search_space), search.seed,
                           search.algorithm_settings, reward=experiment.spec.reward)


def rebuild_controller(ctx: StageContext) -> Controller:
    """A controller fed with every finished stage-1 trial, in index order."""
    controller = new_controller(ctx.experiment)
    for trial in ctx.state.stage_trials(SEARCH):
        if trial.terminal:
            reward = trial.reward if trial.status == SUCCEEDED else None
            controller.feedback(Observation(trial.index, tuple(trial.dna), reward, dict(trial.metrics)))
    return controller


def check_controller(experiment: NASExperiment) -> None:
    """Build the search's controller once, before `apply` launches anything: a space the algorithm cannot search
    (nested choices for bayesopt) or settings it refuses (tournamentSize over populationSize) stop `apply` with
    that error at once, not when the search starts, after hours of proxy-task stages."""
    new_controller(experiment)


class SearchStage(Stage):
    name = SEARCH


    def missing(self, ctx: StageContext) -> int:
        return max(0, ctx.spec.search.max_trials - len(self.trials(ctx))) if self.ready(ctx) else 0

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        controller = rebuild_controller(ctx)
        pending = [tuple(t.dna) for t in self.trials(ctx) if not t.terminal]
        args = search_trainer_args(ctx)
        records = []
        for trial_id, index in zip(ids, indices):
            dna = controller.propose(index, pending)
            pending.append(dna)
            arch = controller.space.materialize(controller.space.dna(dna))
            records.append(TrialRecord(id=trial_id, stage=SEARCH, index=index, dna=list(dna), arch=arch, args=args))
        return records

    def parallel_trials(self, experiment: NASExperiment) -> int:
        return experiment.spec.search.parallel_trials

    def failure_budget(self, experiment: NASExperiment) -> int | None:
        return experiment.spec.search.failure_budget

    def counts_as_failure(self, experiment: NASExperiment, trial: TrialRecord) -> bool:
        nan_exempt = not experiment.spec.search.nan_counts_as_failure and trial.reason == REASON_NAN
        return super().counts_as_failure(experiment, trial) and not nan_exempt

    def timeout_seconds(self, experiment: NASExperiment) -> float | None:
        return experiment.spec.search.timeout_seconds

    def cost_shape(self, experiment: NASExperiment) -> CostShape:
        return CostShape(experiment.spec.search.max_trials, float(experiment.spec.search.max_trials), SEARCH)

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        return {**super().summary(ctx), "maxTrials": ctx.spec.search.max_trials}
