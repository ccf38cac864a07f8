"""Search algorithms by name. Names are checked without importing PyGlove."""
from __future__ import annotations

import importlib
from typing import Any

ALGORITHMS: dict[str, str] = {
    "random": "reconciler.controllers.random_search:RandomSearch",
}


def check_algorithm(name: str) -> str | None:
    if name not in ALGORITHMS:
        return f"unknown search algorithm {name!r}; expected one of {sorted(ALGORITHMS)}"
    return None


def make_controller(name: str, space: Any, seed: int, settings: dict[str, Any]) -> Any:
    message = check_algorithm(name)
    if message:
        raise ValueError(message)
    module_name, _, class_name = ALGORITHMS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(space, seed, **settings)
