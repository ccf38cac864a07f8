"""Flat categorical view of a search space: one integer per `pg.oneof` decision, in DNA order.

The grid, evolution, reinforce and Bayesian controllers work on this view. Spaces with nested choices,
`manyof` or continuous values are rejected with a clear error rather than searched wrongly.
"""
from __future__ import annotations

import random
from typing import Iterable, Iterator, Sequence

import numpy as np

from search_spaces.space import DNANumbers, SearchSpace


class UnsupportedSpaceError(ValueError):
    """The controller needs a space made only of flat `pg.oneof` decisions."""


def cardinalities(space: SearchSpace, algorithm: str) -> tuple[int, ...]:
    """Number of candidates of each decision, or an error naming the first unsupported one."""
    import pyglove as pg  # noqa: PLC0415 - controllers are only built when a search runs

    sizes = []
    for point in space.decision_points:
        flat = (
            isinstance(point, pg.geno.Choices)
            and point.num_choices == 1
            and point.subchoice_index is None
            and all(not candidate.elements for candidate in point.candidates)
        )
        if not flat:
            raise UnsupportedSpaceError(
                f"{algorithm}: decision {point.id!s} is not a flat pg.oneof "
                "(nested choices, manyof and floatv are not supported by this algorithm; algorithm random "
                "searches them)"
            )
        sizes.append(len(point.candidates))
    return tuple(sizes)


def random_point(sizes: Sequence[int], rng: random.Random) -> DNANumbers:
    return tuple(rng.randrange(size) for size in sizes)


def mutate(point: DNANumbers, sizes: Sequence[int], rng: random.Random) -> DNANumbers:
    """Change one decision (that has an alternative) to a different value, uniformly."""
    mutable = [d for d, size in enumerate(sizes) if size > 1]
    if not mutable:
        return point
    d = rng.choice(mutable)
    value = rng.randrange(sizes[d] - 1)
    value += value >= point[d]
    return point[:d] + (value,) + point[d + 1 :]


def neighbours(point: DNANumbers, sizes: Sequence[int]) -> Iterator[DNANumbers]:
    """Every point at Hamming distance 1."""
    for d, size in enumerate(sizes):
        for value in range(size):
            if value != point[d]:
                yield point[:d] + (value,) + point[d + 1 :]


def enumerate_points(sizes: Sequence[int]) -> np.ndarray:
    """All points as an (N, D) integer array, in mixed-radix order (last decision fastest)."""
    grids = np.meshgrid(*[np.arange(size) for size in sizes], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


def point_at(rank: int, sizes: Sequence[int]) -> DNANumbers:
    """The `rank`-th point in mixed-radix order (the order of :func:`enumerate_points`)."""
    digits = []
    for size in reversed(sizes):
        rank, digit = divmod(rank, size)
        digits.append(digit)
    return tuple(reversed(digits))


def rank_of(point: DNANumbers, sizes: Sequence[int]) -> int:
    """The inverse of :func:`point_at`."""
    rank = 0
    for digit, size in zip(point, sizes):
        rank = rank * size + int(digit)
    return rank


def unseen_random(sizes: Sequence[int], rng: random.Random, seen: set[DNANumbers]) -> DNANumbers:
    """A uniformly random point not in `seen` (see :func:`unseen_redraw`)."""
    return unseen_redraw(iter(lambda: random_point(sizes, rng), None), seen)


def unseen_redraw(draw: Iterable[DNANumbers], seen: set[DNANumbers], attempts: int = 100) -> DNANumbers:
    """The first drawn point not in `seen`, or the last one drawn after `attempts` tries."""
    candidate: DNANumbers = ()
    for _, candidate in zip(range(attempts), draw):
        if candidate not in seen:
            return candidate
    return candidate
