"""What the proxy-task stages share: random starting models, trial curves, the metrics they compare."""
from __future__ import annotations

import random
from typing import Any, Sequence

from reconciler.proxy.curves import Point, curve_from_cycles
from state.records import TrialRecord
from reconciler.stages.base import StageContext


def random_architectures(ctx: StageContext, stream: str, seed: int,
                         indices: Sequence[int]) -> list[tuple[list[Any], Any]]:
    """(DNA numbers, architecture) of trial `index` of a stage: the same for the same (seed, index)."""
    from search_spaces.registry import build_search_space  # noqa: PLC0415 - PyGlove only when creating trials

    space = build_search_space(ctx.spec.search_space)
    models = []
    for index in indices:
        dna = space.random_dna(random.Random(f"{stream}:{seed}:{index}"))
        models.append((list(space.numbers(dna)), space.materialize(dna)))
    return models


def accuracy_metric(ctx: StageContext) -> str:
    return ctx.spec.reward.metric


def latency_metric(ctx: StageContext, explicit: str | None) -> str | None:
    """The stage's own latency metric, else the reward's latency term's, else None (not measured)."""
    if explicit is not None:
        return explicit
    return ctx.spec.reward.latency.metric if ctx.spec.reward.latency is not None else None


def trial_curve(ctx: StageContext, trial: TrialRecord, metric: str) -> list[Point]:
    return curve_from_cycles(ctx.cycles(trial.id), metric)
