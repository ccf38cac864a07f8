"""A stage of an experiment: which trials it wants, how to make them, when it is done.

The reconciler asks every enabled stage, in order, for the trials it still wants (:meth:`Stage.missing`)
once the stages before it are complete (:meth:`Stage.ready`), and creates them with
:meth:`Stage.new_trials` at act time. Everything is derived from recorded trials, so a stage holds no
state of its own between passes.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from reconciler.backends.base import Backend, TrialObservation
from reconciler.records import FAILED, PENDING, RUNNING, STOPPED, SUCCEEDED, TrialRecord
from reconciler.state import ExperimentState
from specs.model import NASExperiment
from trainers_jax.protocol import StopSignal


@dataclass
class StageContext:
    experiment: NASExperiment
    state: ExperimentState
    observations: dict[str, TrialObservation]
    backend: Backend | None = None  # to read finished trials' curves (proxy-task stages)
    artifacts_dir: Path | None = None  # where stages write plots and detailed state; None = nowhere

    def cycles(self, trial_id: str) -> list[dict[str, Any]]:
        """A trial's per-cycle records, finished or not (observed once per pass)."""
        if trial_id not in self.observations and self.backend is not None:
            self.observations[trial_id] = self.backend.observe(trial_id)
        observation = self.observations.get(trial_id)
        return list(observation.cycles) if observation is not None else []

    @property
    def spec(self):  # noqa: ANN201 - ExperimentSpec, kept short for readability at call sites
        return self.experiment.spec


def merged_args(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return {**base, **override}


def count_by_status(trials: list[TrialRecord]) -> dict[str, int]:
    counts = {"total": len(trials), SUCCEEDED: 0, FAILED: 0, RUNNING: 0, PENDING: 0, STOPPED: 0}
    for trial in trials:
        counts[trial.status] += 1
    return counts


class Stage(ABC):
    name: ClassVar[str]

    @abstractmethod
    def enabled(self, experiment: NASExperiment) -> bool:
        """Whether the spec asks for this stage."""

    def ready(self, ctx: StageContext) -> bool:
        """Whether the stages this one depends on are complete (default: always)."""
        return True

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

    @abstractmethod
    def timeout_seconds(self, experiment: NASExperiment) -> float | None: ...

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

    def write_artifacts(self, ctx: StageContext) -> None:
        """Write plots and detailed state under ctx.artifacts_dir (after each applied pass)."""
