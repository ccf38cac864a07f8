"""Spec validation: every bad input names the field path and YAML line, and is rejected."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from reconciler.references import check_references
from specs.loader import SpecError, SpecIssue, load_experiment, parse_experiment, spec_generation
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


def _single_issue(tmp_path, spec: dict) -> tuple[SpecIssue, list[str]]:
    """The one error loading `spec` gives (its references checked as `validate` does), and the file's lines."""
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.raises(SpecError) as info:
        load_experiment(path, check_references)
    [issue] = info.value.issues
    return issue, path.read_text().splitlines()


@pytest.mark.parametrize("algorithm,settings,needle", [
    ("evolution", {"populationSzie": 30}, "evolution takes no setting 'populationSzie'; did you mean 'populationSize'?"),
    ("bayesopt", {"initialTrial": 5}, "did you mean 'initialTrials'?"),
    ("random", {"shuffle": True}, "random takes no setting 'shuffle' (its settings: none)"),
])
def test_unknown_algorithm_settings_are_errors_at_their_line(tmp_path, algorithm, settings, needle):
    issue, lines = _single_issue(tmp_path, nb201_spec(algorithm=algorithm, algorithmSettings=settings))
    (key,) = settings
    assert needle in issue.message and issue.path == f"spec.search.algorithmSettings.{key}"
    assert key in lines[issue.line - 1]


@pytest.mark.parametrize("algorithm,settings,path,needle", [
    ("evolution", {"populationSize": 1}, "populationSize", "greater than or equal to 2"),
    ("evolution", {"populationSize": 4, "tournamentSize": 9}, "", "tournamentSize (9) must not exceed populationSize (4)"),
    ("reinforce", {"baselineDecay": 1.5}, "baselineDecay", "less than 1"),
    ("bayesopt", {"initialTrials": "many"}, "initialTrials", "valid integer"),
    ("grid", {"shuffle": "sometimes"}, "shuffle", "valid boolean"),
])
def test_algorithm_setting_values_the_controller_refuses_are_errors_at_their_line(tmp_path, algorithm, settings,
                                                                                  path, needle):
    issue, lines = _single_issue(tmp_path, nb201_spec(algorithm=algorithm, algorithmSettings=settings))
    assert needle in issue.message and issue.path == ".".join(filter(None, ("spec.search.algorithmSettings", path)))
    assert f"{path or 'algorithmSettings'}:" in lines[issue.line - 1]


def test_known_algorithm_settings_pass(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(nb201_spec(algorithm="evolution",
                                              algorithmSettings={"populationSize": 8, "tournamentSize": 3})))
    assert load_experiment(path, check_references).spec.search.algorithm_settings["populationSize"] == 8


@pytest.mark.parametrize("space,args,needle", [
    ("mnasnet", {"refrence": "mnasnet_a1"}, "mnasnet takes no argument 'refrence'; did you mean 'reference'?"),
    ("nb201", {"cells": 5}, "nb201 takes no argument 'cells' (its arguments: none)"),
])
def test_a_prebuilt_spaces_unknown_argument_is_an_error_at_its_line(tmp_path, space, args, needle):
    spec = nb201_spec()
    spec["spec"]["searchSpace"] = {"prebuilt": space, "args": args}
    issue, lines = _single_issue(tmp_path, spec)
    (key,) = args
    assert issue.path == f"spec.searchSpace.args.{key}" and needle in issue.message
    assert key in lines[issue.line - 1]


def test_a_value_a_prebuilt_space_refuses_names_the_field_when_the_space_is_built():
    from search_spaces.registry import build_search_space  # noqa: PLC0415 - imports PyGlove
    from specs.model import SearchSpaceSpec  # noqa: PLC0415

    with pytest.raises(ValueError, match=r"^spec\.searchSpace\.args: unknown MnasNet reference 'nope'"):
        build_search_space(SearchSpaceSpec(prebuilt="mnasnet", args={"reference": "nope"}))


def _classifier_spec(**stages: dict) -> dict:
    spec = nb201_spec(top_n=2)
    spec["spec"]["trainer"] = {"prebuilt": "image-classifier", "args": {"steps": 20, "learningRate": 0.1}}
    for stage, args in {"search": {}, "train": {}, **stages}.items():
        spec["spec"].setdefault(stage, {})["trainerArgs"] = args
    return spec


