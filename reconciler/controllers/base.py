"""The controller interface: propose architectures, receive feedback. Rebuilt from history each pass.

A controller is created fresh on every reconcile pass, fed every finished stage-1 trial in trial-index
order through :meth:`Controller.feedback`, then asked to :meth:`Controller.propose` the DNA of new trial
indices. Proposals must be deterministic given (seed, index, history): derive randomness from
:meth:`Controller.rng_for`. `pending` lists architectures proposed but not yet finished, so that
parallel proposals can avoid duplicates. This makes any pass killable: nothing lives only in memory.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from reconciler.controllers.settings import ControllerSettings

if TYPE_CHECKING:  # PyGlove is imported only where a space is built, not by `nasctl status`/`diff`
    from search_spaces.space import DNANumbers, SearchSpace
    from specs.model import RewardSpec


@dataclass(frozen=True)
class Observation:
    """One finished stage-1 trial as a controller sees it."""

    index: int
    dna: DNANumbers
    reward: float | None  # None when the trial failed
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.reward is None


class Controller(ABC):
    name: ClassVar[str]
    settings_model: ClassVar[type[ControllerSettings]]  # its `algorithmSettings`, checked by `validate` too

    def __init__(self, space: SearchSpace, seed: int, reward: RewardSpec | None = None, **settings: Any):
        """`reward`: the experiment's reward spec; constraint-aware controllers read its latency/memory targets
        (None when the caller does not say)."""
        self.space = space
        self.seed = seed
        self.reward_spec = reward
        self.history: list[Observation] = []
        self.settings = self.settings_model.parse_or_raise(settings)

    def rng_for(self, index: int) -> random.Random:
        """The random stream of trial `index`: independent of how many proposals came before."""
        return random.Random(f"{self.seed}:{index}")

    def feedback(self, observation: Observation) -> None:
        """Record one finished trial (called in trial-index order)."""
        self.history.append(observation)

    @abstractmethod
    def propose(self, index: int, pending: Sequence[DNANumbers]) -> DNANumbers:
        """The DNA numbers of trial `index`."""
