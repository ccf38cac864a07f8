"""Proxy-task tool 1 as a stage: find a workable model, train copies of it, measure CV and smoothness.

Attempts (random models, each stopped at ``workableFraction`` of training) run one at a time until one
succeeds; then ``copies`` trials train that architecture with the proxy settings, each with its own
seed. Everything is derived from the recorded trials, so a killed ``apply`` resumes where it was.
"""
from __future__ import annotations

from typing import Any

from reconciler.proxy.curves import Point
from reconciler.stages.proxy_plots import VARIANCE_PLOT, plot_variance_curves
from reconciler.stages.proxy_support import accuracy_metric, random_architectures, trial_curve
from reconciler.proxy.variance import VarianceReport, measure
from state.records import SEARCH, VARIANCE, SUCCEEDED, TrialRecord
from reconciler.stages.base import CostShape, Stage, StageContext, merged_args
from specs.model import NASExperiment, VarianceMeasurementSpec
from trial.protocol import StopSignal

ROLE, ATTEMPT, COPY = "role", "attempt", "copy"
MIN_COPIES = 2  # a coefficient of variation needs two values


class VarianceMeasurementStage(Stage):
    name = VARIANCE
    needs_curves = True


    @staticmethod
    def _spec(ctx: StageContext) -> VarianceMeasurementSpec:
        return ctx.spec.variance_measurement

    def _role(self, ctx: StageContext, role: str) -> list[TrialRecord]:
        return [t for t in self.trials(ctx) if t.labels.get(ROLE) == role]

    def workable(self, ctx: StageContext) -> TrialRecord | None:
        """The first attempt that trained without failing (None while none has)."""
        return next((t for t in self._role(ctx, ATTEMPT) if t.status == SUCCEEDED), None)

    def missing(self, ctx: StageContext) -> int:
        spec, workable = self._spec(ctx), self.workable(ctx)
        if workable is not None:
            return max(0, spec.copies - len(self._role(ctx, COPY)))
        attempts = self._role(ctx, ATTEMPT)
        if any(not t.terminal for t in attempts) or len(attempts) >= spec.max_workable_attempts:
            return 0
        return 1

    def new_trials(self, ctx: StageContext, ids: list[str], indices: list[int]) -> list[TrialRecord]:
        spec, workable = self._spec(ctx), self.workable(ctx)
        args = merged_args(ctx.spec.trainer.args, spec.trainer_args)
        if workable is None:
            return [TrialRecord(id=trial_id, stage=VARIANCE, index=index, dna=dna, arch=arch, args=args,
                                labels={ROLE: ATTEMPT})
                    for trial_id, index, (dna, arch) in zip(ids, indices,
                                                             random_architectures(ctx, VARIANCE, spec.seed, indices))]
        return [TrialRecord(id=trial_id, stage=VARIANCE, index=index, dna=list(workable.dna), arch=workable.arch,
                            args=args, source_trial=workable.id, seed=spec.seed + index, labels={ROLE: COPY})
                for trial_id, index in zip(ids, indices)]

    def stop_signals(self, ctx: StageContext) -> dict[str, StopSignal]:
        fraction = self._spec(ctx).workable_fraction
        return {t.id: StopSignal(desired_fraction=fraction) for t in self._role(ctx, ATTEMPT) if not t.terminal}

    def curves(self, ctx: StageContext) -> dict[str, list[Point]]:
        """Accuracy curves of the copies that succeeded."""
        metric = accuracy_metric(ctx)
        return {t.id: trial_curve(ctx, t, metric) for t in self._role(ctx, COPY) if t.status == SUCCEEDED}

    def _copies_done(self, ctx: StageContext) -> bool:
        copies = self._role(ctx, COPY)
        return len(copies) == self._spec(ctx).copies and all(t.terminal for t in copies)

    def report(self, ctx: StageContext) -> VarianceReport | None:
        """The measurement once every copy has finished (None before, or if it cannot be computed)."""
        if not self._copies_done(ctx):
            return None
        curves = self.curves(ctx)
        if len(curves) < MIN_COPIES:
            return None
        spec = self._spec(ctx)
        try:
            return measure(list(curves.values()), spec.max_cv, spec.max_smoothness)
        except ValueError:
            return None

    def failure(self, ctx: StageContext) -> str | None:
        spec = self._spec(ctx)
        attempts = self._role(ctx, ATTEMPT)
        if self.workable(ctx) is None:
            if len(attempts) < spec.max_workable_attempts or not all(t.terminal for t in attempts):
                return None
            last = attempts[-1]
            return (f"no workable model in {len(attempts)} random attempts (last: {last.id}, {last.reason}: "
                    f"{last.message}); fix the search space, or lower the batch size or learning rate")
        if not self._copies_done(ctx) or self.report(ctx) is not None:
            return None
        succeeded = len(self.curves(ctx))
        if succeeded < MIN_COPIES:
            return f"only {succeeded} of {spec.copies} copies of {self.workable(ctx).id} succeeded"
        return "the copies' curves need at least two evaluations with a training fraction each (evaluate more often)"

    def complete(self, ctx: StageContext) -> bool:
        return self.report(ctx) is not None

    def parallel_trials(self, experiment: NASExperiment) -> int:
        return experiment.spec.variance_measurement.parallel_trials

    def failure_budget(self, experiment: NASExperiment) -> int | None:
        return None  # attempts are expected to fail; `failure` says when the stage cannot succeed

    def timeout_seconds(self, experiment: NASExperiment) -> float | None:
        return experiment.spec.variance_measurement.timeout_seconds

    def cost_shape(self, experiment: NASExperiment) -> CostShape:
        spec = experiment.spec.variance_measurement
        return CostShape(spec.copies + 1, spec.copies + spec.workable_fraction, SEARCH,
                         "one workable attempt expected, then the copies")

    def summary(self, ctx: StageContext) -> dict[str, Any]:
        workable = self.workable(ctx)
        summary: dict[str, Any] = {**super().summary(ctx), "attempts": len(self._role(ctx, ATTEMPT)),
                                   "workableModel": workable.id if workable else None}
        report = self.report(ctx)
        if report is not None:
            summary.update(report.summary(), reasons=list(report.reasons))
        return summary

    def artifact_state(self, ctx: StageContext) -> dict[str, Any] | None:
        if self.report(ctx) is None:
            return None
        curves = self.curves(ctx)
        return {**self.summary(ctx), "curves": {k: [[p.fraction, p.value] for p in v] for k, v in curves.items()}}

    def artifact_plots(self, ctx: StageContext) -> dict[str, bytes]:
        report, curves = self.report(ctx), self.curves(ctx)
        title = f"{len(curves)} copies: CV {report.cv:.3g}, smoothness {report.smoothness:.3g} ({report.verdict})"
        return {VARIANCE_PLOT: plot_variance_curves(curves, title)}
