"""Exhaustive grid sweep: trial `index` is the `index`-th point of the space in mixed-radix order.

Meant for small spaces (scaling and augmentation spaces, as Vertex's GRID_SEARCH). Needs no history, so
it is trivially restartable; with `shuffle: true` the order is a seeded permutation instead.
"""
from __future__ import annotations

import random
from typing import Any, Sequence

from reconciler.controllers.base import Controller
from reconciler.controllers.encoding import cardinalities, point_at
from reconciler.controllers.settings import GridSettings
from search_spaces.space import DNANumbers, SearchSpace

_MAX_SHUFFLED = 10_000_000


class GridSearch(Controller):
    name = "grid"
    settings_model = GridSettings
    settings: GridSettings

    def __init__(self, space: SearchSpace, seed: int, **settings: Any):
        super().__init__(space, seed, **settings)
        self.sizes = cardinalities(space, self.name)
        self.size = space.size
        if self.settings.shuffle and self.size > _MAX_SHUFFLED:
            raise ValueError(f"grid: shuffle needs a space of at most {_MAX_SHUFFLED} points, got {self.size}")
        self.order: list[int] | None = None
        if self.settings.shuffle:
            self.order = list(range(self.size))
            random.Random(f"{seed}:grid").shuffle(self.order)

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        if not 0 <= index < self.size:
            raise ValueError(f"grid: the space has {self.size} points, so trial index {index} is past its end; "
                             f"set maxTrials ≤ {self.size}")
        rank = self.order[index] if self.order is not None else index
        return point_at(rank, self.sizes)
