"""spec.budget: the plan launches no trial whose expected cost would take the committed spend past maxCostUsd,
running trials finish, and the experiment ends Failed with BudgetExhausted once nothing runs."""
from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from reconciler.budget import BUDGET_EXHAUSTED, EXHAUSTED, BudgetGuard, budget_view, stage_rates
from reconciler.graph import enabled_stages
from reconciler.observe import Observed
from reconciler.plan import CREATE, compute_plan
from specs.loader import SpecError, parse_experiment
from state.records import (
    CUSTOM_JOB_RUNNER, RUNNER_LABEL, TRAIN, PHASE_FAILED, PHASE_RUNNING, PHASE_SUCCEEDED, RUNNING, SEARCH, SUCCEEDED, ExperimentRecord, TrialRecord,
)
from state.snapshot import ExperimentState
from tests.conftest import nb201_spec

NOW = 1_000_000.0
HOUR = 3600.0


def experiment(max_cost: float | None, hour_usd: float = 2.0, timeout: float | None = HOUR, **kwargs):
    spec = nb201_spec(**kwargs)
    spec["spec"]["backend"]["trialHourUsd"] = hour_usd
    if timeout is not None:
        spec["spec"]["search"]["timeoutSeconds"] = timeout
    if max_cost is not None:
        spec["spec"]["budget"] = {"maxCostUsd": max_cost}
    return parse_experiment(yaml.safe_dump(spec))


def trial(index: int, hours: float, status: str = SUCCEEDED) -> TrialRecord:
    """A search trial that ran `hours` (finished at NOW when terminal, still running at NOW otherwise)."""
    record = TrialRecord(id=f"search-{index:04d}", stage=SEARCH, index=index, dna=[index % 5] * 6,
                         arch={"edges": ["none"] * 6}, status=status, launched_at=NOW - hours * HOUR)
    if status == SUCCEEDED:
        record.finished_at, record.reward, record.metrics = NOW, 0.5, {"accuracy": 0.5}
    return record


def plan_for(exp, trials):
    state = ExperimentState(ExperimentRecord(name="exp", generation="g"), {t.id: t for t in trials})
    return compute_plan(exp, state, Observed(), 1000, now=NOW)


def launched(plan) -> list[str]:
    return [a.trial_id for a in plan.actions if a.now and a.kind == CREATE]


def test_launches_stop_where_the_next_trial_would_pass_the_budget():
    # 2 finished trials of 1 h at $2/h: $4 spent; each next trial is expected at $2; budget $9 → 2 more
    plan = plan_for(experiment(9.0, max_trials=10, parallel=5, top_n=None), [trial(0, 1.0), trial(1, 1.0)])
    assert launched(plan) == ["search-0002", "search-0003"]
    blocked = [a for a in plan.actions if a.blocked]
    assert [a.trial_id for a in blocked] == ["search-0004", "search-0005", "search-0006"]  # the free slots
    assert all(a.reason.startswith(EXHAUSTED) and not a.now for a in blocked)
    assert plan.committed_usd == 8.0
    assert plan.next_phase == PHASE_RUNNING and plan.next_condition.reason == BUDGET_EXHAUSTED
    assert plan.to_json()["actions"][2]["blocked"] is True


def test_running_trials_are_not_stopped_and_count_as_expected_cost():
    # one trial running for 0.25 h of an expected 1 h commits $2, as the finished one did: $4 of $5
    plan = plan_for(experiment(5.0, max_trials=4, parallel=2, top_n=None),
                    [trial(0, 1.0), trial(1, 0.25, status=RUNNING)])
    assert launched(plan) == [] and not plan.now("stop")
    assert plan.next_phase == PHASE_RUNNING and plan.next_condition.type == BUDGET_EXHAUSTED


def test_nothing_running_and_nothing_fits_fails_with_budget_exhausted():
    plan = plan_for(experiment(3.0, max_trials=4, parallel=2, top_n=None), [trial(0, 1.0)])
    assert launched(plan) == []
    assert plan.next_phase == PHASE_FAILED and plan.next_condition.reason == BUDGET_EXHAUSTED
    assert "maxCostUsd $3.00" in plan.next_condition.message


def test_only_a_plan_that_launches_nothing_and_stays_failed_on_the_budget_is_stuck_on_it():
    finished = [trial(0, 1.0)]  # $2 spent, the next trial is expected at $2

    def recorded_failed(max_cost: float, trials: list[TrialRecord]):
        exp = experiment(max_cost, max_trials=4, parallel=2, top_n=None)
        state = ExperimentState(ExperimentRecord(name="exp", generation="g", phase=PHASE_FAILED),
                                {t.id: t for t in trials})
        return compute_plan(exp, state, Observed(), 1000, now=NOW)

    assert recorded_failed(3.0, finished).stuck_on_budget  # `apply` refuses it before any pass
    raised = recorded_failed(6.0, finished)
    assert launched(raised) == ["search-0001", "search-0002"] and not raised.stuck_on_budget
    running = recorded_failed(3.0, [*finished, trial(1, 0.5, status=RUNNING)])
    assert running.next_phase == PHASE_RUNNING and not running.stuck_on_budget  # running trials finish
    assert not plan_for(experiment(3.0, max_trials=4, parallel=2, top_n=None), finished).stuck_on_budget, \
        "recorded Running: the pass records Failed"
    assert not recorded_failed(None, finished).stuck_on_budget


def test_a_finished_experiment_is_succeeded_whatever_the_budget():
    plan = plan_for(experiment(1.0, max_trials=2, parallel=2, top_n=None), [trial(0, 1.0), trial(1, 1.0)])
    assert plan.next_phase == PHASE_SUCCEEDED


