"""Upgrading nasctl changes nothing in an applied experiment whose spec the user did not change: a spec
recorded before the schema grew a defaulted field shows no change (nothing refused or re-run), and a
generation recorded in an older form is still this spec's (no "apply has not run it", no NasJob alarm)."""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from backends.factory import make_backend
from reconciler.apply import Reconciler
from reconciler.nas_job import NasJobReconciler
from reconciler.spec_changes import normalised_spec, spec_changes
from specs.loader import parse_experiment, spec_generation
from specs.model import ExperimentSpec, NASExperiment, SearchStageSpec
from state.records import EXPERIMENT_KEY, PHASE_SUCCEEDED, SEARCH, SUCCEEDED, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState, save_experiment, save_trials
from state.store import StateStore
from state.uri import open_store
from tests.conftest import nb201_spec
from tests.support.vertex_emulated import make_vertex, vertex, vertex_experiment  # noqa: F401 - fixtures


class _GrownSearch(SearchStageSpec):
    algorithm_warmup: int = Field(0, ge=0, description="Random proposals before the controller's own.")


class _GrownSpec(ExperimentSpec):
    search: _GrownSearch


class _GrownExperiment(NASExperiment):
    """The schema as a later release might grow it: a new defaulted field under a refused path."""

    spec: _GrownSpec


def _grown(experiment: NASExperiment, **search: int) -> _GrownExperiment:
    """The same spec read by the grown schema (with `search` fields set, e.g. algorithm_warmup=3)."""
    data = experiment.model_dump(by_alias=True, exclude_defaults=True)
    data["spec"]["search"].update({_GrownSearch.model_fields[k].alias: v for k, v in search.items()})
    return _GrownExperiment.model_validate(data)


# Defaulted fields an older nasctl may not have had: three under paths whose change is refused once
# trials are recorded (controller, search space, trainer), one elsewhere.
REFUSED_PATHS = ("spec.search.algorithmSettings", "spec.searchSpace.args", "spec.trainer.args")
OTHER_PATH = "spec.reward.softExponent"


def _experiment(state_dir: str, **search: Any) -> NASExperiment:
    spec = nb201_spec(max_trials=2, parallel=1, top_n=None, **search)
    spec["spec"]["stateUri"] = state_dir
    return parse_experiment(yaml.safe_dump(spec))


def _reconciler(experiment: NASExperiment) -> Reconciler:
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    return Reconciler(experiment, store, make_backend(experiment, store))


def _applied(tmp_path) -> Reconciler:  # noqa: ANN001
    """An experiment whose two search trials finished, applied once (the pass records spec and generation)."""
    reconciler = _reconciler(_experiment(str(tmp_path / "state")))
    state = reconciler.load()
    state.trials = {t.id: t for t in (
        TrialRecord(f"search-000{i}", SEARCH, i, [i] * 6, None, status=SUCCEEDED, reward=0.5 + i / 10,
                    launched_at=1.0, finished_at=2.0) for i in range(2))}
    save_experiment(reconciler.store, state)  # as apply records it, before any trial
    save_trials(reconciler.store, state)
    result = reconciler.run_pass()
    assert result.state.experiment.phase == PHASE_SUCCEEDED and not any(a.now for a in result.plan.actions)
    return reconciler


def _without(spec: dict[str, Any], paths: tuple[str, ...] | set[str]) -> dict[str, Any]:
    """`spec` as a nasctl without these fields would have recorded it (a section left empty: no section)."""
    spec = copy.deepcopy(spec)
    for path in paths:
        *parents, leaf = path.split(".")
        nodes = [spec]
        for key in parents:
            nodes.append(nodes[-1][key])
        del nodes[-1][leaf]
        for key, (parent, node) in reversed(list(zip(parents, zip(nodes, nodes[1:])))):
            if not node:
                del parent[key]
    return spec


def _rewrite_record(store: StateStore, edit) -> None:  # noqa: ANN001
    """Rewrite experiment.json as another nasctl version would have written it."""
    document = store.get(EXPERIMENT_KEY)
    record = ExperimentRecord.from_json(document.data)
    edit(record)
    store.put(EXPERIMENT_KEY, record.to_json(), if_generation=document.generation)


