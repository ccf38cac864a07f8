"""Regularized (aging) evolution, Real et al. 2019, as PyGlove's `regularized_evolution`.

The population is the `populationSize` most recent successful trials (the oldest dies first). A child is
a one-decision mutation of the best of `tournamentSize` members drawn at random. Until the population is
full (counting pending trials), proposals are uniformly random. Already evaluated or pending
architectures are never proposed again while unseen ones can be found.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from reconciler.controllers.base import Controller
from reconciler.controllers.encoding import cardinalities, mutate, random_point, unseen_redraw
from search_spaces.space import DNANumbers, SearchSpace


class RegularizedEvolution(Controller):
    name = "evolution"

    def __init__(
        self, space: SearchSpace, seed: int, population_size: int = 20, tournament_size: int = 5, **settings: Any
    ):
        super().__init__(space, seed, **settings)
        if population_size < 2 or not 1 <= tournament_size <= population_size:
            raise ValueError(
                f"evolution: need populationSize ≥ 2 and 1 ≤ tournamentSize ≤ populationSize, "
                f"got {population_size} and {tournament_size}"
            )
        self.sizes = cardinalities(space, self.name)
        self.population_size = population_size
        self.tournament_size = tournament_size

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        rng = self.rng_for(index)
        seen = {tuple(obs.dna) for obs in self.history} | {tuple(p) for p in pending}
        population = [obs for obs in self.history if not obs.failed][-self.population_size :]
        if len(self.history) + len(pending) < self.population_size or not population:
            return unseen_redraw(iter(lambda: random_point(self.sizes, rng), None), seen)

        def children() -> Iterator[DNANumbers]:
            while True:
                contestants = rng.sample(population, min(self.tournament_size, len(population)))
                parent = max(contestants, key=lambda obs: obs.reward)
                yield mutate(tuple(parent.dna), self.sizes, rng)

        child = unseen_redraw(children(), seen)
        if child in seen:
            child = unseen_redraw(iter(lambda: random_point(self.sizes, rng), None), seen)
        return child
