"""The backend interface: launch a trial, observe it, stop it. Local subprocesses or Vertex CustomJobs.

The reconciler records a trial's intent (its id, architecture and args) in state *before* calling
:meth:`Backend.launch`; a backend must make ``launch`` of an id that already runs adopt it instead of
starting a second copy (locally: the trial's run lock; on Vertex: the ``nasctl-key`` label).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from trial.protocol import StopSignal, TrialResult

# What a backend sees of a trial.
ALIVE, FINISHED, LOST, NOT_LAUNCHED = "alive", "finished", "lost", "not_launched"
NO_CAPACITY = "no_capacity"  # launched, turned away by the cloud for lack of machines (a stockout): never ran


@dataclass(frozen=True)
class TrialObservation:
    state: str  # ALIVE, FINISHED (result set), LOST (launched, gone without a result), NOT_LAUNCHED, NO_CAPACITY
    result: TrialResult | None = None
    cycles: list[dict[str, Any]] = field(default_factory=list)  # per-cycle metrics reported so far
    elapsed_seconds: float | None = None
    stop_signal: StopSignal | None = None  # the stop.json in force (None: none written)
    message: str = ""  # NO_CAPACITY: the cloud's words; ALIVE and queued: which job is held
    queued_seconds: float | None = None  # ALIVE: how long the cloud has held its job for quota (Vertex: QUEUED)


class Backend(ABC):
    @property
    @abstractmethod
    def slots(self) -> int:
        """How many trials may run at once on this backend (beyond the stage's parallelTrials)."""

    @abstractmethod
    def launch(self, trial_id: str, trial_spec: dict[str, Any]) -> dict[str, Any]:
        """Start (or adopt) the trial; returns a reference recorded in the trial's backend_ref."""

    @abstractmethod
    def observe(self, trial_id: str) -> TrialObservation:
        """What the trial is doing now."""

    @abstractmethod
    def stop(self, trial_id: str, reason: str) -> None:
        """Stop a running trial (no error if it is not running)."""

    def stop_all(self, trial_ids: list[str]) -> list[str]:
        """Stop every job of the experiment (`nasctl delete`): at least the given unfinished trials.
        Returns what was asked to stop. Default: each trial, as :meth:`stop` does."""
        for trial_id in trial_ids:
            self.stop(trial_id, "deleted")
        return list(trial_ids)

    def live_jobs(self) -> list[str]:
        """Jobs of the experiment that still run, found without its state (a cloud's labels). Default: none
        can be found that way."""
        return []

    def signal(self, trial_id: str, stop_signal: StopSignal) -> None:
        """Write the trial's stop signal (desired fraction, max seconds) where its trainer reads it."""
        raise NotImplementedError(f"{type(self).__name__} cannot send stop signals to trials")

    def observe_helpers(self, running: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        """Helper jobs running trials wait for (on Vertex: latency calculators): (trials that want one,
        trials that have one already). Default: no helpers."""
        return frozenset(), frozenset()

    def start_helper(self, trial_id: str) -> None:
        """Start (or adopt) the helper job of a running trial."""
        raise NotImplementedError(f"{type(self).__name__} runs no helper jobs")

    @abstractmethod
    def trial_dir_uri(self, trial_id: str) -> str:
        """Where the trial's protocol files live."""
