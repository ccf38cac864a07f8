"""Stage 2 after a NasJob search: nasctl trains the top N that Vertex's own stage 2 did not.

Inside a NasJob, Vertex trains the top N every ``train.frequency`` search trials (nasctl's default: once,
at maxTrials). A search that outlives its first NasJob may end before that round: at the 28-day limit,
or in its resumed job, whose count of search trials the docs do not define. The experiment would then
end with fewer than N architectures trained. So once the search has ended, the missing ones are trained
here, as CustomJobs on the stage-2 machine (``backend.train``), by the plan nasctl's own controllers use:
the train stage over the recorded search trials ranks them, skips the architectures Vertex trained
(same DNA), and the plan records outcomes, relaunches lost jobs and waits out stockouts. Its trials carry
the label ``runner: customJob``: the NasJob pass rebuilds every other trial from Vertex's details and
keeps these.
"""
from __future__ import annotations

from dataclasses import replace

from backends.base import Backend
from backends.vertex.custom_jobs import VertexCustomJobBackend
from reconciler.apply import Reconciler
from reconciler.observe import observe
from reconciler.plan import Plan, compute_plan
from reconciler.stages.base import StageContext
from reconciler.stages.train import TrainStage
from specs.model import NASExperiment
from state.records import CUSTOM_JOB_RUNNER, RUNNER_LABEL, STOPPED, TrialRecord
from state.snapshot import ExperimentState
from state.store import StateStore


class CompletionStage(TrainStage):
    """The train stage over an ended NasJob search: it trains as many of the top N as Vertex's stage 2 left
    out (topN less the NasJob's stage-2 trials that ended on their own: a round Vertex ran is not second-guessed,
    even when it trained one architecture twice, but a trial cut short by the 14-day limit or left unfinished
    when its job ended trained nothing), and labels its trials as nasctl's CustomJobs."""

    def _training(self, ctx: StageContext) -> list[TrialRecord]:
        return [t for t in self.trials(ctx) if t.runs_as_custom_job or t.status != STOPPED]

    def _untrained_sources(self, ctx: StageContext) -> list[TrialRecord]:
        return super()._untrained_sources(ctx)[:max(0, ctx.spec.train.top_n - len(self._training(ctx)))]

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        return [replace(trial, labels={**trial.labels, RUNNER_LABEL: CUSTOM_JOB_RUNNER})
                for trial in super().new_trials(ctx, ids, indices)]


class NasStage2:
    """One pass of the stage-2 completion, carried out by the ordinary reconciler's executor."""

    def __init__(self, experiment: NASExperiment, store: StateStore, backend: Backend | None = None):
        self.experiment = experiment
        self.stages = [CompletionStage(())]  # the search stage is not in it: to the plan, it is complete
        self.executor = Reconciler(experiment, store, backend or VertexCustomJobBackend(experiment))

    def plan(self, state: ExperimentState) -> Plan:
        """The pass's plan, from reads alone (what `diff` shows). Only nasctl's own stage-2 trials are
        observed, so the NasJob's trials are neither launched nor recorded here."""
        own = ExperimentState(state.experiment, {t.id: t for t in state.trials.values() if t.runs_as_custom_job})
        observed = observe(self.experiment, own, self.executor.backend, self.stages)
        return compute_plan(self.experiment, state, observed, self.executor.backend.slots, stages=self.stages)

    def run_pass(self, state: ExperimentState) -> Plan:
        """Plan the missing top N and act on it; `state` is updated and saved."""
        plan = self.plan(state)
        self.executor.execute(plan, state)
        return plan

    def cancel_all(self, state: ExperimentState) -> list[str]:
        """Cancel the CustomJobs (`nasctl delete`), then record the unfinished own trials as stopped."""
        return self.executor.cancel_all(state, [t for t in state.trials.values() if t.runs_as_custom_job])

    def live_jobs(self) -> list[str]:
        return self.executor.backend.live_jobs()
