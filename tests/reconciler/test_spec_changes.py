"""Which spec changes `diff` and `apply` refuse: those that would make recorded rewards and new ones incomparable
(a stage's proxy task, the reward), and only once there is something recorded to mix with."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from reconciler.spec_changes import normalised_spec, spec_changes
from specs.loader import parse_experiment
from specs.model import NASExperiment
from state.records import FAILED, RUNNING, SEARCH, SUCCEEDED, TRAIN, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState
from tests.conftest import nb201_spec


def _experiment(edit: Any = None) -> NASExperiment:
    spec = nb201_spec(max_trials=4, parallel=2, top_n=2)
    if edit is not None:
        edit(spec)
    return parse_experiment(yaml.safe_dump(spec))


def _state(*trials: tuple[str, str, float | None], applied_edit: Any = None) -> ExperimentState:
    """Applied with the unedited spec (or `applied_edit` of it), with trials (stage, status, reward) recorded."""
    applied = _experiment(applied_edit)
    record = ExperimentRecord(name="exp", generation="g", spec=normalised_spec(applied))
    return ExperimentState(record, {f"{stage}-{i}": TrialRecord(f"{stage}-{i}", stage, i, [i], None, status=status,
                                                                reward=reward)
                                    for i, (stage, status, reward) in enumerate(trials)})


def _refusals(edit: Any, state: ExperimentState) -> dict[str, str | None]:
    return {change.path: change.refused for change in spec_changes(_experiment(edit), state)}


def _search_args(spec: dict) -> None:
    spec["spec"]["search"]["trainerArgs"] = {"mode": "full"}


def _train_args(spec: dict) -> None:
    spec["spec"]["train"]["trainerArgs"] = {"mode": "proxy"}


def _trainer_args(spec: dict) -> None:
    spec["spec"]["trainer"]["args"] = {"delaySeconds": 1}


def _reward(spec: dict) -> None:
    spec["spec"]["reward"] = {"limit": "soft"}


@pytest.mark.parametrize(("edit", "path", "why"), [
    (_search_args, "spec.search.trainerArgs.mode", "1 finished search trials were trained with the old value"),
    (_train_args, "spec.train.trainerArgs.mode", "1 finished train trials were trained with the old value"),
    (_trainer_args, "spec.trainer.args.delaySeconds", "2 finished trials were trained by the old trainer"),
    (_reward, "spec.reward.limit", "the rewards of 2 finished trials were computed with the old reward"),
])
def test_a_change_that_would_mix_rewards_is_refused_once_results_are_recorded(edit: Any, path: str, why: str) -> None:
    recorded = _state((SEARCH, SUCCEEDED, 0.9), (SEARCH, RUNNING, None), (TRAIN, SUCCEEDED, 0.93))
    refused = _refusals(edit, recorded)[path]
    assert refused is not None and refused.startswith(why) and "new metadata.name" in refused


@pytest.mark.parametrize("edit", [_search_args, _train_args, _trainer_args, _reward])
def test_the_same_change_applies_in_place_while_nothing_it_affects_has_finished(edit: Any) -> None:
    running = _state((SEARCH, RUNNING, None), (TRAIN, RUNNING, None), (SEARCH, FAILED, None))
    refusals = _refusals(edit, running)
    assert refusals and set(refusals.values()) == {None}


def _with_model_selection(spec: dict) -> None:
    spec["spec"]["modelSelection"] = {"startModels": 4, "finalModels": 2, "trainerArgs": {"mode": "full"}}


def _selection_args_changed(spec: dict) -> None:
    _with_model_selection(spec)
    spec["spec"]["modelSelection"]["trainerArgs"]["mode"] = "proxy"


@pytest.mark.parametrize(("reward", "refused"), [(0.8, True), (None, False)])
def test_a_proxy_task_stage_is_held_to_its_args_as_well(reward: float | None, refused: bool) -> None:
    state = _state(("modelSelection", SUCCEEDED if reward else RUNNING, reward), applied_edit=_with_model_selection)
    why = _refusals(_selection_args_changed, state)["spec.modelSelection.trainerArgs.mode"]
    assert (why is not None and why.startswith("1 finished modelSelection trials")) == refused


def _without_train(spec: dict) -> None:
    del spec["spec"]["train"]


def _with_reward_latency(spec: dict) -> None:
    spec["spec"]["reward"] = {"latency": {"metric": "latency_fpga_ms", "target": 4}}


def _added_back(spec: dict) -> None:
    spec["spec"]["train"]["topN"] = 1


@pytest.mark.parametrize(("trials", "why"), [
    ([(TRAIN, SUCCEEDED, 0.93), (TRAIN, FAILED, None)], "2 train trials are recorded; results are never deleted"),
    ([(SEARCH, SUCCEEDED, 0.9)], None),  # stage 2 has not started: leaving it out is a change like any other
])
def test_a_section_left_out_is_one_change_refused_only_over_recorded_results(trials: list, why: str | None) -> None:
    changes = spec_changes(_experiment(_without_train), _state(*trials))
    assert [(c.path, c.old, c.new) for c in changes] == [
        ("spec.train", {"topN": 2, "parallelTrials": 2, "trainerArgs": {"mode": "full"}}, "(unset)")]
    refused = changes[0].refused
    assert refused is None if why is None else refused.startswith(why)


def test_a_section_with_fields_that_cannot_change_is_refused_as_they_are() -> None:
    state = _state((SEARCH, SUCCEEDED, 0.9), applied_edit=_with_reward_latency)
    (change,) = spec_changes(_experiment(), state)
    assert change.path == "spec.reward.latency" and change.new == "(unset)"
    assert change.refused.startswith("the rewards of 1 finished trials were computed with the old reward")


def test_a_section_added_shows_its_fields_and_not_its_former_null() -> None:
    state = _state((SEARCH, SUCCEEDED, 0.9), applied_edit=_without_train)
    changes = spec_changes(_experiment(_added_back), state)
    assert [(c.path, c.old, c.new, c.refused) for c in changes] == [
        ("spec.train.parallelTrials", "(unset)", 2, None), ("spec.train.topN", "(unset)", 1, None),
        ("spec.train.trainerArgs.mode", "(unset)", "full", None)]
