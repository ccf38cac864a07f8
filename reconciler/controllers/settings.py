"""Each search algorithm's `algorithmSettings`: names, defaults and allowed values, in one place.

Pydantic models that import no PyGlove, so `nasctl validate` refuses a setting the controller would refuse
(`populationSize: 1`) with its field path and YAML line; the controllers parse their settings with the same
models, so the two cannot drift apart.
"""
from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from adaptors.keyword_args import KeywordArgs


class ControllerSettings(KeywordArgs):
    noun: ClassVar[str] = "setting"


class RandomSettings(ControllerSettings):
    owner: ClassVar[str] = "random"


class GridSettings(ControllerSettings):
    owner: ClassVar[str] = "grid"
    shuffle: bool = Field(False, description="Sweep the points in a seeded random order (spaces of ≤ 10 M points).")


class EvolutionSettings(ControllerSettings):
    owner: ClassVar[str] = "evolution"
    population_size: int = Field(20, ge=2, description="The most recent successful trials that form the population.")
    tournament_size: int = Field(5, ge=1, description="Members sampled per tournament; the best is mutated.")

    @model_validator(mode="after")
    def _tournament_fits(self) -> Self:
        if self.tournament_size > self.population_size:
            raise ValueError(f"tournamentSize ({self.tournament_size}) must not exceed populationSize "
                             f"({self.population_size})")
        return self


class ReinforceSettings(ControllerSettings):
    owner: ClassVar[str] = "reinforce"
    learning_rate: float = Field(0.2, gt=0, description="Policy-gradient step size.")
    baseline_decay: float = Field(0.9, ge=0, lt=1, description="Decay of the reward's moving-average baseline.")
    entropy_weight: float = Field(0.01, ge=0, description="Weight of the entropy bonus (keeps exploring).")


class BayesOptSettings(ControllerSettings):
    owner: ClassVar[str] = "bayesopt"
    initial_trials: int = Field(10, ge=2, description="Random trials before the model proposes.")
    candidates: int = Field(2000, ge=1, description="Random candidates scored per proposal when the space is not scored whole.")
    enumerate_limit: int = Field(50_000, ge=0, description="Spaces of at most this many points have every unseen point scored.")
    refit_every: int = Field(1, ge=1, description="Trials between kernel hyper-parameter fits (up to modelTrials trials).")
    model_trials: int = Field(160, ge=4, description="Most trials each GP is conditioned on (bounds the cost of a pass).")
    warp: bool = Field(True, description="Rank-warp the objective to normal quantiles.")


# By the name in `search.algorithm`.
SETTINGS: dict[str, type[ControllerSettings]] = {
    model.owner: model for model in (RandomSettings, GridSettings, EvolutionSettings, ReinforceSettings,
                                     BayesOptSettings)}