def _generation_with_defaults(experiment: NASExperiment) -> str:
    """The generation as nasctl computed it before generations left defaults out."""
    normalised = json.dumps(experiment.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(normalised.encode()).hexdigest()[:12]


def test_a_spec_recorded_before_the_schema_grew_shows_no_change_and_applies(tmp_path):
    reconciler = _applied(tmp_path)
    generation = spec_generation(reconciler.experiment)
    dropped = (*REFUSED_PATHS, OTHER_PATH)
    _rewrite_record(reconciler.store, lambda r: setattr(r, "spec", _without(r.spec, dropped)))

    plan = reconciler.preview().plan
    assert plan.spec_changes == [] and plan.refused == []
    assert plan.generation == plan.observed_generation == generation
    assert not plan.has_changes

    result = reconciler.run_pass()  # no SpecChangeRefused, nothing launched again
    assert not any(a.now for a in result.plan.actions)
    recorded = ExperimentRecord.from_json(reconciler.store.get(EXPERIMENT_KEY).data)
    assert recorded.observed_generation == generation
    assert recorded.spec == normalised_spec(reconciler.experiment)  # recorded in full again
    assert recorded.phase == PHASE_SUCCEEDED


def test_a_release_that_adds_a_defaulted_field_keeps_the_generation_and_shows_no_change(tmp_path):
    reconciler = _applied(tmp_path)
    upgraded = _reconciler(_grown(reconciler.experiment))
    assert upgraded.generation == reconciler.generation
    plan = upgraded.preview().plan
    assert plan.spec_changes == [] and plan.generation == plan.observed_generation == reconciler.generation
    assert not any(a.now for a in upgraded.run_pass().plan.actions)  # which records the grown spec in full

    warmed = _reconciler(_grown(reconciler.experiment, algorithm_warmup=3))  # the user sets the new field
    assert warmed.generation != reconciler.generation
    (change,) = warmed.preview().plan.refused
    assert (change.path, change.old, change.new) == ("spec.search.algorithmWarmup", 0, 3)


def test_a_release_that_removes_a_field_shows_no_change_for_it(tmp_path):
    older = _reconciler(_grown(_experiment(str(tmp_path / "state")), algorithm_warmup=3))  # it had the field
    state = older.load()
    state.trials = {"search-0000": TrialRecord("search-0000", SEARCH, 0, [0] * 6, None, status=SUCCEEDED,
                                               reward=0.5, launched_at=1.0, finished_at=2.0)}
    save_experiment(older.store, state)  # as apply records it, before any trial
    save_trials(older.store, state)
    older.run_pass()
    assert older.load().experiment.spec["spec"]["search"]["algorithmWarmup"] == 3

    current = _reconciler(_experiment(str(tmp_path / "state")))  # this release has no such field
    plan = current.preview().plan
    assert plan.spec_changes == [] and plan.refused == []  # nothing to revert: no spec can set it
    assert plan.generation == plan.observed_generation
    assert not any(a.now for a in current.run_pass().plan.actions)

    _rewrite_record(current.store, lambda r: r.spec["spec"]["search"]["trainerArgs"].update(steps=9))
    (change,) = current.preview().plan.spec_changes  # a key of the user's own mapping is not schema
    assert (change.path, change.old, change.new) == ("spec.search.trainerArgs.steps", 9, "(unset)")


def test_a_field_the_user_now_sets_is_still_a_change_and_still_refused(tmp_path):
    reconciler = _applied(tmp_path)
    _rewrite_record(reconciler.store, lambda r: setattr(r, "spec", _without(r.spec, REFUSED_PATHS)))
    state = reconciler.load()
    changed = _experiment(str(tmp_path / "state"), algorithmSettings={"batch": 4})
    (change,) = spec_changes(changed, state)
    assert (change.path, change.old, change.new) == ("spec.search.algorithmSettings.batch", "(unset)", 4)
    assert "controller's proposals" in change.refused

    reseeded = _experiment(str(tmp_path / "state"), seed=7)  # a changed recorded value, as always
    (change,) = spec_changes(reseeded, state)
    assert (change.path, change.old, change.new) == ("spec.search.seed", 1, 7) and change.refused


@pytest.mark.parametrize("spec_recorded", [True, False], ids=["with-spec", "before-specs-were-recorded"])
def test_a_generation_recorded_in_the_older_form_is_this_specs(tmp_path, spec_recorded):
    reconciler = _applied(tmp_path)
    generation = spec_generation(reconciler.experiment)
    old_form = _generation_with_defaults(reconciler.experiment)
    assert old_form != generation

    def as_before(record: ExperimentRecord) -> None:
        record.generation = record.observed_generation = old_form
        record.spec = record.spec if spec_recorded else None

    _rewrite_record(reconciler.store, as_before)
    plan = reconciler.preview().plan
    assert plan.generation == plan.observed_generation == generation and not plan.has_changes

    changed = _reconciler(_experiment(str(tmp_path / "state"), maxTrials=3))  # a real change still shows
    assert changed.preview().plan.observed_generation == old_form != changed.generation


def test_a_nas_job_recorded_with_the_older_generation_form_keeps_no_false_alarm(vertex, gcs_bucket):  # noqa: F811
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=20,
                                   parallel=1)
    reconciler = NasJobReconciler(experiment, open_store(experiment.spec.state_uri, "poc"))
    job = reconciler.run_pass().state.experiment.stages[SEARCH]["summary"]["nasJob"]
    old_form = _generation_with_defaults(experiment)

    def as_before(record: ExperimentRecord) -> None:
        record.generation = record.observed_generation = old_form
        record.stages[SEARCH]["summary"]["generation"] = old_form

    _rewrite_record(reconciler.store, as_before)
    assert reconciler.preview().plan.observed_generation == reconciler.generation
    result = reconciler.run_pass()
    assert "NasJobKeepsItsSpec" not in [c.reason for c in result.state.experiment.conditions]
    assert result.plan.observed_generation == result.plan.generation == reconciler.generation
    summary = result.state.experiment.stages[SEARCH]["summary"]
    assert (summary["nasJob"], summary["generation"]) == (job, reconciler.generation)  # recorded in the new form

    upgraded = NasJobReconciler(_grown(experiment), reconciler.store).run_pass()  # and the schema grows
    assert [c.reason for c in upgraded.state.experiment.conditions][1:] == []
    assert upgraded.plan.observed_generation == upgraded.plan.generation == reconciler.generation

    changed = vertex_experiment(vertex.endpoint, gcs_bucket, name="poc", algorithm="GRID_SEARCH", max_trials=30,
                                parallel=1)  # a real change still keeps the alarm
    again = NasJobReconciler(changed, reconciler.store).run_pass()
    assert [c.reason for c in again.state.experiment.conditions][1:] == ["NasJobKeepsItsSpec"]
    assert again.plan.observed_generation == reconciler.generation != again.plan.generation


