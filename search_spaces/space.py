"""A search space: a PyGlove hyper value plus the conversions nasctl needs.

An architecture is a PyGlove DNA. In state it is recorded as its numbers (``dna.to_numbers()``)
next to its materialised value as plain JSON, so a trial needs no PyGlove to read it.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import numpy as np
import pyglove as pg

DNANumbers = tuple[Any, ...]


Canonicalizer = Callable[[np.ndarray], np.ndarray]


class SearchSpace:
    """`canonical`, where the space has one, maps rows of DNA numbers to one representative per set of
    architectures that compute the same function (e.g. NB201 cells differing only on dead edges)."""

    def __init__(self, name: str, hyper: Any, canonical: Canonicalizer | None = None):
        self.name = name
        self.hyper = hyper
        self.dna_spec = pg.dna_spec(hyper)
        self.canonical = canonical

    @property
    def size(self) -> int:
        return self.dna_spec.space_size

    @property
    def decision_points(self) -> list[Any]:
        """The leaf decisions (one per oneof), in DNA order."""
        return list(self.dna_spec.decision_points)

    def dna(self, numbers: Sequence[Any]) -> pg.DNA:
        return pg.DNA.from_numbers(list(numbers), self.dna_spec)

    @staticmethod
    def numbers(dna: pg.DNA) -> DNANumbers:
        return tuple(dna.to_numbers())

    def random_dna(self, rng: random.Random) -> pg.DNA:
        return pg.random_dna(self.dna_spec, random_generator=rng)

    def materialize(self, dna: pg.DNA) -> Any:
        """The architecture as plain JSON (what a trainer receives)."""
        return pg.to_json(pg.materialize(self.hyper, dna))

    def to_json_str(self) -> str:
        """The space's DNA spec, serialised as Vertex takes ``search_space_spec`` (google/vertex-ai-nas
        ``vertex_nas_cli.py``: ``pg.search_space(space).to_json_str(hide_default_values=True)``); the
        service's controller samples DNA from it, and trial DNA decodes against :attr:`dna_spec`."""
        return self.dna_spec.to_json_str(hide_default_values=True)
