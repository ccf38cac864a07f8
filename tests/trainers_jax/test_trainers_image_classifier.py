"""The image-classifier trainer trains real models on digits; resume, NaN and bad-input faults."""
from __future__ import annotations

from typing import Callable

import pytest

from trial.protocol import FAILED, FAILED_NAN, SUCCEEDED, StopSignal
from trial.dirs import LocalTrialDir
from trial.runner import run
from trainers_jax.saved_model import has_saved_model
from trainers_jax.trainer_args import CLASSIFIER_METRICS

from tests.support.trainer_fixtures import FAST_ARGS, TINY_ARCH

MakeTrial = Callable[..., LocalTrialDir]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> LocalTrialDir:
    """One full 80-step run, shared by the accuracy and resume tests."""
    trial = LocalTrialDir(tmp_path_factory.mktemp("full"))
    trial.write_spec({"id": "full", "stage": "search", "arch": TINY_ARCH,
                      "trainer": {"prebuilt": "image-classifier"}, "args": FAST_ARGS, "seed": 0})
    run(str(trial.path))
    return trial


@pytest.mark.slow  # real training
def test_trains_digits_far_above_chance(uninterrupted: LocalTrialDir) -> None:
    result = uninterrupted.read_result()
    assert result.status == SUCCEEDED, result.message
    assert result.metrics["accuracy"] > 0.6  # 10 classes: chance is 0.1
    assert result.metrics["steps"] == 80
    assert set(result.metrics) == set(CLASSIFIER_METRICS)  # what `validate` lets a reward name
    cycles = uninterrupted.read_metrics()
    assert [c["step"] for c in cycles] == [20, 40, 60, 80]
    assert [c["fraction"] for c in cycles] == [0.25, 0.5, 0.75, 1.0]
    assert cycles[-1]["metrics"]["learning_rate"] < 0.01 * 0.2  # cosine decay reaches ~0 at the last step
    assert has_saved_model(uninterrupted.path)


@pytest.mark.slow  # real training
def test_resumed_trial_matches_uninterrupted(uninterrupted: LocalTrialDir, make_trial: MakeTrial) -> None:
    trial = make_trial("resumed", stop=StopSignal(desired_fraction=0.3))
    first = run(str(trial.path))
    assert first.status == SUCCEEDED, first.message
    assert first.metrics["steps"] == 24  # stops exactly at 30 % of 80 steps, mid-cycle
    trial.write_stop(StopSignal(desired_fraction=1.0))  # the next model-selection round
    second = run(str(trial.path))
    full = uninterrupted.read_result().metrics
    assert second.metrics["steps"] == full["steps"] == 80
    assert second.metrics["learning_rate"] == pytest.approx(full["learning_rate"], rel=1e-6)
    assert second.metrics["accuracy"] == pytest.approx(full["accuracy"], abs=0.02)
    steps = [c["step"] for c in trial.read_metrics()]
    assert steps == [20, 24, 40, 60, 80]  # continued, not restarted at step 0
    seconds = [c["seconds"] for c in trial.read_metrics()]
    assert seconds == sorted(seconds) and seconds[2] > seconds[1]  # and so did its training time
    again = run(str(trial.path))  # relaunched with nothing left to train: the same model, evaluated
    assert (again.metrics["steps"], again.metrics["accuracy"]) == (80, second.metrics["accuracy"])


@pytest.mark.slow  # real training
def test_reported_training_time_leaves_evaluations_out(make_trial: MakeTrial, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seconds of each cycle are training time (the proxy-task tools' hours per step): an evaluation that takes
    a second adds nothing to them, though it does to the trial's wall time."""
    import time

    from trainers_jax import training

    make_evaluator = training.make_evaluator

    def slow_evaluator(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        evaluate = make_evaluator(*args, **kwargs)

        def evaluate_slowly(*inner, **named):  # noqa: ANN002, ANN003, ANN202
            time.sleep(1.0)
            return evaluate(*inner, **named)
        return evaluate_slowly

    monkeypatch.setattr(training, "make_evaluator", slow_evaluator)
    trial = make_trial()
    started = time.monotonic()
    assert run(str(trial.path)).status == SUCCEEDED
    wall = time.monotonic() - started
    seconds = [c["seconds"] for c in trial.read_metrics()]
    assert len(seconds) == 4 and wall > 4.0  # four evaluations of a second each
    assert seconds[-1] < wall - 4.0


@pytest.mark.slow  # real training
def test_nan_loss_is_classified(make_trial: MakeTrial) -> None:
    trial = make_trial(args={"learningRate": 1e38, "clipNorm": None, "steps": 20, "evalEvery": 10})
    result = run(str(trial.path))
    assert result.status == FAILED_NAN
    assert "NaN/Inf" in result.message


def test_missing_data_file_is_named(make_trial: MakeTrial, tmp_path) -> None:
    missing = tmp_path / "nowhere.npz"
    result = run(str(make_trial(args={"dataset": str(missing)}).path))
    assert result.status == FAILED and str(missing) in result.message


def test_unbuildable_architecture_fails_with_reason(make_trial: MakeTrial) -> None:
    result = run(str(make_trial(arch={"blocks": [{"repeats": 1}]}).path))
    assert result.status == FAILED and "architecture cannot be built" in result.message


def test_unknown_trainer_arg_is_rejected(make_trial: MakeTrial) -> None:
    result = run(str(make_trial(args={"stpes": 10}).path))
    assert result.status == FAILED and "stpes" in result.message
