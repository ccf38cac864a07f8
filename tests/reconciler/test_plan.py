"""The reconciler's plan over recorded state: fresh, unchanged, raised maxTrials, partial, failures."""
from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings, strategies as st

from backends.base import ALIVE, FINISHED, LOST, NO_CAPACITY, NOT_LAUNCHED, TrialObservation
from reconciler.graph import enabled_stages
from reconciler.observe import Observed
from reconciler.phase import stage_phase
from reconciler.plan import ADOPT, CREATE, LAUNCH, LIFECYCLE, RECORD, RELAUNCH, STOP, MAX_ATTEMPTS, compute_plan
from state.records import (
    FAILED, PENDING, PHASE_FAILED, PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, RUNNING, SEARCH, SUCCEEDED,
    TRAIN, ExperimentRecord, TrialRecord,
)
from reconciler.stages.base import StageContext
from state.snapshot import ExperimentState
from specs.loader import parse_experiment
from tests.conftest import nb201_spec
from trial.protocol import TrialResult

UNLIMITED = 1000


def experiment(**kwargs):
    return parse_experiment(yaml.safe_dump(nb201_spec(**kwargs)))


def trial(index: int, status: str = SUCCEEDED, stage: str = SEARCH, reward: float | None = None) -> TrialRecord:
    record = TrialRecord(id=f"{stage}-{index:04d}", stage=stage, index=index, dna=[index % 5] * 6,
                         arch={"edges": ["none"] * 6}, status=status)
    if status == SUCCEEDED:
        record.reward = reward if reward is not None else 0.5 + index / 1000
        record.metrics = {"accuracy": record.reward}
    return record


def plan_for(exp, trials, observations=None, slots=UNLIMITED, recorded_phase=PHASE_PENDING):
    state = ExperimentState(ExperimentRecord(name="exp", generation="g1", observed_generation="g0",
                                             phase=recorded_phase), {t.id: t for t in trials})
    plan = compute_plan(exp, state, Observed(trials=observations or {}), slots)
    for action in plan.actions:  # what apply records before acting
        if action.kind == RECORD:
            state.trials[action.trial_id] = action.record
    return plan, state


def kinds(plan, now_only=False):
    return [(a.kind, a.trial_id) for a in plan.actions if a.now or not now_only]


def test_fresh_spec_creates_every_trial_and_starts_parallel_ones():
    plan, _ = plan_for(experiment(max_trials=10, parallel=3), [])
    assert [a.trial_id for a in plan.actions] == [f"search-{i:04d}" for i in range(10)]
    assert all(a.kind == CREATE for a in plan.actions)
    assert [a.trial_id for a in plan.actions if a.now] == ["search-0000", "search-0001", "search-0002"]
    assert plan.phase == PHASE_PENDING


def test_backend_slots_cap_what_starts_now():
    plan, _ = plan_for(experiment(max_trials=10, parallel=3), [], slots=2)
    assert len([a for a in plan.actions if a.now]) == 2


def test_completed_experiment_with_unchanged_spec_has_no_changes():
    exp = experiment(max_trials=6, parallel=2, top_n=2)
    search = [trial(i) for i in range(6)]
    train = [trial(0, stage=TRAIN), trial(1, stage=TRAIN)]
    train[0].dna, train[1].dna = search[5].dna, search[4].dna  # the top two by reward
    plan, _ = plan_for(exp, search + train, recorded_phase=PHASE_SUCCEEDED)
    assert plan.actions == [] and not plan.has_changes
    assert plan.phase == PHASE_SUCCEEDED
    stale, _ = plan_for(exp, search + train, recorded_phase=PHASE_RUNNING)  # a crashed apply's record
    assert stale.actions == [] and stale.has_changes and stale.phase_change == (PHASE_RUNNING, PHASE_SUCCEEDED)


def test_raised_max_trials_plans_only_the_difference():
    plan, _ = plan_for(experiment(max_trials=8, parallel=2, top_n=None), [trial(i) for i in range(5)])
    assert kinds(plan) == [(CREATE, "search-0005"), (CREATE, "search-0006"), (CREATE, "search-0007")]


def test_lowered_max_trials_never_deletes_results():
    plan, state = plan_for(experiment(max_trials=3, parallel=1, top_n=None), [trial(i) for i in range(5)])
    assert plan.actions == []
    assert len(state.trials) == 5 and plan.phase == PHASE_SUCCEEDED


