"""`bayesopt`: nasctl's default search — Bayesian optimisation with Hamming-kernel Gaussian processes.

Design (measured on NAS-Bench-201, see ``benchmarks/RESULTS.md``):

* After `initialTrials` uniformly random architectures, a Gaussian process with an ARD Hamming kernel
  (:mod:`reconciler.controllers.hamming_gp`) models the objective over the DNA. The objective is
  rank-warped to normal quantiles (`warp`), which makes the long tail of broken architectures harmless.
  Failed trials count as the worst value seen, so the search steers away from what crashes.
* Unconstrained, the objective is the reward and the next architecture maximises expected improvement
  (EI). With latency/memory targets in the experiment's reward spec, the objective is the accuracy
  metric and one more GP per constrained metric (log scale) gives the probability of meeting its
  target; the next architecture maximises EI over the best *feasible* accuracy × P(feasible)
  (constrained EI, Gardner et al. 2014). This aims at what the final pick is: the best feasible trial.
* Candidates are every unseen architecture when the space has at most `enumerateLimit` points;
  otherwise random architectures plus the Hamming neighbourhood of the best ones (local search
  around the incumbent).
* Parallel proposals: pending architectures join each GP with their posterior mean as a "believed"
  value (kriging believer), which lowers the uncertainty around them so the next proposal looks elsewhere.
* Already evaluated or pending architectures are never proposed again. Kernel hyper-parameters are
  refitted every `refitEvery` trials on a fixed prefix of the history, so the controller is a pure,
  deterministic function of (seed, history) and a restarted `apply` rebuilds the same one.
"""
from __future__ import annotations

import math
import random
from typing import Any, Sequence

import numpy as np
from scipy.stats import norm, rankdata

from reconciler.controllers import hamming_gp
from reconciler.controllers.base import Controller, Observation
from reconciler.controllers.encoding import (
    cardinalities,
    enumerate_points,
    mutate,
    neighbours,
    random_point,
    rank_of,
    unseen_redraw,
)
from search_spaces.space import DNANumbers, SearchSpace

_TOP_FOR_NEIGHBOURS = 5


def _warp(values: np.ndarray) -> np.ndarray:
    """Ranks mapped to standard-normal quantiles (ties share a rank)."""
    return norm.ppf((rankdata(values) - 0.5) / len(values))


