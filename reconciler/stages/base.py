"""A stage of an experiment: which trials it wants, how to make them, when it is done.

The plan asks every enabled stage, in graph order (``reconciler.graph``), for the trials it still wants
(:meth:`Stage.missing`) once the stages it depends on are complete (:meth:`Stage.ready`), and makes
the records of those that start now with :meth:`Stage.new_trials`. Everything is derived from recorded trials, so a stage holds no
state of its own between passes.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from state.records import FAILED, PENDING, RUNNING, STOPPED, SUCCEEDED, TrialRecord
from state.snapshot import ExperimentState
from reconciler.observe import Observed
from specs.model import NASExperiment
from trial.protocol import StopSignal


@dataclass
class StageContext:
    """What a stage decides from: the spec, the recorded trials and what the backend observed.

    No I/O happens through it: observation (:mod:`reconciler.observe`) has read every trial curve and
    the proxy-task candidates before planning, so planning is a pure function of this context.
    """

    experiment: NASExperiment
    state: ExperimentState
    observed: Observed
    stages: dict[str, Stage] = field(default_factory=dict)  # the enabled stages, by name

    def cycles(self, trial_id: str) -> list[dict[str, Any]]:
        """A trial's per-cycle records as observed this pass (empty when it was not observed)."""
        observation = self.observed.trials.get(trial_id)
        return list(observation.cycles) if observation is not None else []

    def stage(self, name: str) -> Stage:
        return self.stages[name]

    def enabled(self, name: str) -> bool:
        return name in self.stages

    def complete(self, name: str) -> bool:
        """Whether a stage is done; a stage the spec does not ask for counts as done."""
        return name not in self.stages or self.stages[name].complete(self)

    @property
    def spec(self):  # noqa: ANN201 - ExperimentSpec, kept short for readability at call sites
        return self.experiment.spec


@dataclass(frozen=True)
class CostShape:
    """What a stage will train, for the cost preview: how many trials, worth how many trainings at the
    hours per trial of its machine (`role`: the stage-1 proxy task or the stage-2 full training)."""

    trials: int
    trainings: float
    role: str  # SEARCH or TRAIN: whose machine and hoursPerTrial it uses
    note: str = ""


def merged_args(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return {**base, **override}


def count_by_status(trials: list[TrialRecord]) -> dict[str, int]:
    counts = {"total": len(trials), SUCCEEDED: 0, FAILED: 0, RUNNING: 0, PENDING: 0, STOPPED: 0}
    for trial in trials:
        counts[trial.status] += 1
    return counts


class Stage(ABC):
    name: ClassVar[str]
    needs_curves: ClassVar[bool] = False  # observe every trial's curve, finished ones too (proxy-task stages)
    samples_space: ClassVar[bool] = True  # new trials come from the search space (which may be user code)

    def __init__(self, depends_on: tuple[str, ...] = ()):
        self.depends_on = depends_on  # enabled stages this one waits for (from ``reconciler.graph``)

    def ready(self, ctx: StageContext) -> bool:
        """Whether the stages this one depends on are complete."""
        return all(ctx.complete(name) for name in self.depends_on)

    @abstractmethod
    def missing(self, ctx: StageContext) -> int:
        """How many more trials this stage wants (0 when it has all it needs, or is not ready)."""

    @abstractmethod
    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        """Make the records (architecture, args) of new trials, in index order."""

    @abstractmethod
    def parallel_trials(self, experiment: NASExperiment) -> int: ...

    @abstractmethod
    def failure_budget(self, experiment: NASExperiment) -> int | None:
        """Failures tolerated before the experiment fails; None = unlimited."""

    def counts_as_failure(self, experiment: NASExperiment, trial: TrialRecord) -> bool:
        """Whether a trial counts against the stage's failure budget."""
        return trial.status == FAILED

    @abstractmethod
    def timeout_seconds(self, experiment: NASExperiment) -> float | None: ...

    @abstractmethod
    def cost_shape(self, experiment: NASExperiment) -> CostShape:
        """How much training the stage plans, for the cost preview."""

    def trials(self, ctx: StageContext) -> list[TrialRecord]:
        return ctx.state.stage_trials(self.name)

    def complete(self, ctx: StageContext) -> bool:
        return self.ready(ctx) and self.missing(ctx) == 0 and all(t.terminal for t in self.trials(ctx))

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        return count_by_status(self.trials(ctx))

    def failure(self, ctx: StageContext) -> str | None:
        """Why this stage can no longer succeed (fails the experiment), beyond the failure budget."""
        return None

    def stop_signals(self, ctx: StageContext) -> dict[str, StopSignal]:
        """Stop signals for this stage's trials, written before they (re)launch and while they run."""
        return {}

    def continuations(self, ctx: StageContext) -> list[str]:
        """Finished trials to relaunch so they continue from their checkpoint (e.g. model selection)."""
        return []

    def artifact_state(self, ctx: StageContext) -> dict[str, Any] | None:
        """The stage's detailed state (stored as ``<name>/state.json`` beside the state), or None while it has none."""
        return None

    def artifact_plots(self, ctx: StageContext) -> dict[str, bytes]:
        """PNG plots (path under the stage's folder → bytes); drawn only when :meth:`artifact_state` changed."""
        return {}
