"""Stage 2 after a NasJob search: which of the top N nasctl trains (those Vertex did not), and when it starts.
The plan is read against the local backend (nothing launched); the CustomJob path runs in the slow NasJob
tests against the Vertex emulator."""
from __future__ import annotations

from pathlib import Path

from backends.local import LocalBackend
from reconciler.nas_job import NasJobReconciler
from reconciler.nas_stage2 import NasStage2
from reconciler.plan import CREATE
from state.records import (
    FAILED, PHASE_RUNNING, PHASE_SUCCEEDED, REASON_JOB_TIME_LIMIT, SEARCH, STOPPED, SUCCEEDED, TRAIN,
    ExperimentRecord, TrialRecord,
)
from state.snapshot import ExperimentState
from state.uri import open_store
from tests.support.vertex_emulated import vertex_experiment

EXPERIMENT = vertex_experiment("http://127.0.0.1:9", "bucket", algorithm="REINFORCEMENT_LEARNING", max_trials=6,
                               top_n=3)


def _trial(stage: str, index: int, dna: int, reward: float | None, status: str = SUCCEEDED,
           labels: dict[str, str] | None = None) -> TrialRecord:
    return TrialRecord(id=f"{stage}-{index:04d}", stage=stage, index=index, dna=[dna] * 6,
                       arch={"edges": [str(dna)] * 6}, status=status, reward=reward, labels=labels or {})


def _ended_search(phase: str = PHASE_SUCCEEDED) -> ExperimentState:
    """Six search trials (rewards 0.1 .. 0.6, the last two the same architecture); Vertex trained the best."""
    search = [_trial(SEARCH, i, dna=min(i, 4), reward=0.1 * (i + 1)) for i in range(6)]
    search[2].status, search[2].reward = FAILED, None
    trained = [_trial(TRAIN, 7, dna=4, reward=0.9)]  # Vertex's train trial of search-0005's architecture
    return ExperimentState(ExperimentRecord(name="demo", generation="g", phase=phase),
                           {t.id: t for t in search + trained})


def test_nasctl_plans_the_top_n_vertex_did_not_train_after_its_trials(tmp_path: Path) -> None:
    stage2 = NasStage2(EXPERIMENT, open_store(str(tmp_path), "demo"), LocalBackend(tmp_path / "work"))
    plan = stage2.plan(_ended_search())
    creates = [action for action in plan.actions if action.kind == CREATE]
    # the top 3 distinct architectures: dna 4 (trained by Vertex), then search-0003 and search-0001
    assert [(a.trial_id, a.record.source_trial) for a in creates] == [("train-0008", "search-0003"),
                                                                    ("train-0009", "search-0001")]
    assert all(a.now and a.record.labels == {"runner": "customJob"} for a in creates)
    assert plan.phase == PHASE_RUNNING


def test_a_stage_2_round_vertex_ran_is_not_second_guessed(tmp_path: Path) -> None:
    state = _ended_search()
    for index in (8, 9):  # Vertex's round trained 3 models, one architecture twice: nothing left to nasctl
        state.trials[f"train-{index:04d}"] = _trial(TRAIN, index, dna=4, reward=0.9)
    stage2 = NasStage2(EXPERIMENT, open_store(str(tmp_path), "demo"), LocalBackend(tmp_path / "work"))
    plan = stage2.plan(state)
    assert plan.actions == [] and plan.phase == PHASE_SUCCEEDED


def test_a_vertex_stage_2_trial_cut_short_is_trained_by_nasctl(tmp_path: Path) -> None:
    state = _ended_search()
    state.trials["train-0007"].status, state.trials["train-0007"].reward = STOPPED, None
    state.trials["train-0007"].reason = REASON_JOB_TIME_LIMIT  # the 14-day limit ended its job mid-training
    stage2 = NasStage2(EXPERIMENT, open_store(str(tmp_path), "demo"), LocalBackend(tmp_path / "work"))
    creates = [action for action in stage2.plan(state).actions if action.kind == CREATE]
    assert [(a.trial_id, a.record.source_trial) for a in creates] == [
        ("train-0008", "search-0005"), ("train-0009", "search-0003"), ("train-0010", "search-0001")]


def test_stage_2_starts_when_the_search_ends_but_an_experiment_that_had_succeeded_is_left_alone(
        tmp_path: Path) -> None:
    reconciler = NasJobReconciler(EXPERIMENT, open_store(str(tmp_path), "demo"))
    ended = _ended_search()
    assert reconciler._completes_stage2(ended, recorded_phase=PHASE_RUNNING)  # the pass that sees the end
    assert not reconciler._completes_stage2(ended, recorded_phase=PHASE_SUCCEEDED)  # ended under an older nasctl
    ended.trials["train-0008"] = _trial(TRAIN, 8, dna=3, reward=None, labels={"runner": "customJob"})
    assert reconciler._completes_stage2(ended, recorded_phase=PHASE_SUCCEEDED)  # started: carried on, recorded
    assert not reconciler._completes_stage2(_ended_search(PHASE_RUNNING), recorded_phase=PHASE_RUNNING)