def test_partial_state_adopts_launches_relaunches_and_records_results():
    trials = [trial(0), trial(1, PENDING), trial(2, RUNNING), trial(3, RUNNING), trial(4, RUNNING), trial(5, PENDING)]
    trials[4].attempt = 1
    observations = {
        "search-0001": TrialObservation(ALIVE, elapsed_seconds=1.0),
        "search-0002": TrialObservation(FINISHED, TrialResult("succeeded", {"accuracy": 0.7})),
        "search-0003": TrialObservation(ALIVE, elapsed_seconds=1.0),
        "search-0004": TrialObservation(LOST),
        "search-0005": TrialObservation(NOT_LAUNCHED),
    }
    plan, state = plan_for(experiment(max_trials=8, parallel=4, top_n=None), trials, observations)
    assert state.trials["search-0002"].status == SUCCEEDED and state.trials["search-0002"].reward == 0.7
    assert kinds(plan) == [(RECORD, "search-0002"), (ADOPT, "search-0001"), (RELAUNCH, "search-0004"),
                           (LAUNCH, "search-0005"), (CREATE, "search-0006"), (CREATE, "search-0007")]
    # active: 0001, 0003, 0004, 0005 → no free slot of 4 for new trials yet
    assert [a.trial_id for a in plan.actions if a.kind == CREATE and a.now] == []
    assert plan.phase == PHASE_RUNNING


def test_trial_lost_twice_is_recorded_as_crashed():
    lost = trial(0, RUNNING)
    lost.attempt = MAX_ATTEMPTS
    plan, state = plan_for(experiment(max_trials=2, parallel=1, top_n=None, maxFailedTrials=1), [lost],
                           {"search-0000": TrialObservation(LOST)})
    assert state.trials["search-0000"].status == FAILED and state.trials["search-0000"].reason == "crashed"
    assert kinds(plan, now_only=True) == [(RECORD, "search-0000"), (CREATE, "search-0001")]


def test_a_trial_the_cloud_turned_away_is_relaunched_without_using_up_an_attempt():
    turned_away = trial(0, RUNNING)
    turned_away.attempt = MAX_ATTEMPTS  # already relaunched once after a crash: one more loss would fail it
    stockout = TrialObservation(NO_CAPACITY, message="Resources are insufficient in region: us-central1.")
    for _ in range(3):  # a stockout that lasts: relaunched every time, never failed
        plan, state = plan_for(experiment(max_trials=1, parallel=1, top_n=None, maxFailedTrials=1), [turned_away],
                               {"search-0000": stockout})
        [action] = plan.actions
        assert (action.kind, action.now) == (RELAUNCH, True) and "stockout" in action.reason
        assert action.record.attempt == MAX_ATTEMPTS - 1 and action.record.status == RUNNING
        assert action.record.message == "relaunched after a stockout: Resources are insufficient in region: us-central1."
        turned_away = action.record
        turned_away.attempt += 1  # what apply's launch counts
    assert turned_away.attempt == MAX_ATTEMPTS and plan.phase == PHASE_RUNNING


def test_failures_map_to_reasons():
    results = {"failed_nan": "nan", "failed_oom": "oom", "failed": "error", "timeout": "timeout"}
    trials = [trial(i, RUNNING) for i in range(len(results))]
    observations = {t.id: TrialObservation(FINISHED, TrialResult(status, message="boom"))
                    for t, status in zip(trials, results)}
    _, state = plan_for(experiment(max_trials=10, parallel=4, maxFailedTrials=10, top_n=None), trials, observations)
    assert [state.trials[t.id].reason for t in trials] == list(results.values())
    assert all(state.trials[t.id].status == FAILED for t in trials)


def test_too_many_failures_fail_the_experiment_and_stop_running_trials():
    trials = [trial(i, FAILED) for i in range(3)] + [trial(3, RUNNING)]
    for failed in trials[:3]:
        failed.reason, failed.message = "nan", "loss is NaN"
    plan, _ = plan_for(experiment(max_trials=10, parallel=2, maxFailedTrials=2, top_n=None), trials,
                       {"search-0003": TrialObservation(ALIVE, elapsed_seconds=0.1)})
    assert plan.phase == PHASE_FAILED
    assert plan.condition.reason == "TooManyFailedTrials"
    assert "3 failed trials exceed maxFailedTrials=2" in plan.condition.message
    assert "search-0002 (nan)" in plan.condition.message
    assert kinds(plan) == [(STOP, "search-0003")]


