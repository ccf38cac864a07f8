"""Spec validation: every bad input names the field path and YAML line, and is rejected."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from reconciler.references import check_references
from specs.loader import SpecError, load_experiment, parse_experiment, spec_generation
from tests.conftest import REPO, nb201_spec

EXAMPLES = sorted((REPO / "specs" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_spec_is_valid(path):
    experiment = load_experiment(path)
    assert experiment.kind == "NASExperiment"


def _issues(text: str) -> list:
    with pytest.raises(SpecError) as info:
        parse_experiment(text, "exp.yaml")
    return info.value.issues


def test_defaults_are_explicit():
    experiment = parse_experiment(yaml.safe_dump(nb201_spec(max_trials=50)))
    search = experiment.spec.search
    assert search.failure_budget == 10  # 20 % of maxTrials
    assert experiment.spec.reward.metric == "accuracy"
    assert experiment.spec.reward.limit == "hard"
    assert parse_experiment(yaml.safe_dump(nb201_spec(max_trials=50, maxFailedTrials=3))).spec.search.failure_budget == 3


def test_malformed_yaml_reports_line():
    issues = _issues("apiVersion: nasctl.dev/v1alpha1\nkind: NASExperiment\nmetadata: {name: [unclosed\n")
    assert issues[0].line is not None and issues[0].line >= 3
    assert "malformed YAML" in issues[0].message


def test_unknown_field_reports_path_and_line():
    text = yaml.safe_dump(nb201_spec(), sort_keys=False).replace("maxTrials: 12", "maxTrials: 12\n    maxTrails: 3")
    [issue] = _issues(text)
    assert issue.path == "spec.search.maxTrails"
    assert issue.message == "unknown field"
    assert text.splitlines()[issue.line - 1].strip().startswith("maxTrails")


def test_wrong_type_reports_path_and_line():
    text = yaml.safe_dump(nb201_spec(), sort_keys=False).replace("maxTrials: 12", "maxTrials: many")
    [issue] = _issues(text)
    assert issue.path == "spec.search.maxTrials"
    assert "integer" in issue.message
    assert "maxTrials: many" in text.splitlines()[issue.line - 1]


def test_parallel_above_max_is_inconsistent():
    [issue] = _issues(yaml.safe_dump(nb201_spec(max_trials=2, parallel=5)))
    assert issue.path == "spec.search"
    assert "parallelTrials (5) must not exceed maxTrials (2)" in issue.message


def test_negative_counts_rejected():
    [issue] = _issues(yaml.safe_dump(nb201_spec(max_trials=-1, parallel=1)))
    assert issue.path == "spec.search.maxTrials"


def test_missing_required_field():
    spec = nb201_spec()
    del spec["spec"]["trainer"]
    [issue] = _issues(yaml.safe_dump(spec))
    assert issue.path == "spec.trainer" and issue.message == "required field is missing"


@pytest.mark.parametrize("field,value,needle", [
    (("searchSpace", "prebuilt"), "nb999", "unknown prebuilt search space 'nb999'"),
    (("trainer", "prebuilt"), "cifar-magic", "unknown prebuilt trainer 'cifar-magic'"),
    (("search", "algorithm"), "annealing", "unknown search algorithm 'annealing'"),
])
def test_unknown_names_are_errors(tmp_path, field, value, needle):
    spec = nb201_spec()
    spec["spec"][field[0]][field[1]] = value
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.raises(SpecError) as info:
        load_experiment(path, check_references)
    [issue] = info.value.issues
    assert needle in issue.message
    assert issue.path == f"spec.{field[0]}.{field[1]}"
    assert value in path.read_text().splitlines()[issue.line - 1]


@pytest.mark.parametrize("algorithm,settings,needle", [
    ("evolution", {"populationSzie": 30}, "evolution has no setting 'populationSzie'; did you mean 'populationSize'?"),
    ("bayesopt", {"initialTrial": 5}, "did you mean 'initialTrials'?"),
    ("random", {"shuffle": True}, "random has no setting 'shuffle'"),
])
def test_unknown_algorithm_settings_are_errors_at_their_line(tmp_path, algorithm, settings, needle):
    spec = nb201_spec(algorithm=algorithm, algorithmSettings=settings)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.raises(SpecError) as info:
        load_experiment(path, check_references)
    [issue] = info.value.issues
    (key,) = settings
    assert needle in issue.message and issue.path == f"spec.search.algorithmSettings.{key}"
    assert key in path.read_text().splitlines()[issue.line - 1]


def test_known_algorithm_settings_pass(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(nb201_spec(algorithm="evolution",
                                              algorithmSettings={"populationSize": 8, "tournamentSize": 3})))
    assert load_experiment(path, check_references).spec.search.algorithm_settings["populationSize"] == 8


def test_exactly_one_search_space_source():
    spec = nb201_spec()
    spec["spec"]["searchSpace"] = {"prebuilt": "nb201", "choices": {"width": [16, 32]}}
    [issue] = _issues(yaml.safe_dump(spec))
    assert "exactly one of prebuilt, function, choices" in issue.message


def test_generation_is_stable_and_sensitive():
    a = parse_experiment(yaml.safe_dump(nb201_spec()))
    b = parse_experiment(yaml.safe_dump(nb201_spec(), sort_keys=False))
    c = parse_experiment(yaml.safe_dump(nb201_spec(max_trials=13)))
    assert spec_generation(a) == spec_generation(b) != spec_generation(c)


@settings(max_examples=60, deadline=None)
@given(max_trials=st.integers(-3, 40), parallel=st.integers(-3, 40))
def test_count_rules_hold_for_any_counts(max_trials, parallel):
    text = yaml.safe_dump(nb201_spec(max_trials=max_trials, parallel=parallel, top_n=3))
    valid = max_trials >= 1 and parallel >= 1 and parallel <= max_trials and max_trials >= 3  # topN ≤ maxTrials
    if valid:
        assert parse_experiment(text).spec.search.max_trials == max_trials
    else:
        with pytest.raises(SpecError):
            parse_experiment(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_parser(text):
    try:
        parse_experiment(text)
    except SpecError as error:
        assert error.issues


def test_errors_inside_a_tagged_union_use_the_document_path():
    spec = nb201_spec()
    spec["spec"]["backend"] = {"type": "vertex", "region": "us-central1", "projekt": "x"}
    text = yaml.safe_dump(spec, sort_keys=False)
    issues = _issues(text)
    unknown = [i for i in issues if i.message == "unknown field"]
    assert [i.path for i in unknown] == ["spec.backend.projekt"]
    assert "projekt" in text.splitlines()[unknown[0].line - 1]