# -- properties over the whole spec ------------------------------------------------------------------
def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {p: v for key, item in value.items() for p, v in _leaves(item, f"{prefix}.{key}" if prefix
                                                                           else key).items()}
    return {prefix: value}


def _full_spec() -> dict[str, Any]:
    """A spec with every stage kind of default: vertex backend (nested sections), reward terms, stage 2."""
    spec = nb201_spec(top_n=2)
    spec["spec"].update(
        stateUri="gs://b/state", reward={"latency": {"metric": "latency_ms", "target": 5}},
        backend={"type": "vertex", "project": "p", "region": "us-central1",
                 "containerImage": "us-docker.pkg.dev/p/r/i:1", "stagingUri": "gs://b/staging"})
    return spec


_FULL = NASExperiment.model_validate(_full_spec())
_DEFAULTED = sorted(_leaves(normalised_spec(_FULL)).keys() - _leaves(
    _FULL.model_dump(mode="json", by_alias=True, exclude_defaults=True)).keys())


def _recorded_state(spec: dict[str, Any]) -> ExperimentState:
    trials = {"search-0000": TrialRecord("search-0000", SEARCH, 0, [0] * 6, None, status=SUCCEEDED, reward=0.5,
                                         launched_at=1.0, finished_at=2.0)}
    return ExperimentState(ExperimentRecord(name="exp", generation="g", spec=spec), trials)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(st.sampled_from(_DEFAULTED)))
def test_any_defaulted_fields_missing_from_the_recorded_spec_are_no_change(dropped):
    assert len(_DEFAULTED) > 30  # the backend's, reward's, stages' defaults are all candidates
    recorded = _without(normalised_spec(_FULL), dropped)
    assert spec_changes(_FULL, _recorded_state(recorded)) == []


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(_DEFAULTED)))
def test_spelling_out_any_defaults_leaves_the_generation_as_it_was(spelled):
    stated = _FULL.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    full = normalised_spec(_FULL)
    for path in spelled:  # the spec as a user writes it, with these defaults written out
        *parents, leaf = path.split(".")
        source, target = full, stated
        for key in parents:
            source = source[key]
            target = target.setdefault(key, {})
        target[leaf] = source[leaf]
    assert spec_generation(NASExperiment.model_validate(stated)) == spec_generation(_FULL)
