"""experiment.json and trials.json belong together: trials never lie recorded without the spec they ran under."""
from __future__ import annotations


import pytest
import yaml

from reconciler.session import Session
from state.files import atomic_write
from state.records import ExperimentRecord, SEARCH, TrialRecord
from state.snapshot import ExperimentState, load_state, save_experiment, save_trials
from state.store import CorruptState
from state.uri import open_store
from tests.conftest import nb201_spec


def test_trials_recorded_without_their_experiment_are_refused_naming_the_missing_file(tmp_path):
    store = open_store(str(tmp_path), "exp")
    trials = {f"search-{i:04d}": TrialRecord(f"search-{i:04d}", SEARCH, i, [i], None) for i in range(3)}
    save_trials(store, ExperimentState(ExperimentRecord(name="exp", generation="g"), trials))
    with pytest.raises(CorruptState) as info:
        load_state(store, "exp", "g")
    assert "experiment.json" in str(info.value) and "records 3 trials" in str(info.value)


def test_the_first_pass_records_the_spec_before_its_first_trial(tmp_path, monkeypatch):
    """A first pass killed after recording its trials' intent leaves the spec recorded: its refusals hold."""
    spec = tmp_path / "exp.yaml"
    document = nb201_spec(max_trials=4, parallel=2, top_n=None)
    document["spec"]["stateUri"] = str(tmp_path / "state")
    spec.write_text(yaml.safe_dump(document))
    session = Session.open(spec)
    reconciler = session.reconciler(acting=True)

    def killed(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reconciler.backend, "launch", killed)
    with pytest.raises(KeyboardInterrupt):
        reconciler.run_pass()
    state = session.state()
    assert len(state.trials) == 2
    assert state.experiment.spec["spec"]["search"]["maxTrials"] == 4
    assert session.store.get("experiment.json").data["spec"] == state.experiment.spec


@pytest.mark.parametrize("field,value,expected", [
    ("reward", "abc", "reward is 'abc', expected a number or null"),
    ("reward", True, "reward is True, expected a number or null"),
    ("index", 1.5, "index is 1.5, expected an integer"),
    ("metrics", [1], "metrics is [1], expected a mapping"),
    ("status", "done", "status is 'done', expected one of"),
])
def test_a_damaged_trial_field_is_refused_naming_the_file_and_the_trial(tmp_path, field, value, expected):
    store = open_store(str(tmp_path), "exp")
    state = ExperimentState(ExperimentRecord(name="exp", generation="g"),
                            {"search-0000": TrialRecord("search-0000", SEARCH, 0, [0], None, reward=0.5)})
    save_experiment(store, state)
    save_trials(store, state)
    document = store.get("trials.json").data
    document["trials"][0][field] = value
    store.put("trials.json", document)
    with pytest.raises(CorruptState) as info:
        load_state(store, "exp", "g")
    assert "trials.json" in str(info.value) and f"trial search-0000: {expected}" in str(info.value)


def test_a_state_location_under_home_is_the_users_home_not_a_folder_named_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert open_store("~/nas-state", "exp").uri == str(tmp_path / "nas-state" / "exp")


@pytest.mark.parametrize("document", [
    {"name": "exp", "generation": "g", "conditions": [{"bogus": 1}]},
    {"name": "exp", "generation": "g", "unknownField": 1},
    ["not", "a", "record"],
])
def test_a_damaged_experiment_json_is_named_as_the_damaged_file(tmp_path, document):
    store = open_store(str(tmp_path), "exp")
    state = ExperimentState(ExperimentRecord(name="exp", generation="g"),
                            {"search-0000": TrialRecord("search-0000", SEARCH, 0, [0], None, reward=0.5)})
    save_experiment(store, state)
    save_trials(store, state)
    store.put("experiment.json", document)
    with pytest.raises(CorruptState) as info:
        load_state(store, "exp", "g")
    assert "experiment.json" in str(info.value) and "trials.json" not in str(info.value)


def test_a_file_uri_is_the_local_path_and_other_schemes_are_refused(tmp_path):
    assert open_store(f"file://{tmp_path}/state", "exp").uri == str(tmp_path / "state" / "exp")
    with pytest.raises(ValueError, match="unsupported state location 's3://bucket/state'"):
        open_store("s3://bucket/state", "exp")


@pytest.mark.parametrize("uri", ["taken", "taken/deeper"])
def test_a_state_location_under_a_file_is_refused_naming_the_file(tmp_path, uri):
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(ValueError, match=f"spec.stateUri: {tmp_path / 'taken'} is a file, not a folder"):
        open_store(uri, "exp", base_dir=tmp_path)
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_a_failed_write_names_the_file_written_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "report.html"
    target.mkdir()  # the path is taken by a folder
    with pytest.raises(OSError) as info:
        atomic_write(target, b"<html>")
    assert info.value.filename == str(target) and "Is a directory" in info.value.strerror
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