def test_free_trials_and_no_budget_are_never_held_back():
    free = plan_for(experiment(0.01, hour_usd=0.0, max_trials=4, parallel=4, top_n=None), [trial(0, 5.0)])
    unlimited = plan_for(experiment(None, max_trials=4, parallel=4, top_n=None), [trial(0, 5.0)])
    for plan in (free, unlimited):
        assert launched(plan) == ["search-0001", "search-0002", "search-0003"]
        assert not any(a.blocked for a in plan.actions)


def test_unknown_hours_run_one_trial_at_a_time():
    exp = experiment(100.0, timeout=None, max_trials=4, parallel=3, top_n=None)
    first = plan_for(exp, [])
    assert launched(first) == ["search-0000"]
    assert not any(a.blocked for a in first.actions)  # waiting to learn, not exhausted
    assert launched(plan_for(exp, [trial(0, 0.1, status=RUNNING)])) == []
    assert len(launched(plan_for(exp, [trial(0, 0.1)]))) == 3  # measured now: $0.20 a trial


def test_budget_with_a_vertex_nas_job_is_refused():
    spec = nb201_spec()
    spec["spec"]["backend"] = {"type": "vertex", "project": "p", "containerImage": "i", "stagingUri": "gs://b/s"}
    spec["spec"]["search"].update(algorithm="GRID_SEARCH")
    spec["spec"]["budget"] = {"maxCostUsd": 10}
    with pytest.raises(SpecError, match="budget needs nasctl's own controllers"):
        parse_experiment(yaml.safe_dump(spec))


def test_status_view_adds_up_spend_and_projection():
    exp = experiment(50.0, max_trials=5, parallel=2, top_n=None)
    trials = [trial(0, 1.0), trial(1, 3.0), trial(2, 0.5, status=RUNNING)]
    view = budget_view(exp, enabled_stages(exp), trials, NOW)
    # spent: (1 + 3 + 0.5) h × $2; projected: finished $8 + running at its expected 2 h $4 + 2 to come × $4
    assert view == {"spentUsd": 9.0, "projectedUsd": 20.0, "maxCostUsd": 50.0}


def test_vertex_trials_are_priced_like_the_cost_preview():
    from reconciler.cost import estimate_cost

    spec = nb201_spec(top_n=None)
    spec["spec"]["backend"] = {"type": "vertex", "project": "p", "containerImage": "i", "stagingUri": "gs://b/s",
                               "search": {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4",
                                          "acceleratorCount": 1, "hoursPerTrial": 2}}
    exp = parse_experiment(yaml.safe_dump(spec))
    rate = stage_rates(exp, enabled_stages(exp), [], NOW)[SEARCH]
    preview = estimate_cost(exp, [], NOW).stages[0]
    assert rate.hourly_usd == preview.hourly_usd > 0
    assert rate.trial_usd * exp.spec.search.max_trials == preview.cost_usd


def test_stage_2_trials_nasctl_runs_after_a_nas_job_are_billed_without_the_nas_multiplier():
    from pricing.catalog import load_catalog
    from reconciler.cost import estimate_cost
    from tests.support.vertex_emulated import vertex_experiment

    exp = vertex_experiment("http://127.0.0.1:9", "b", algorithm="REINFORCEMENT_LEARNING", top_n=2)
    catalog = load_catalog(exp.spec.backend)
    by_vertex, by_nasctl = (replace(trial(index, 1.0), id=f"train-{index:04d}", stage=TRAIN) for index in (0, 1))
    by_nasctl.labels = {RUNNER_LABEL: CUSTOM_JOB_RUNNER}
    view = budget_view(exp, enabled_stages(exp), [by_vertex, by_nasctl], NOW)
    hourly = catalog.hourly(exp.spec.backend.train_resources)  # one hour each
    assert view["spentUsd"] == pytest.approx(hourly * catalog.nas_multiplier + hourly, abs=1e-4)
    # the cost report (`nasctl cost`, `report --html`) shows the same spend as `status`
    assert estimate_cost(exp, [by_vertex, by_nasctl], NOW).spent_usd == pytest.approx(view["spentUsd"], abs=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    max_cost=st.floats(0.5, 40.0),
    parallel=st.integers(1, 8),
    finished_hours=st.lists(st.floats(0.01, 3.0), max_size=6),
    running_hours=st.lists(st.floats(0.0, 3.0), max_size=3),
)
def test_no_planned_launch_takes_the_committed_spend_past_the_budget(max_cost, parallel, finished_hours,
                                                                     running_hours):
    exp = experiment(max_cost, max_trials=20, parallel=max(parallel, len(running_hours) or 1), top_n=None)
    trials = [trial(i, h) for i, h in enumerate(finished_hours)]
    trials += [trial(len(trials) + i, h, status=RUNNING) for i, h in enumerate(running_hours)]
    plan = plan_for(exp, trials)
    before = BudgetGuard.of(exp, enabled_stages(exp), trials, NOW)
    trial_usd = before.rates[SEARCH].trial_usd
    launches = len(launched(plan))
    assert plan.committed_usd == pytest.approx(before.committed_usd + launches * trial_usd)
    if launches:
        assert plan.committed_usd <= max_cost + 1e-9
    if any(a.blocked for a in plan.actions):  # refused only what would not have fit
        assert plan.committed_usd + trial_usd > max_cost
    if plan.next_phase == PHASE_FAILED:
        assert not running_hours and plan.next_condition.reason in (BUDGET_EXHAUSTED, "TooManyFailedTrials")
