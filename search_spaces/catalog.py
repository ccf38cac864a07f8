"""The prebuilt search spaces, for `nasctl spaces`: name, size, description, and samples."""
from __future__ import annotations

import importlib
import random
from typing import Any

from search_spaces.registry import PREBUILT_SPACES, build_search_space
from specs.model import SearchSpaceSpec


def _build(name: str) -> Any:
    """The prebuilt space `name` as the reconciler builds it, and the module that defines it."""
    space = build_search_space(SearchSpaceSpec(prebuilt=name))  # a clear error for an unknown name
    return space, importlib.import_module(PREBUILT_SPACES[name].partition(":")[0])


def list_spaces() -> list[dict[str, Any]]:
    """Every prebuilt space with its default arguments: name, size (architectures), description."""
    rows = []
    for name in sorted(PREBUILT_SPACES):
        space, module = _build(name)
        description = (module.__doc__ or "").strip().split("\n")[0]
        rows.append({"name": name, "size": space.size, "description": description})
    return rows


def sample(name: str, n: int, seed: int = 0) -> list[Any]:
    """`n` random architectures of a prebuilt space (materialised as plain JSON), distinct while possible."""
    if n < 1:
        raise ValueError(f"sample size must be ≥ 1, got {n}")
    space, _ = _build(name)
    rng = random.Random(seed)
    chosen: dict[tuple[Any, ...], Any] = {}
    for _ in range(20 * n):
        if len(chosen) == min(n, space.size):
            break
        dna = space.random_dna(rng)
        chosen.setdefault(space.numbers(dna), dna)
    picks = list(chosen.values())
    while len(picks) < n:
        picks.append(space.random_dna(rng))
    return [space.materialize(dna) for dna in picks]
