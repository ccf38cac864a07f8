"""`bayesopt`: nasctl's default search — Bayesian optimisation with Hamming-kernel Gaussian processes.

Design (measured on NAS-Bench-201 and at scale on MnasNet, see ``benchmarks/RESULTS.md``):

* After `initialTrials` uniformly random architectures, a Gaussian process with an ARD Hamming kernel
  (:mod:`reconciler.controllers.hamming_gp`) models the objective over the DNA. The objective is
  rank-warped to normal quantiles (`warp`), which makes the long tail of broken architectures harmless.
  Failed trials count as the worst value seen, so the search steers away from what crashes.
* Unconstrained, the objective is the reward and the next architecture maximises expected improvement
  (EI). With latency/memory targets in the experiment's reward spec, the objective is the accuracy
  metric and one more GP per constrained metric (log scale) gives the probability of meeting its
  target; the next architecture maximises EI over the best *feasible* accuracy × P(feasible)
  (constrained EI, Gardner et al. 2014). This aims at what the final pick is: the best feasible trial.
* Candidates are every unseen architecture when the space has at most `enumerateLimit` points and
  the history at most `modelTrials` trials (past that, scoring all 15,625 NB201 points per proposal
  costs more than the GP); otherwise `candidates` random architectures plus the Hamming neighbourhood
  of the best ones and their double mutations (local search around the incumbent).
* Parallel proposals: pending architectures join each GP with their posterior mean as a "believed"
  value (kriging believer), which lowers the uncertainty around them so the next proposal looks elsewhere.
* Bounded cost per pass. Every reconcile pass rebuilds the controller from the whole history, and an
  exact GP costs O(N³) time and O(N²·D) memory per hyper-parameter step. So each GP is conditioned on
  at most `modelTrials` trials (:func:`model_subset`): the best half (feasible first, the incumbent
  among them), a quarter nearest to the incumbent in Hamming distance (its trust region, where EI
  decides) and the most recent quarter (what the search is doing now). Up to `modelTrials` finished
  trials that is the whole history, so short searches are exactly the full GP.
* Kernel hyper-parameters are fitted on the same kind of subset of a prefix of the history: the first
  ⌊N/step⌋·step trials, with step = `refitEvery` up to `modelTrials` trials and N/10 past it (a refit
  each time the history grows by ~10 %). The prefix, the subset and the fit (deterministic start) are
  functions of the history alone, so the controller is a pure, deterministic function of
  (seed, history) and a restarted `apply` rebuilds the same one, while a rebuilt controller fits at
  most once per GP whatever N is. BLAS runs on one thread: on matrices this small, threads cost more
  than they save (a likelihood step was 15× slower with them on a loaded 2-core box).
  Measured: at 2,000 MnasNet trials a rebuilt controller proposes faster than Optuna TPE asks, in
  ~140 MB; at 100 NB201 evaluations it proposes exactly what the unbounded GP did.
* Equivalent architectures are one point for the objective. Where the space defines a canonical form
  (NB201: a cell's dead edges, which compute nothing the cell returns, read as ``none``), the objective
  GP sees canonical cells, and no architecture equivalent to an evaluated or pending one is proposed:
  without it ~10 % of a 100-trial NB201 search re-trained cells already seen under another encoding.
  Constraint GPs keep the DNA as written: a dead edge still runs, and its latency counts. A coarser
  form, one class per function (renumbered nodes and skip chains too), was measured and lost (fpga
  93.77 -> 93.41 on dev seeds): a promising cell whose one proxy measurement came out low was never
  measured again (benchmarks/RESULTS.md, sixth round).
* Already evaluated or pending architectures are never proposed again.
"""
from __future__ import annotations

import math
import random
from typing import Any, Sequence

import numpy as np
from scipy.stats import norm, rankdata
from threadpoolctl import threadpool_limits

from reconciler.controllers import hamming_gp
from reconciler.controllers.base import Controller, Observation
from reconciler.controllers.encoding import (
    cardinalities,
    enumerate_points,
    mutate,
    neighbours,
    rank_of,
    unseen_random,
)
from reconciler.controllers.settings import BayesOptSettings
from search_spaces.space import DNANumbers, SearchSpace

_TOP_FOR_NEIGHBOURS = 5
_OBJECTIVE = "objective"
_REFITS_PER_TENFOLD = 10  # past modelTrials, refit when the history has grown by about 1/10


