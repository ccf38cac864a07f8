"""PNG plots of the proxy-task tools as bytes (matplotlib with the Agg backend, imported only when drawing).

Bytes, not files: the reconciler stores them beside the state, a local directory or a bucket alike.
"""
from __future__ import annotations

import io
from typing import Any, Mapping, Sequence

from reconciler.proxy.correlation import StepStats
from reconciler.proxy.curves import Point
from reconciler.proxy.selection import ModelScore, RoundSelection

VARIANCE_PLOT = "variance_curves.png"
SELECTION_PLOT = "filtered_trial_scores.png"
CORRELATION_STEPS_PLOT = "correlation_vs_steps.png"
CORRELATION_HOURS_PLOT = "correlation_vs_hours.png"


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415 - heavy: only when a plot is written

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    return buffer.getvalue()


def plot_variance_curves(curves: Mapping[str, Sequence[Point]], title: str) -> bytes:
    """The copies' accuracy vs training fraction: curves that overlap and only rise are what you want."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        ax.plot([p.fraction for p in curve], [p.value for p in curve], marker=".", label=name)
    ax.set(xlabel="fraction of training", ylabel="accuracy", title=title)
    ax.legend(fontsize="small")
    return _png(fig)


def plot_round_selection(scores: Sequence[ModelScore], selection: RoundSelection, title: str) -> bytes:
    """Kept models as blue dots, removed ones as red crosses, in (accuracy, latency) (latency 0 if unmeasured)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    removed = set(selection.removed)
    for group, style, label in ((False, "bo", "kept"), (True, "rx", "removed")):
        chosen = [s for s in scores if (s.key in removed) == group]
        ax.plot([s.accuracy for s in chosen], [s.latency if s.latency is not None else 0.0 for s in chosen],
                style, label=f"{label} ({len(chosen)})")
    if selection.failed:
        title += f" — {len(selection.failed)} failed"
    measured = all(s.latency is not None for s in scores)
    ax.set(xlabel="accuracy", ylabel="latency" if measured else "latency (not measured)", title=title)
    ax.legend(fontsize="small")
    return _png(fig)


def plot_correlation(candidates: Mapping[str, Sequence[StepStats]], threshold: float | None) -> dict[str, bytes]:
    """Kendall τ vs training steps and vs training hours, one line per candidate proxy task."""
    plt = _pyplot()
    written = {}
    for axis, filename, label in (("step", CORRELATION_STEPS_PLOT, "training steps"),
                                  ("median_hours", CORRELATION_HOURS_PLOT, "training hours (median model)")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, stats in candidates.items():
            valid = [s for s in stats if s.tau is not None]
            ax.plot([getattr(s, axis) for s in valid], [s.tau for s in valid], marker=".", label=name)
        if threshold is not None:
            ax.axhline(threshold, color="grey", linestyle="--", label=f"desired τ = {threshold:g}")
        ax.set(xlabel=label, ylabel="Kendall τ vs full training", title=f"Accuracy correlation vs {label}")
        ax.legend(fontsize="small")
        written[filename] = _png(fig)
    return written
