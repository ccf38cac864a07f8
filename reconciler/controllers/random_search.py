"""Uniform random search, avoiding already-seen architectures while unseen ones remain likely."""
from __future__ import annotations

from typing import Sequence

from reconciler.controllers.base import Controller
from reconciler.controllers.settings import RandomSettings
from search_spaces.space import DNANumbers

_MAX_REDRAWS = 100


class RandomSearch(Controller):
    name = "random"
    settings_model = RandomSettings

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        rng = self.rng_for(index)
        seen = {obs.dna for obs in self.history} | set(pending)
        candidate = self.space.numbers(self.space.random_dna(rng))
        for _ in range(_MAX_REDRAWS):
            if candidate not in seen:
                break
            candidate = self.space.numbers(self.space.random_dna(rng))
        return candidate
