"""The plan is the whole pass: computed without I/O, equal when computed twice, and what `diff` shows
after a killed `apply` is exactly what the next `apply` does (signals and helper jobs included)."""
from __future__ import annotations

import copy
import json

import yaml

from backends.base import ALIVE, FINISHED, NOT_LAUNCHED, TrialObservation
from reconciler.apply import Reconciler
from reconciler.observe import Observed
from reconciler.plan import CREATE, LAUNCH, RECORD, SIGNAL, START_HELPER, compute_plan
from specs.loader import parse_experiment
from state.local import LocalStore
from state.records import PENDING, RUNNING, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState, load_state, save_experiment, save_trials
from tests.conftest import nb201_spec
from trial.protocol import StopSignal, TrialResult


def _experiment(**spec):
    return parse_experiment(yaml.safe_dump(nb201_spec(**spec)))


def _trial(index: int, status: str) -> TrialRecord:
    return TrialRecord(id=f"search-{index:04d}", stage="search", index=index, dna=[index % 5] * 6,
                       arch={"edges": ["none"] * 6}, status=status)


def _recorded() -> ExperimentState:
    trials = [_trial(0, RUNNING), _trial(1, RUNNING), _trial(2, PENDING)]
    return ExperimentState(ExperimentRecord(name="exp", generation="g"), {t.id: t for t in trials})


def _observed() -> Observed:
    return Observed(trials={
        "search-0000": TrialObservation(FINISHED, TrialResult("succeeded", {"accuracy": 0.9})),
        "search-0001": TrialObservation(ALIVE, elapsed_seconds=1.0),
        "search-0002": TrialObservation(NOT_LAUNCHED),
    }, helpers_wanted=frozenset({"search-0001"}))


def test_the_plan_is_a_pure_function_of_spec_state_and_observations() -> None:
    experiment, recorded, observed = _experiment(max_trials=6, parallel=3, top_n=None), _recorded(), _observed()
    before = copy.deepcopy(recorded)
    first = compute_plan(experiment, recorded, observed, backend_slots=100, now=1.0)
    second = compute_plan(experiment, recorded, observed, backend_slots=100, now=1.0)
    assert first == second
    assert recorded == before, "planning changes nothing it was given"
    kinds = [(a.kind, a.trial_id) for a in first.actions if a.now]
    assert (RECORD, "search-0000") in kinds and (LAUNCH, "search-0002") in kinds
    assert (START_HELPER, "search-0001") in kinds, "a running trial waiting for its latency gets a helper job"
    created = [a for a in first.actions if a.kind == CREATE and a.now]
    assert [a.record.index for a in created] == [3], "one free slot of 3: 0001 and 0002 are active"
    assert created[0].record.arch is not None, "the plan carries the proposed architecture"
    assert created[0].record.status == PENDING, "intent is recorded as pending: launching comes after"


def test_diff_after_a_killed_apply_lists_every_action_the_next_apply_takes(tmp_path, write_spec, nasctl) -> None:
    """A pass killed after recording intent: the next plan launches, signals and records what is left."""
    spec = nb201_spec(max_trials=4, parallel=2, top_n=None)
    spec["spec"]["varianceMeasurement"] = {"copies": 2, "workableFraction": 0.5, "trainerArgs": {"mode": "proxy"}}
    experiment = parse_experiment(yaml.safe_dump(spec))
    store = LocalStore(tmp_path / "state" / "exp")

    class Recording:
        """The real local backend, with every call it receives written down."""

        def __init__(self, inner):
            self.inner, self.calls = inner, []

        def __getattr__(self, name):  # noqa: ANN001, ANN204
            attr = getattr(self.inner, name)
            if not callable(attr) or name in ("observe", "observe_helpers"):
                return attr

            def call(*args, **kwargs):
                self.calls.append((name, args[0] if args else None))
                return attr(*args, **kwargs)
            return call

    from backends.factory import make_backend  # noqa: PLC0415

    reconciler = Reconciler(experiment, store, make_backend(experiment, store))
    # the killed apply: intent recorded (the first attempt of variance measurement), nothing launched
    plan = reconciler.preview().plan
    state = reconciler.load()
    for action in plan.now(CREATE):
        state.trials[action.trial_id] = action.record
    save_experiment(store, state)  # as apply records it, before any trial
    save_trials(store, state)

    preview = reconciler.preview().plan
    shown = [(a.kind, a.trial_id) for a in preview.actions if a.now]
    assert (LAUNCH, "varianceMeasurement-0000") in shown
    assert (SIGNAL, "varianceMeasurement-0000") in shown, "the attempt's stop signal is part of the plan"
    signal = next(a for a in preview.actions if a.kind == SIGNAL)
    assert signal.signal == StopSignal(desired_fraction=0.5)
    assert json.loads(json.dumps(preview.to_json()))["summary"]["signal"] == 1
    path = write_spec(spec)
    diff = nasctl("diff", "-f", str(path), "-o", "json", "--detailed-exitcode")
    assert diff.returncode == 2
    assert [(a["kind"], a["trial_id"]) for a in json.loads(diff.stdout)["actions"] if a["now"]] == shown

    recording = Recording(reconciler.backend)
    reconciler.backend = recording
    executed = reconciler.run_pass().plan
    assert [(a.kind, a.trial_id) for a in executed.actions if a.now] == shown
    assert recording.calls == [("signal", "varianceMeasurement-0000"), ("launch", "varianceMeasurement-0000")]
    assert load_state(store, "exp", "g").trials["varianceMeasurement-0000"].status == RUNNING
    recording.inner.stop("varianceMeasurement-0000", "test over")

