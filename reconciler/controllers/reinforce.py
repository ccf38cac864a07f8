"""REINFORCE, the policy-gradient controller of MnasNet and Vertex AI NAS.

The policy is one independent categorical distribution (softmax over logits) per decision. Each
successful trial, replayed in index order, moves the logits by
``lr · (A · ∇log π(arch) + entropyWeight · ∇H(π))`` where the advantage ``A`` is the reward minus an
exponential moving-average baseline, divided by a moving standard deviation so the step size does not
depend on the reward's scale. The policy is a pure function of the recorded history: it is replayed
(incrementally, within one pass) rather than saved.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np

from reconciler.controllers.base import Controller
from reconciler.controllers.encoding import cardinalities, unseen_redraw
from reconciler.controllers.settings import ReinforceSettings
from search_spaces.space import DNANumbers, SearchSpace


class Reinforce(Controller):
    name = "reinforce"
    settings_model = ReinforceSettings
    settings: ReinforceSettings

    def __init__(self, space: SearchSpace, seed: int, **settings: Any):
        super().__init__(space, seed, **settings)
        self.sizes = cardinalities(space, self.name)
        self.logits = [np.zeros(size) for size in self.sizes]
        self._baseline: float | None = None
        self._variance = 0.0
        self._replayed = 0

    def probabilities(self) -> list[np.ndarray]:
        """The current policy, after replaying all feedback received so far."""
        self._replay()
        return [_softmax(logits) for logits in self.logits]

    def _replay(self) -> None:
        for obs in self.history[self._replayed :]:
            if not obs.failed:
                self._update(tuple(obs.dna), float(obs.reward))
        self._replayed = len(self.history)

    def _update(self, dna: DNANumbers, reward: float) -> None:
        if self._baseline is None:
            self._baseline = reward
            return
        advantage = reward - self._baseline
        decay = self.settings.baseline_decay
        self._variance = decay * self._variance + (1 - decay) * advantage**2
        self._baseline = decay * self._baseline + (1 - decay) * reward
        scaled = advantage / (math.sqrt(self._variance) + 1e-12)
        for logits, choice in zip(self.logits, dna):
            p = _softmax(logits)
            log_prob_grad = -p
            log_prob_grad[choice] += 1.0
            entropy = -float(np.sum(p * np.log(p)))
            entropy_grad = -p * (np.log(p) + entropy)
            step = scaled * log_prob_grad + self.settings.entropy_weight * entropy_grad
            logits += self.settings.learning_rate * step

    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        rng = self.rng_for(index)
        policy = self.probabilities()
        seen = {tuple(obs.dna) for obs in self.history} | {tuple(p) for p in pending}

        def draws() -> Iterator[DNANumbers]:
            while True:
                yield tuple(int(rng.choices(range(len(p)), weights=p.tolist())[0]) for p in policy)

        return unseen_redraw(draws(), seen)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()
