"""Regularized (aging) evolution, Real et al. 2019, as PyGlove's `regularized_evolution`.

The population is the `populationSize` most recent successful trials (the oldest dies first). A child is
a one-decision mutation of the best of `tournamentSize` members drawn at random. Until the population is
full (counting pending trials), proposals are uniformly random. Already evaluated or pending
architectures are never proposed again while unseen ones can be found.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from reconciler.controllers.base import Controller
from reconciler.controllers.encoding import cardinalities, mutate, unseen_random, unseen_redraw
from reconciler.controllers.settings import EvolutionSettings
from search_spaces.space import DNANumbers, SearchSpace


class RegularizedEvolution(Controller):
    name = "evolution"
    settings_model = EvolutionSettings
    settings: EvolutionSettings

    def __init__(self, space: SearchSpace, seed: int, **settings: Any):
        super().__init__(space, seed, **settings)
        self.sizes = cardinalities(space, self.name)

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        rng = self.rng_for(index)
        seen = {tuple(obs.dna) for obs in self.history} | {tuple(p) for p in pending}
        population = [obs for obs in self.history if not obs.failed][-self.settings.population_size :]
        if len(self.history) + len(pending) < self.settings.population_size or not population:
            return unseen_random(self.sizes, rng, seen)

        def children() -> Iterator[DNANumbers]:
            while True:
                contestants = rng.sample(population, min(self.settings.tournament_size, len(population)))
                parent = max(contestants, key=lambda obs: obs.reward)
                yield mutate(tuple(parent.dna), self.sizes, rng)

        child = unseen_redraw(children(), seen)
        if child in seen:
            child = unseen_random(self.sizes, rng, seen)
        return child
