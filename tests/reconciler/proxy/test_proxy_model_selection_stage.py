"""The model-selection stage replayed from recorded trials: failures count toward removals, continuation
signals, and the abort above the failure share. Built on real records and observations, no processes."""
from __future__ import annotations

import pytest

from backends.base import FINISHED, TrialObservation
from state.records import FAILED, SUCCEEDED, ExperimentRecord, TrialRecord
from reconciler.observe import Observed
from reconciler.stages.base import StageContext
from reconciler.stages.model_selection import ModelSelectionStage
from state.snapshot import ExperimentState
from specs.model import NASExperiment
from trial.protocol import StopSignal, TrialResult

ACCURACIES = [0.10, 0.12, 0.30, 0.50, 0.55, 0.70, 0.90]


def experiment(max_failure_fraction: float = 0.2) -> NASExperiment:
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "exp"},
        "spec": {"searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
                 "search": {"maxTrials": 1},
                 "modelSelection": {"startModels": 7, "finalModels": 5, "removePerRound": 1,
                                    "maxFailureFraction": max_failure_fraction}}})


def context(failed: set[int], fraction: float = 0.15, max_failure_fraction: float = 0.2,
            created: int = len(ACCURACIES)) -> StageContext:
    state = ExperimentState(ExperimentRecord(name="exp", generation="g"))
    observations = {}
    for index, accuracy in enumerate(ACCURACIES[:created]):
        trial_id = f"modelSelection-{index:04d}"
        status = FAILED if index in failed else SUCCEEDED
        state.add([TrialRecord(id=trial_id, stage="modelSelection", index=index, dna=[0], arch={}, status=status)])
        cycles = [] if index in failed else [
            {"step": 1, "fraction": fraction, "seconds": 1.0, "metrics": {"accuracy": accuracy}}]
        observations[trial_id] = TrialObservation(FINISHED, TrialResult(status), cycles)
    stage = ModelSelectionStage()
    return StageContext(experiment(max_failure_fraction), state, Observed(trials=observations), {stage.name: stage})


def test_a_failure_counts_toward_the_round_removals_and_survivors_continue() -> None:
    ctx = context(failed={3})
    stage = ModelSelectionStage()
    progress = stage.progress(ctx)
    first, second = progress.rounds
    assert first.failed == ["modelSelection-0003"] and first.selection.removed == ()
    assert len(first.selection.kept) == 6
    assert second.fraction == pytest.approx(1 / 7 + 1 / 6)
    assert sorted(stage.continuations(ctx)) == sorted(first.selection.kept)
    signals = stage.stop_signals(ctx)
    assert sorted(signals) == sorted(first.selection.kept)
    assert all(s == StopSignal(desired_fraction=pytest.approx(1 / 7 + 1 / 6)) for s in signals.values())
    assert not stage.complete(ctx) and stage.failure(ctx) is None


def test_without_failures_the_denser_model_is_removed() -> None:
    first = ModelSelectionStage().progress(context(failed=set())).rounds[0]
    assert first.selection.removed == ("modelSelection-0001",)  # 0.12 sits 0.02 from 0.10 and nearer 0.30


def test_more_failures_than_tolerated_abort_with_a_clear_message() -> None:
    ctx = context(failed={2, 4})  # int(7 × 0.2) = 1 failure tolerated
    message = ModelSelectionStage().failure(ctx)
    assert message is not None and message.startswith("2 of 7 models failed (more than 20%)")
    assert ModelSelectionStage().continuations(ctx) == []
    assert ModelSelectionStage().failure(context(failed={2, 4}, max_failure_fraction=0.3)) is None


def test_the_first_trials_get_the_first_round_signal_while_the_rest_are_created() -> None:
    ctx = context(failed=set(), created=3)
    for trial in ctx.state.trials.values():
        trial.status = "pending"  # recorded, about to launch
    ctx.observed.trials.clear()
    stage = ModelSelectionStage()
    assert stage.stop_signals(ctx) == {f"modelSelection-{i:04d}": StopSignal(desired_fraction=pytest.approx(1 / 7))
                                       for i in range(3)}
    assert stage.missing(ctx) == 4 and stage.continuations(ctx) == [] and not stage.complete(ctx)
