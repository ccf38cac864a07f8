"""`apply`'s progress bar counts every trial the spec plans, proxy-task stages included."""
from __future__ import annotations

from nasctl.progress import ApplyProgress
from specs.loader import load_experiment
from tests.conftest import REPO


def test_the_bar_counts_the_proxy_task_stages_trials_too() -> None:
    experiment = load_experiment(REPO / "specs" / "examples" / "proxy-task-digits.yaml")
    spec = experiment.spec
    variance = spec.variance_measurement.copies + 1  # the workable attempt, then its copies
    selection = spec.model_selection.start_models
    candidates = len(spec.proxy_task_search.candidates) * spec.model_selection.final_models
    stage_one_two = spec.search.max_trials + (spec.train.top_n if spec.train else 0)
    assert ApplyProgress(experiment, enabled=False).total == variance + selection + candidates + stage_one_two


def test_without_proxy_stages_it_is_search_and_stage_two() -> None:
    experiment = load_experiment(REPO / "specs" / "examples" / "quickstart.yaml")
    assert ApplyProgress(experiment, enabled=False).total == (experiment.spec.search.max_trials
                                                              + experiment.spec.train.top_n)
