"""Search algorithms by name. Names and settings are checked without importing PyGlove."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adaptors.keyword_args import Location
from reconciler.controllers.settings import SETTINGS
from specs.model import VERTEX_ALGORITHMS

if TYPE_CHECKING:  # the controllers import PyGlove: names and settings are checked without it
    from reconciler.controllers.base import Controller
    from search_spaces.space import SearchSpace
    from specs.model import RewardSpec

ALGORITHMS: dict[str, str] = {
    "random": "reconciler.controllers.random_search:RandomSearch",
    "grid": "reconciler.controllers.grid_search:GridSearch",
    "evolution": "reconciler.controllers.evolution:RegularizedEvolution",
    "reinforce": "reconciler.controllers.reinforce:Reinforce",
    "bayesopt": "reconciler.controllers.bayesopt:BayesOpt",
}


def check_algorithm(name: str) -> str | None:
    if name not in ALGORITHMS and name not in VERTEX_ALGORITHMS:  # Vertex's own run inside a NasJob
        return f"unknown search algorithm {name!r}; expected one of {sorted(ALGORITHMS) + list(VERTEX_ALGORITHMS)}"
    return None


def check_algorithm_settings(name: str, settings: dict[str, Any]) -> list[tuple[Location, str]]:
    """(location under `algorithmSettings`, problem) for each setting the algorithm does not take or refuses
    the value of (otherwise known only when `apply` builds the controller)."""
    if not settings or check_algorithm(name):
        return []
    if name in VERTEX_ALGORITHMS:
        return [((key,), f"{name} is Vertex AI NAS's own controller and takes no algorithmSettings")
                for key in settings]
    return SETTINGS[name].problems(settings)


def make_controller(name: str, space: SearchSpace, seed: int, settings: dict[str, Any],
                    reward: RewardSpec | None = None) -> Controller:
    """A controller for `space`; `reward` (the spec's RewardSpec) lets it aim at latency/memory targets."""
    message = check_algorithm(name)
    if message:
        raise ValueError(message)
    if name in VERTEX_ALGORITHMS:
        raise ValueError(f"{name} is Vertex AI NAS's own controller: it runs inside a Vertex NasJob "
                         "(backends.vertex.nas_search), not in the reconciler")
    module_name, _, class_name = ALGORITHMS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(space, seed, reward=reward, **settings)
