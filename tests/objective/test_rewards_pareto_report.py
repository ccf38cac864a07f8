"""The Pareto front of (accuracy, latency[, memory]) and the PNG report, from real trial records."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from objective.pareto import objectives, pareto_front
from state.records import FAILED, SEARCH, SUCCEEDED, TrialRecord
from nasctl.report import write_report
from specs.model import NASExperiment, ObjectiveTargetSpec, RewardSpec

LATENCY_SPEC = RewardSpec(latency=ObjectiveTargetSpec(metric="latency_ms", target=5.0))


def _trial(index: int, accuracy: float, latency: float, status: str = SUCCEEDED, **extra: float) -> TrialRecord:
    return TrialRecord(id=f"t{index}", stage=SEARCH, index=index, dna=[index], arch=None, status=status,
                       reward=accuracy if status == SUCCEEDED else None,
                       metrics={"accuracy": accuracy, "latency_ms": latency, **extra})


def test_front_of_a_hand_made_set() -> None:
    trials = [_trial(0, 0.90, 9.0), _trial(1, 0.85, 4.0), _trial(2, 0.80, 6.0),  # 2 dominated by 1
              _trial(3, 0.70, 2.0), _trial(4, 0.95, 1.0, status=FAILED), _trial(5, 0.85, 4.0)]  # 5 ties 1
    front = pareto_front(trials, LATENCY_SPEC)
    assert [p.trial_id for p in front] == ["t0", "t1", "t5", "t3"]
    assert front[1].values == {"accuracy": 0.85, "latency_ms": 4.0}


def test_memory_is_a_third_objective_when_targeted() -> None:
    spec = LATENCY_SPEC.model_copy(update={"memory": ObjectiveTargetSpec(metric="memory_mb", target=10)})
    assert objectives(spec) == [("accuracy", 1), ("latency_ms", -1), ("memory_mb", -1)]
    trials = [_trial(0, 0.9, 3.0, memory_mb=20.0), _trial(1, 0.9, 3.0, memory_mb=8.0), _trial(2, 0.8, 4.0, memory_mb=1.0)]
    assert [p.trial_id for p in pareto_front(trials, spec)] == ["t1", "t2"]


points = st.lists(st.tuples(st.floats(0, 1), st.floats(0.1, 10)), min_size=1, max_size=25)


@given(points)
def test_front_members_are_undominated_and_everything_else_is_dominated(values: list[tuple[float, float]]) -> None:
    trials = [_trial(i, acc, lat) for i, (acc, lat) in enumerate(values)]
    front_ids = {p.trial_id for p in pareto_front(trials, LATENCY_SPEC)}

    def dominates(a: TrialRecord, b: TrialRecord) -> bool:
        (aa, al), (ba, bl) = (a.metrics["accuracy"], a.metrics["latency_ms"]), (b.metrics["accuracy"], b.metrics["latency_ms"])
        return aa >= ba and al <= bl and (aa > ba or al < bl)

    for trial in trials:
        dominated = any(dominates(other, trial) for other in trials)
        assert dominated is (trial.id not in front_ids)


def _experiment(latency: bool) -> NASExperiment:
    reward = {"latency": {"metric": "latency_ms", "target": 5.0}} if latency else {}
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "report-test"},
        "spec": {"searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
                 "reward": reward, "search": {"maxTrials": 6}},
    })


def test_report_writes_valid_pngs(tmp_path: Path) -> None:
    trials = [_trial(i, 0.5 + 0.05 * i, 8.0 - i) for i in range(6)] + [_trial(6, 0.0, 1.0, status=FAILED)]
    written = write_report(_experiment(latency=True), trials, tmp_path / "report")
    assert [p.name for p in written] == ["search_curve.png", "accuracy_latency.png"]
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 200
    only_curve = write_report(_experiment(latency=False), trials, tmp_path / "plain")
    assert [p.name for p in only_curve] == ["search_curve.png"]


def test_report_without_finished_trials_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="nothing to plot"):
        write_report(_experiment(latency=False), [], tmp_path)


def test_the_search_curve_marks_failed_trials_and_counts_them(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A reader of the curve sees the failures too (at 2,000 trials, often a hundred of them)."""
    import matplotlib.figure

    legends: list[list[str]] = []
    save = matplotlib.figure.Figure.savefig

    def keep_legend(figure, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        legends.append([text.get_text() for text in figure.axes[0].get_legend().get_texts()])
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep_legend)
    trials = [_trial(i, 0.5 + 0.05 * i, 8.0 - i) for i in range(6)]
    trials += [_trial(i, 0.0, 1.0, status=FAILED) for i in range(6, 9)]
    write_report(_experiment(latency=False), trials, tmp_path / "report")
    write_report(_experiment(latency=False), trials[:6], tmp_path / "clean")
    assert legends == [["trial reward", "best so far", "failed (3)"], ["trial reward", "best so far"]]