@settings(max_examples=40, deadline=None)
@given(nans=st.integers(0, 4), errors=st.integers(0, 4), budget=st.integers(0, 3), nan_counts=st.booleans())
def test_nan_failures_count_against_the_budget_unless_the_spec_says_not(nans, errors, budget, nan_counts):
    """Vertex's NaN option: with nanCountsAsFailure false a diverged trial is still a failure (reason nan) but the
    experiment fails only when the other failures pass maxFailedTrials."""
    trials = [trial(i, FAILED) for i in range(nans + errors)]
    for failed in trials:
        failed.reason = "nan" if failed.index < nans else "error"
    plan, _ = plan_for(experiment(max_trials=10, parallel=1, maxFailedTrials=budget, nanCountsAsFailure=nan_counts,
                                  top_n=None), trials)
    counted = errors + (nans if nan_counts else 0)
    assert (plan.condition.reason == "TooManyFailedTrials") == (counted > budget)
    if counted > budget:
        assert f"{counted} failed trials exceed maxFailedTrials={budget}" in plan.condition.message


def test_a_nas_job_cannot_leave_nan_failures_uncounted():
    import pytest

    from specs.loader import SpecError

    poc = yaml.safe_load((Path(__file__).resolve().parents[2] / "specs" / "examples" / "mnasnet-poc-vertex.yaml")
                         .read_text(encoding="utf-8"))
    poc["spec"]["search"]["nanCountsAsFailure"] = False
    with pytest.raises(SpecError, match="counts every failed trial against its max_failed_trial_count"):
        parse_experiment(yaml.safe_dump(poc))


def test_a_success_whose_reward_is_nan_is_recorded_as_a_nan_failure_and_never_ranks():
    """A command trainer may report a diverged metric and exit 0: recorded as it is, NaN would sort anywhere and
    could be the "best" trial stage 2 trains."""
    trials = [trial(0, RUNNING), trial(1, RUNNING)]
    observations = {"search-0000": TrialObservation(FINISHED, TrialResult(SUCCEEDED, {"accuracy": float("nan")})),
                    "search-0001": TrialObservation(FINISHED, TrialResult(SUCCEEDED, {"accuracy": 0.8}))}
    _, state = plan_for(experiment(max_trials=2, parallel=2, top_n=None), trials, observations)
    diverged = state.trials["search-0000"]
    assert (diverged.status, diverged.reason, diverged.reward) == (FAILED, "nan", None)
    assert "reward is nan (accuracy = nan)" in diverged.message
    assert state.trials["search-0001"].reward == 0.8


def test_a_reward_metric_fixed_after_the_trials_trained_rescores_them_without_training_again():
    """A misspelt reward metric fails trials that trained; the fix (a reward change, allowed while no reward is
    recorded) turns them into successes on the next pass, and the experiment the failures failed goes on."""
    misspelt = experiment(max_trials=3, parallel=3, top_n=None, maxFailedTrials=1)
    misspelt.spec.reward.metric = "acuracy"
    observations = {f"search-{i:04d}": TrialObservation(FINISHED, TrialResult(SUCCEEDED, {"accuracy": 0.6 + i / 10}))
                    for i in range(2)}
    plan, state = plan_for(misspelt, [trial(0, RUNNING), trial(1, RUNNING)], observations)
    assert [(t.status, t.reason) for t in state.trials.values()] == [(FAILED, "reward")] * 2
    assert plan.phase == PHASE_FAILED and "'acuracy' not reported" in plan.condition.message
    again, state = plan_for(misspelt, list(state.trials.values()))
    assert [a.kind for a in again.actions if a.kind == RECORD] == []  # the same reward: nothing to rescore

    fixed, state = plan_for(experiment(max_trials=3, parallel=3, top_n=None, maxFailedTrials=1),
                            list(state.trials.values()))
    assert [(a.kind, a.trial_id, a.reason) for a in fixed.actions if a.kind == RECORD] == [
        (RECORD, "search-0000", "rescored: succeeded"), (RECORD, "search-0001", "rescored: succeeded")]
    assert [t.reward for t in state.trials.values()] == [0.6, 0.7] and fixed.phase != PHASE_FAILED
    assert [a.kind for a in fixed.actions if a.now and a.kind != RECORD] == [CREATE]  # and the search goes on


def test_timeout_stops_a_trial():
    plan, _ = plan_for(experiment(max_trials=1, parallel=1, top_n=None, timeoutSeconds=5), [trial(0, RUNNING)],
                       {"search-0000": TrialObservation(ALIVE, elapsed_seconds=6.0)})
    assert [(a.kind, a.reason) for a in plan.actions] == [(STOP, "timeout")]


