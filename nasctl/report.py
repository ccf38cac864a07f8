"""`nasctl report`: PNG pictures of a search, written next to the experiment's state.

* ``search_curve.png``: every trial's reward and the best reward so far vs trial index, and a mark at the
  foot of the plot for each failed trial (with their count: at 2,000 trials failures are the other story);
* ``accuracy_latency.png`` (when the reward has a latency term): accuracy vs latency of every trial,
  the Pareto front as a staircase (what is attainable, not a line between trials) and the target line.

Legends go where they cover the fewest points.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from objective.pareto import pareto_front
from state.records import FAILED, SEARCH, SUCCEEDED, TrialRecord
from specs.model import NASExperiment
from state.store import StateStore

SEARCH_CURVE = "search_curve.png"
ACCURACY_LATENCY = "accuracy_latency.png"


def _pyplot():
    import matplotlib  # noqa: PLC0415 - matplotlib is slow to import and only needed here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _search_curve(experiment: NASExperiment, trials: Sequence[TrialRecord], path: Path) -> None:
    plt = _pyplot()
    done = sorted((t for t in trials if t.reward is not None), key=lambda t: t.index)
    best, running = [], float("-inf")
    for trial in done:
        running = max(running, float(trial.reward))
        best.append(running)
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.scatter([t.index for t in done], [t.reward for t in done], s=12, alpha=0.6, label="trial reward")
    axes.step([t.index for t in done], best, where="post", color="C3", label="best so far")
    failed = [t.index for t in trials if t.status == FAILED]
    if failed:  # at the foot of the axes whatever the rewards' range
        axes.scatter(failed, [0.02] * len(failed), transform=axes.get_xaxis_transform(), marker="x", s=14,
                     color="0.4", label=f"failed ({len(failed)})")
    axes.set(xlabel="trial", ylabel="reward", title=f"{experiment.metadata.name}: search curve")
    axes.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _accuracy_latency(experiment: NASExperiment, trials: Sequence[TrialRecord], path: Path) -> None:
    plt = _pyplot()
    reward = experiment.spec.reward
    latency = reward.latency
    points = [t for t in trials if t.status == SUCCEEDED and reward.metric in t.metrics and latency.metric in t.metrics]
    front = pareto_front(points, reward.model_copy(update={"memory": None}))
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.scatter([t.metrics[latency.metric] for t in points], [t.metrics[reward.metric] for t in points],
                 s=12, alpha=0.5, label="trials")
    ordered = sorted(front, key=lambda p: p.values[latency.metric])
    axes.step([p.values[latency.metric] for p in ordered], [p.values[reward.metric] for p in ordered],
              "o-", where="post", color="C3", label="Pareto front")
    axes.axvline(latency.target, color="k", linestyle="--", label=f"target {latency.target:g}")
    axes.set(xlabel=latency.metric, ylabel=reward.metric, title=f"{experiment.metadata.name}: accuracy vs latency")
    axes.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(experiment: NASExperiment, trials: list[TrialRecord], out_dir: Path) -> list[Path]:
    """Write the pictures of the search stage into `out_dir`; returns the paths written."""
    search = [t for t in trials if t.stage == SEARCH]
    if not any(t.reward is not None for t in search):
        raise ValueError("no finished search trial with a reward yet: nothing to plot")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / SEARCH_CURVE]
    _search_curve(experiment, search, written[0])
    if experiment.spec.reward.latency is not None:
        written.append(out_dir / ACCURACY_LATENCY)
        _accuracy_latency(experiment, search, written[1])
    return written


def stage_plots(store: StateStore, stage_names: Sequence[str], out_dir: Path) -> list[Path]:
    """The proxy-task stages' plots: where they lie beside local state, or copied out of a bucket into `out_dir`."""
    found = []
    for stage in stage_names:
        for key in store.list(f"{stage}/"):
            if not key.endswith(".png"):
                continue
            if store.local_root is not None:
                found.append(store.local_root / key)
                continue
            target = out_dir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(store.get_artifact(key) or b"")
            found.append(target)
    return found