@pytest.mark.parametrize("edit,path,needle", [
    (lambda s: s["spec"]["trainer"]["args"].update(learningRat=0.2), "spec.trainer.args.learningRat",
     "image-classifier takes no argument 'learningRat'; did you mean 'learningRate'?"),
    (lambda s: s["spec"]["search"].update(trainerArgs={"steps": -5}), "spec.search.trainerArgs.steps",
     "greater than or equal to 1"),
    (lambda s: s["spec"]["train"].update(trainerArgs={"optimizer": "lamb"}), "spec.train.trainerArgs.optimizer",
     "'sgd' or 'adamw'"),
    (lambda s: s["spec"].update(modelSelection={"startModels": 4, "finalModels": 2, "trainerArgs": {"steps": 30}},
                                proxyTaskSearch={"candidates": [{"name": "a", "trainerArgs": {"trainFraction": 2}}]}),
     "spec.proxyTaskSearch.candidates.0.trainerArgs.trainFraction", "less than or equal to 1"),
])
def test_a_prebuilt_trainers_args_are_checked_where_they_are_set(tmp_path, edit, path, needle):
    """`validate` refuses what the trial would (unknown, out of range), at the layer that set it, once."""
    spec = _classifier_spec()
    edit(spec)
    issue, lines = _single_issue(tmp_path, spec)
    assert issue.path == path and needle in issue.message
    assert path.split(".")[-1] in lines[issue.line - 1]


def test_a_bad_base_argument_is_one_error_at_its_line_even_where_a_stage_overrides_it(tmp_path):
    spec = _classifier_spec(search={"batchSize": 32})
    spec["spec"]["trainer"]["args"]["batchSize"] = 0  # every stage's trials get it except the search's
    issue, _ = _single_issue(tmp_path, spec)
    assert issue.path == "spec.trainer.args.batchSize"


@pytest.mark.parametrize("trainer_args,reward,problem", [
    ({}, {"metric": "acuracy"}, ("spec.reward.metric", "does not report 'acuracy'; did you mean 'accuracy'?")),
    ({}, {"latency": {"metric": "latency_ms", "target": 1.0}},
     ("spec.reward.latency.metric", "nothing measures 'latency_ms'")),
    ({"latency": {"runs": 5}}, {"latency": {"metric": "latency_ms", "target": 1.0}}, None),
    ({"waitForLatencySeconds": 60}, {"memory": {"metric": "device_rss_mb", "target": 8}}, None),  # a worker's own
])
def test_the_reward_names_only_metrics_the_prebuilt_trainer_reports(tmp_path, trainer_args, reward, problem):
    spec = _classifier_spec()
    spec["spec"]["trainer"]["args"].update(trainer_args)
    spec["spec"]["reward"] = reward
    if problem is None:
        file = tmp_path / "exp.yaml"
        file.write_text(yaml.safe_dump(spec, sort_keys=False))
        assert load_experiment(file, check_references).spec.reward.metric == "accuracy"
        return
    issue, _ = _single_issue(tmp_path, spec)
    assert issue.path == problem[0] and problem[1] in issue.message


def test_a_module_trainers_args_are_its_own_business(tmp_path):
    spec = nb201_spec()
    spec["spec"]["trainer"] = {"module": "tests.support.trainer_fixtures:nothing", "args": {"anything": [1, 2]}}
    file = tmp_path / "exp.yaml"
    file.write_text(yaml.safe_dump(spec))
    assert load_experiment(file, check_references).spec.trainer.args == {"anything": [1, 2]}


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


def test_an_empty_state_location_is_an_error_at_its_line():
    spec = nb201_spec()
    spec["spec"]["stateUri"] = " "
    with pytest.raises(SpecError) as info:
        parse_experiment(yaml.safe_dump(spec, sort_keys=False))
    [issue] = info.value.issues
    assert issue.path == "spec.stateUri" and "an empty state location" in issue.message


def test_more_top_n_than_search_trials_is_an_error_at_the_train_stage():
    text = yaml.safe_dump(nb201_spec(max_trials=4, top_n=7), sort_keys=False)
    with pytest.raises(SpecError) as info:
        parse_experiment(text)
    [issue] = info.value.issues
    assert issue.path == "spec.train" and "topN (7) is more than search.maxTrials (4)" in issue.message
    lines = text.splitlines()
    assert issue.line > lines.index("  train:")  # inside the train stage, not at `spec`


def test_a_count_in_exponent_notation_says_yaml_reads_it_as_text():
    text = yaml.safe_dump(nb201_spec(), sort_keys=False).replace("maxTrials: 12", "maxTrials: 1e3")
    with pytest.raises(SpecError) as info:
        parse_experiment(text)
    [issue] = info.value.issues
    assert issue.path == "spec.search.maxTrials" and "YAML reads 1e3 as text: write the number out, e.g. 1000" in \
        issue.message


def test_a_pipe_given_as_the_spec_is_an_error_not_a_wait(tmp_path):
    import os  # noqa: PLC0415

    fifo = tmp_path / "exp.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a spec file"):
        load_experiment(fifo)