class BayesOpt(Controller):
    name = "bayesopt"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_trials: int = 10,
        candidates: int = 2000,
        enumerate_limit: int = 50_000,
        refit_every: int = 1,
        warp: bool = True,
        **settings: Any,
    ):
        super().__init__(space, seed, **settings)
        if initial_trials < 2 or candidates < 1 or refit_every < 1:
            raise ValueError("bayesopt: need initialTrials ≥ 2, candidates ≥ 1, refitEvery ≥ 1")
        self.sizes = cardinalities(space, self.name)
        self.initial_trials = initial_trials
        self.candidates = candidates
        self.refit_every = refit_every
        self.warp = warp
        self._all_points = enumerate_points(self.sizes) if space.size <= enumerate_limit else None
        self._params: dict[tuple[str, int], np.ndarray] = {}

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        rng = self.rng_for(index)
        pending_points = [tuple(p) for p in pending]
        seen = {tuple(obs.dna) for obs in self.history} | set(pending_points)
        succeeded = [obs for obs in self.history if not obs.failed]
        if len(self.history) + len(pending) < self.initial_trials or len(succeeded) < 2:
            return unseen_redraw(iter(lambda: random_point(self.sizes, rng), None), seen)
        pool = self._candidates(rng, seen, succeeded)
        if len(pool) == 0:
            return unseen_redraw(iter(lambda: random_point(self.sizes, rng), None), seen)
        score = self._acquisition(pool, pending_points)
        return tuple(int(v) for v in pool[int(np.argmax(score))])

    # The objective and the constraints -------------------------------------------------------------

    def _constraints(self) -> list[Any]:
        spec = self.reward_spec
        return [term for term in (spec.latency, spec.memory) if term is not None] if spec is not None else []

    def _objective(self, obs: Observation) -> float | None:
        """What the GP maximises: the reward, or the accuracy metric when targets are constrained."""
        if obs.failed:
            return None
        if self._constraints():
            value = obs.metrics.get(self.reward_spec.metric)
            return None if value is None else float(value)
        return float(obs.reward)

    def _feasible(self, obs: Observation) -> bool:
        return all(obs.metrics.get(term.metric, math.inf) <= term.target for term in self._constraints())

    def _acquisition(self, pool: np.ndarray, pending: list[DNANumbers]) -> np.ndarray:
        values = [self._objective(obs) for obs in self.history]
        known = [v for v in values if v is not None]
        worst = min(known) if known else 0.0
        x = np.array([obs.dna for obs in self.history], dtype=np.int64)
        raw = np.array([worst if v is None else v for v in values], dtype=float)
        y = _warp(raw) if self.warp else raw
        mean, std = self._posterior("objective", x, raw, pool, pending, warp=self.warp)
        feasible = [self._feasible(obs) and v is not None for obs, v in zip(self.history, values)]
        incumbent = max((v for v, ok in zip(y, feasible) if ok), default=None)
        probability = np.ones(len(pool))
        for term in self._constraints():
            probability *= self._probability_within(term, pool, pending)
        if incumbent is None:  # nothing feasible yet: find feasibility first
            return probability
        z = (mean - incumbent) / std
        return (std * (z * norm.cdf(z) + norm.pdf(z))) * probability

    def _probability_within(self, term: Any, pool: np.ndarray, pending: list[DNANumbers]) -> np.ndarray:
        measured = [obs for obs in self.history if float(obs.metrics.get(term.metric, 0.0)) > 0]
        if len(measured) < 2:
            return np.ones(len(pool))
        x = np.array([obs.dna for obs in measured], dtype=np.int64)
        y = np.log([float(obs.metrics[term.metric]) for obs in measured])
        mean, std = self._posterior(term.metric, x, y, pool, pending, warp=False)
        return norm.cdf((math.log(term.target) - mean) / std)

    # The GP ----------------------------------------------------------------------------------------

    def _posterior(
        self, key: str, x: np.ndarray, raw: np.ndarray, pool: np.ndarray, pending: list[DNANumbers], warp: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior over `pool` given (x, raw values), warped if asked; pending points are believed."""
        params = self._hyperparameters(key, x, raw, warp)
        y = _warp(raw) if warp else raw
        model = hamming_gp.fit(x, y, params)
        if pending:
            believed, _ = model.predict(np.array(pending, dtype=np.int64))
            model = hamming_gp.fit(np.vstack([x, pending]), np.concatenate([y, believed]), params)
        return model.predict(pool)

    def _hyperparameters(self, key: str, x: np.ndarray, raw: np.ndarray, warp: bool) -> np.ndarray:
        """Kernel hyper-parameters fitted on the first ⌊n/refitEvery⌋·refitEvery points (cached).

        Refitting on a schedule rather than every trial costs 1/refitEvery of the optimisations and still
        depends only on the history, so a rebuilt controller makes the same choice.
        """
        n = len(raw) - len(raw) % self.refit_every if len(raw) >= self.refit_every else len(raw)
        if (key, n) not in self._params:
            prefix = _warp(raw[:n]) if warp else raw[:n]
            self._params[key, n] = hamming_gp.fit_hyperparameters(x[:n], prefix)
        return self._params[key, n]

    # Candidates ------------------------------------------------------------------------------------

    def _candidates(self, rng: random.Random, seen: set[DNANumbers], succeeded: list[Observation]) -> np.ndarray:
        if self._all_points is not None:
            keep = np.ones(len(self._all_points), dtype=bool)
            keep[[rank_of(point, self.sizes) for point in seen]] = False
            return self._all_points[keep]
        best = sorted(succeeded, key=lambda obs: -obs.reward)[:_TOP_FOR_NEIGHBOURS]
        pool = {p for obs in best for p in neighbours(tuple(obs.dna), self.sizes)}
        for obs in best:
            pool.update(mutate(mutate(tuple(obs.dna), self.sizes, rng), self.sizes, rng) for _ in range(50))
        pool.update(random_point(self.sizes, rng) for _ in range(self.candidates))
        return np.array(sorted(pool - seen), dtype=np.int64).reshape(-1, len(self.sizes))
