"""The NAS-Bench-201 cell space: 6 edges of a 4-node cell, each one of 5 operations (5^6 = 15,625)."""
from __future__ import annotations

from typing import Any

import numpy as np

OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Edges in NB201 order: (to_node, from_node): 1<-0; 2<-0, 2<-1; 3<-0, 3<-1, 3<-2.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def canonical(points: np.ndarray) -> np.ndarray:
    """Each cell (rows of operation indices, in EDGES order) with its dead edges set to ``none``.

    An edge is dead when its source node gets no input (every path from node 0 to it has a ``none``)
    or its target node reaches no output: it computes nothing the cell returns. Cells that differ only
    on dead edges compute the same function, so they map to the same row (15,625 cells, 9,445 rows).
    """
    points = np.asarray(points, dtype=np.int64).reshape(-1, len(EDGES))
    active = points != OPERATIONS.index("none")
    column = {edge: i for i, edge in enumerate(EDGES)}
    fed = [np.ones(len(points), dtype=bool)]  # fed[n]: node n receives the cell's input
    for node in (1, 2, 3):
        fed.append(np.logical_or.reduce([active[:, column[node, src]] & fed[src] for src in range(node)]))
    used = {3: np.ones(len(points), dtype=bool)}  # used[n]: node n reaches the output
    for node in (2, 1, 0):
        used[node] = np.logical_or.reduce([active[:, column[to, node]] & used[to] for to in range(node + 1, 4)])
    live = np.stack([active[:, i] & fed[src] & used[to] for i, (to, src) in enumerate(EDGES)], axis=1)
    return np.where(live, points, OPERATIONS.index("none"))


def space() -> Any:
    import pyglove as pg  # noqa: PLC0415 - trainers read arch strings without PyGlove

    return pg.Dict(edges=pg.List([pg.oneof(OPERATIONS, name=f"edge_{to}_{src}") for to, src in EDGES]))


def to_arch_string(arch: dict[str, Any]) -> str:
    """The NB201 string, e.g. ``|nor_conv_3x3~0|+|...~0|...~1|+|...|``."""
    ops = arch["edges"]
    if len(ops) != len(EDGES) or any(op not in OPERATIONS for op in ops):
        raise ValueError(f"not an NB201 cell: {ops!r}")
    nodes = []
    for node in (1, 2, 3):
        cells = [f"{ops[i]}~{src}" for i, (to, src) in enumerate(EDGES) if to == node]
        nodes.append("|" + "|".join(cells) + "|")
    return "+".join(nodes)


def from_arch_string(text: str) -> dict[str, Any]:
    ops = [cell.split("~")[0] for node in text.split("+") for cell in node.strip("|").split("|")]
    arch = {"edges": ops}
    to_arch_string(arch)  # validates
    return arch