def test_stage_two_waits_for_search_then_takes_top_n_distinct_archs():
    exp = experiment(max_trials=4, parallel=2, top_n=2)
    running, _ = plan_for(exp, [trial(0), trial(1), trial(2), trial(3, RUNNING)],
                          {"search-0003": TrialObservation(ALIVE, elapsed_seconds=0.1)})
    assert not [a for a in running.actions if a.stage == TRAIN]
    search = [trial(0, reward=0.9), trial(1, reward=0.8), trial(2, reward=0.95), trial(3, reward=0.1)]
    search[1].dna = search[0].dna  # same architecture twice: stage 2 trains it once
    done, _ = plan_for(exp, search)
    assert kinds(done) == [(CREATE, "train-0000"), (CREATE, "train-0001")]


_OBSERVATIONS = {
    "alive": TrialObservation(ALIVE, elapsed_seconds=1.0),
    "finished": TrialObservation(FINISHED, TrialResult("succeeded", {"accuracy": 0.6})),
    "nan": TrialObservation(FINISHED, TrialResult("failed_nan", message="nan")),
    "lost": TrialObservation(LOST),
    "no_capacity": TrialObservation(NO_CAPACITY, message="Resources are insufficient in region: us-central1."),
    "not_launched": TrialObservation(NOT_LAUNCHED),
}


@settings(max_examples=80, deadline=None)
@given(
    max_trials=st.integers(1, 12),
    parallel=st.integers(1, 12),
    recorded=st.lists(st.tuples(st.sampled_from([SUCCEEDED, FAILED, RUNNING, PENDING]),
                                st.sampled_from(sorted(_OBSERVATIONS))), max_size=14),
)
def test_plan_invariants_hold_for_any_recorded_state(max_trials, parallel, recorded):
    parallel = min(parallel, max_trials)
    trials, observations = [], {}
    for index, (status, seen) in enumerate(recorded):
        record = trial(index, status)
        if status == FAILED:
            record.reason = "nan"
        trials.append(record)
        if not record.terminal:
            observations[record.id] = _OBSERVATIONS[seen]
    exp = experiment(max_trials=max_trials, parallel=parallel, top_n=None, maxFailedTrials=100)
    plan, state = plan_for(exp, trials, observations)
    ids = [a.trial_id for a in plan.actions if a.kind in LIFECYCLE]
    assert len(ids) == len(set(ids)), "one lifecycle action per trial"
    assert all(not state.trials[a.trial_id].terminal for a in plan.actions if a.kind in LIFECYCLE and a.kind != CREATE)
    assert all(state.trials[a.trial_id].terminal for a in plan.actions if a.kind == RECORD)
    creates = [a for a in plan.actions if a.kind == CREATE]
    assert len(creates) == max(0, max_trials - len(trials))
    assert [a.trial_id for a in creates] == [f"search-{i:04d}" for i in range(len(trials), len(trials) + len(creates))]
    active = sum(not t.terminal for t in state.trials.values())
    assert sum(a.now for a in creates) == max(0, min(len(creates), parallel - active))
    assert (plan.phase == PHASE_SUCCEEDED) == (not creates and all(t.terminal for t in state.trials.values()))


def test_a_stage_whose_every_trial_failed_is_failed_not_succeeded():
    exp = experiment(max_trials=2, parallel=2, top_n=None, maxFailedTrials=5)
    (search,) = enabled_stages(exp)
    state = ExperimentState(ExperimentRecord(name="exp", generation="g"),
                            {t.id: t for t in (trial(0, FAILED), trial(1, FAILED))})
    ctx = StageContext(exp, state, Observed(trials={}), {search.name: search})
    assert stage_phase(ctx, search) == PHASE_FAILED
    state.trials["search-0001"] = trial(1)
    assert stage_phase(ctx, search) == PHASE_SUCCEEDED


def test_a_plan_with_nothing_to_do_while_trials_run_says_how_many_run(capsys):
    from nasctl import render  # noqa: PLC0415 - the CLI's renderer of this plan

    exp = experiment(max_trials=2, parallel=2, top_n=None)
    alive = {f"search-{i:04d}": TrialObservation(ALIVE, elapsed_seconds=1.0) for i in range(2)}
    plan, _ = plan_for(exp, [trial(0, RUNNING), trial(1, RUNNING)], alive, recorded_phase=PHASE_RUNNING)
    assert plan.actions == [] and plan.to_json()["running"] == 2
    render.render_plan("exp", plan.to_json())
    assert "No changes. The experiment matches its spec; 2 trials running." in capsys.readouterr().out
