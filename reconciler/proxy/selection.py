"""Model selection: the shrinking schedule, the spread-keeping removal rule, failures, and the cost.

Each round trains the K remaining models for another 1/K of full training (continuing from the previous
round), compares them at the same training fraction and removes some, until `final` models remain;
those are trained to completion. With 30 → 10 by 5 the cumulative fractions are 3.33 %, 7.33 %,
12.33 %, 19.0 %, then 100 %, and the whole selection costs ≈ 12 full trainings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_START_MODELS = 30
DEFAULT_FINAL_MODELS = 10
DEFAULT_REMOVE_PER_ROUND = 5
DEFAULT_MAX_FAILURE_FRACTION = 0.2
MIN_KEPT_MODELS = 2  # two models are needed to keep a min and a max of the spread


@dataclass(frozen=True)
class ScheduleRound:
    models: int  # models trained in this round
    fraction: float  # cumulative share of full training reached at the end of the round


def next_fraction(previous_fraction: float, models: int, final_models: int) -> float:
    """Where a round with `models` models stops: +1/models, or the end of training at `final_models`."""
    if models <= final_models:
        return 1.0
    return min(previous_fraction + 1.0 / models, 1.0)


def removals_for_round(models: int, final_models: int, remove_per_round: int) -> int:
    """How many models a round removes (failures included): never below `final_models`."""
    return max(0, min(remove_per_round, models - final_models))


def planned_schedule(start_models: int = DEFAULT_START_MODELS, final_models: int = DEFAULT_FINAL_MODELS,
                     remove_per_round: int = DEFAULT_REMOVE_PER_ROUND) -> list[ScheduleRound]:
    """The rounds when nothing fails; the last one trains `final_models` models to completion."""
    if not 0 < final_models <= start_models or remove_per_round < 1:
        raise ValueError("expected 0 < finalModels <= startModels and removePerRound >= 1")
    rounds, models, fraction = [], start_models, 0.0
    while True:
        fraction = next_fraction(fraction, models, final_models)
        rounds.append(ScheduleRound(models, fraction))
        if fraction >= 1.0:
            return rounds
        models -= removals_for_round(models, final_models, remove_per_round)


def cost_in_full_trainings(rounds: Sequence[ScheduleRound]) -> float:
    """Σ models × (fraction reached − previous fraction): the seed's 4 + 10 × 0.81 ≈ 12 for 30 → 10."""
    cost, previous = 0.0, 0.0
    for round_ in rounds:
        cost += round_.models * (round_.fraction - previous)
        previous = round_.fraction
    return cost


def max_failures(start_models: int, max_failure_fraction: float = DEFAULT_MAX_FAILURE_FRACTION) -> int:
    """Failures tolerated over the whole selection (Vertex: 6 of 30)."""
    return int(start_models * max_failure_fraction)


@dataclass(frozen=True)
class ModelScore:
    key: str  # the model's identity (e.g. its model-selection index)
    accuracy: float
    latency: float | None = None  # None when latency is not measured: the spread is in accuracy only


def _unit(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min())
    return np.zeros_like(values) if span == 0 else (values - values.min()) / span


def normalised_points(scores: Sequence[ModelScore]) -> np.ndarray:
    """(accuracy, latency) scaled to [0, 1] each; latency 0 for all when not measured."""
    accuracy = _unit(np.array([s.accuracy for s in scores], dtype=float))
    if any(s.latency is None for s in scores):
        latency = np.zeros(len(scores))
    else:
        latency = _unit(np.array([s.latency for s in scores], dtype=float))
    return np.stack([accuracy, latency], axis=1)


def index_to_remove(points: np.ndarray) -> int:
    """Of the closest pair, the member whose second-nearest neighbour is closer (the denser one).

    Ties go to the lower index, as in Vertex: the first closest pair in order, and the pair's first
    member unless its second-nearest distance is not strictly smaller.
    """
    count = len(points)
    if count <= MIN_KEPT_MODELS:
        raise ValueError(f"cannot remove a model from {count}: at least {MIN_KEPT_MODELS + 1} are needed")
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")
    nearest, second = order[:, 0], order[:, 1]
    first = int(np.argmin(distances[np.arange(count), nearest]))
    partner = int(nearest[first])
    if distances[first, second[first]] < distances[partner, second[partner]]:
        return first
    return partner


@dataclass(frozen=True)
class RoundSelection:
    kept: tuple[str, ...]
    removed: tuple[str, ...]  # removed for spread (failed models are not listed here)
    failed: tuple[str, ...]


def select_round(scores: Sequence[ModelScore], failed: Sequence[str], removals: int) -> RoundSelection:
    """Keep a good spread: failed models count toward `removals`, the rest go by the closest-pair rule.

    Normalisation is done once for the round (as Vertex does), then models are removed one at a time;
    at least two valid models are always kept.
    """
    keys = [s.key for s in scores]
    if len(set(keys) | set(failed)) != len(keys) + len(failed):
        raise ValueError("a model is listed twice among scores and failures")
    to_remove = max(0, min(removals - len(failed), len(scores) - MIN_KEPT_MODELS))
    remaining = list(range(len(scores)))
    points = normalised_points(scores) if scores else np.zeros((0, 2))
    removed = []
    for _ in range(to_remove):
        drop = remaining[index_to_remove(points[remaining])]
        remaining.remove(drop)
        removed.append(keys[drop])
    return RoundSelection(kept=tuple(keys[i] for i in remaining), removed=tuple(removed), failed=tuple(failed))