def _warp(values: np.ndarray) -> np.ndarray:
    """Ranks mapped to standard-normal quantiles (ties share a rank)."""
    return norm.ppf((rankdata(values) - 0.5) / len(values))


def model_subset(x: np.ndarray, value: np.ndarray, feasible: np.ndarray, limit: int) -> np.ndarray:
    """Sorted indices of the at most `limit` trials a GP is conditioned on (all when there are fewer).

    Half are the best (feasible first, then by `value`; the incumbent is the first), a quarter the
    nearest to the incumbent by Hamming distance, the rest the most recent. Ties break towards the
    earlier trial, so the subset depends only on the data.
    """
    count = len(x)
    if count <= limit:
        return np.arange(count)
    order = np.arange(count)
    best = np.lexsort((order, -value, ~feasible))
    nearest = np.lexsort((order, (x != x[best[0]]).sum(axis=1)))
    chosen = dict.fromkeys(best[: limit // 2].tolist())
    for group, size in ((nearest, limit - limit // 4), (order[::-1], limit)):
        for index in group.tolist():
            if len(chosen) >= size:
                break
            chosen.setdefault(index)
    return np.array(sorted(chosen), dtype=np.int64)


class BayesOpt(Controller):
    name = "bayesopt"
    settings_model = BayesOptSettings
    settings: BayesOptSettings

    def __init__(self, space: SearchSpace, seed: int, **settings: Any):
        super().__init__(space, seed, **settings)
        self.sizes = cardinalities(space, self.name)
        self._all_points = (enumerate_points(self.sizes) if space.size <= self.settings.enumerate_limit
                            else None)
        self._params: dict[tuple[str, int], np.ndarray] = {}

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        rng = self.rng_for(index)
        pending_points = [tuple(p) for p in pending]
        seen = {tuple(obs.dna) for obs in self.history} | set(pending_points)
        succeeded = [obs for obs in self.history if not obs.failed]
        if len(self.history) + len(pending) < self.settings.initial_trials or len(succeeded) < 2:
            return unseen_random(self.sizes, rng, seen)
        pool = self._candidates(rng, seen, succeeded)
        if len(pool) == 0:
            return unseen_random(self.sizes, rng, seen)
        with threadpool_limits(1):  # GP-sized matrices: BLAS threads cost more than they save
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

    def _observations(self, key: str) -> list[Observation]:
        """The trials GP `key` can learn from: all of them for the objective, those that measured a metric."""
        if key == _OBJECTIVE:
            return self.history
        return [obs for obs in self.history if float(obs.metrics.get(key, 0.0)) > 0]

    def _training_set(
        self, key: str, observations: list[Observation]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, feasible) that GP `key` is conditioned on: the bounded subset of `observations`.

        The objective's y is warped if asked, failed trials counting as the worst value; a constraint's y
        is the log of its metric. Both pick their subset by the objective, so it holds the incumbent.
        """
        values = [self._objective(obs) for obs in observations]
        known = [v for v in values if v is not None]
        worst = min(known) if known else 0.0
        raw = np.array([worst if v is None else v for v in values], dtype=float)
        feasible = np.array([self._feasible(obs) and v is not None for obs, v in zip(observations, values)])
        x = np.array([obs.dna for obs in observations], dtype=np.int64).reshape(len(observations), len(self.sizes))
        if key == _OBJECTIVE:
            x = self._canonical(x)
        chosen = model_subset(x, raw, feasible, self.settings.model_trials)
        if key == _OBJECTIVE:
            y = _warp(raw[chosen]) if self.settings.warp else raw[chosen]
        else:
            y = np.log([float(observations[i].metrics[key]) for i in chosen])
        return x[chosen], y, feasible[chosen]

    def _acquisition(self, pool: np.ndarray, pending: list[DNANumbers]) -> np.ndarray:
        x, y, feasible = self._training_set(_OBJECTIVE, self.history)
        mean, std = self._posterior(_OBJECTIVE, x, y, self._canonical(pool), self._canonical(pending).tolist())
        probability = np.ones(len(pool))
        for term in self._constraints():
            probability *= self._probability_within(term, pool, pending)
        if not feasible.any():  # nothing feasible yet: find feasibility first
            return probability
        z = (mean - y[feasible].max()) / std
        return (std * (z * norm.cdf(z) + norm.pdf(z))) * probability

    def _probability_within(self, term: Any, pool: np.ndarray, pending: list[DNANumbers]) -> np.ndarray:
        observations = self._observations(term.metric)
        if len(observations) < 2:
            return np.ones(len(pool))
        x, y, _ = self._training_set(term.metric, observations)
        mean, std = self._posterior(term.metric, x, y, pool, pending)
        return norm.cdf((math.log(term.target) - mean) / std)

    def _canonical(self, points: Sequence[DNANumbers] | np.ndarray) -> np.ndarray:
        """DNA rows with equivalent architectures made equal (the rows as they are if the space has no canonical form)."""
        rows = np.asarray(points, dtype=np.int64).reshape(len(points), len(self.sizes))
        return rows if self.space.canonical is None else self.space.canonical(rows)

    # The GP ----------------------------------------------------------------------------------------

    def _posterior(
        self, key: str, x: np.ndarray, y: np.ndarray, pool: np.ndarray, pending: list[DNANumbers]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior of GP `key` over `pool` given its training set (x, y); pending points are believed."""
        params = self._hyperparameters(key)
        model = hamming_gp.fit(x, y, params)
        if pending:
            believed, _ = model.predict(np.array(pending, dtype=np.int64))
            model = hamming_gp.fit(np.vstack([x, pending]), np.concatenate([y, believed]), params)
        return model.predict(pool)

    def _fit_prefix(self, count: int) -> int:
        """How many of `count` observations the hyper-parameters are fitted on (see the module docstring)."""
        step = self.settings.refit_every
        if count > self.settings.model_trials:
            step = max(step, count // _REFITS_PER_TENFOLD)
        return count - count % step if count >= step else count

    def _hyperparameters(self, key: str) -> np.ndarray:
        """Kernel hyper-parameters of GP `key`, fitted on the training set of a prefix of its observations.

        Refitting on a schedule rather than every trial costs fewer optimisations and still depends
        only on the history, so a rebuilt controller makes the same choice (cached per prefix length).
        """
        observations = self._observations(key)
        n = self._fit_prefix(len(observations))
        if (key, n) not in self._params:
            x, y, _ = self._training_set(key, observations[:n])
            self._params[key, n] = hamming_gp.fit_hyperparameters(x, y)
        return self._params[key, n]

    # Candidates ------------------------------------------------------------------------------------

    def _candidates(self, rng: random.Random, seen: set[DNANumbers], succeeded: list[Observation]) -> np.ndarray:
        """Every unseen point of a small space while the GP sees the whole history, else local + random ones.

        Scoring all of NB201's 15,625 points costs more than the GP itself once the history is long;
        past `modelTrials` the search is local around the best trials, like in large spaces.
        """
        if self._all_points is not None and len(self.history) <= self.settings.model_trials:
            keep = np.ones(len(self._all_points), dtype=bool)
            keep[[rank_of(point, self.sizes) for point in seen]] = False
            return self._new_classes(self._all_points[keep], seen)
        best = sorted(succeeded, key=lambda obs: -obs.reward)[:_TOP_FOR_NEIGHBOURS]
        pool = {p for obs in best for p in neighbours(tuple(obs.dna), self.sizes)}
        for obs in best:
            pool.update(mutate(mutate(tuple(obs.dna), self.sizes, rng), self.sizes, rng) for _ in range(50))
        draw = np.random.default_rng(rng.getrandbits(64))  # vectorised: 2,000 × 42 Python draws cost 0.1 s
        draws = draw.integers(0, self.sizes, (self.settings.candidates, len(self.sizes)))
        pool.update(map(tuple, draws.tolist()))
        return self._new_classes(np.array(sorted(pool - seen), dtype=np.int64).reshape(-1, len(self.sizes)), seen)

    def _new_classes(self, pool: np.ndarray, seen: set[DNANumbers]) -> np.ndarray:
        """The first candidate of each equivalence class that has no evaluated or pending member."""
        if self.space.canonical is None or len(pool) == 0:
            return pool
        taken = set(map(tuple, self._canonical(list(seen)).tolist())) if seen else set()
        keep = []
        for row, form in enumerate(map(tuple, self._canonical(pool).tolist())):
            if form not in taken:
                taken.add(form)
                keep.append(row)
        return pool[keep]
