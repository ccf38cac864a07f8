"""NB201's canonical cell: dead edges read as `none`, so cells that compute the same function are one row."""
from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from search_spaces.nb201 import EDGES, OPERATIONS, canonical, from_arch_string
from search_spaces.registry import build_search_space
from specs.model import SearchSpaceSpec

CELLS = st.lists(st.integers(0, len(OPERATIONS) - 1), min_size=len(EDGES), max_size=len(EDGES))


def _row(arch: str) -> list[int]:
    return [OPERATIONS.index(op) for op in from_arch_string(arch)["edges"]]


def test_edges_into_a_node_that_reaches_no_output_are_dead() -> None:
    # node 2 feeds nothing (3<-2 is none): its two inputs compute nothing the cell returns
    cell = _row("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    same = _row("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    assert canonical([cell]).tolist() == [same] == canonical([same]).tolist()


def test_edges_out_of_a_node_that_gets_no_input_are_dead() -> None:
    # node 1 gets nothing (1<-0 is none): 2<-1 and 3<-1 carry nothing
    cell = _row("|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    assert canonical([cell]).tolist() == [_row("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")]


def test_a_cell_whose_every_edge_is_live_is_its_own_canonical_form() -> None:
    cell = _row("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    assert canonical([cell]).tolist() == [cell]


@given(CELLS)
def test_canonical_form_is_a_fixed_point_and_only_clears_edges(cell: list[int]) -> None:
    form = canonical([cell])[0]
    assert canonical([form]).tolist() == [form.tolist()]
    assert all(f in (c, 0) for f, c in zip(form.tolist(), cell))


@given(CELLS, st.integers(0, len(EDGES) - 1), st.integers(0, len(OPERATIONS) - 1))
def test_changing_a_dead_edge_does_not_change_the_form(cell: list[int], edge: int, op: int) -> None:
    form = canonical([cell])[0]
    if form[edge] == 0 and cell[edge] != 0:  # a dead edge: any operation on it gives the same form
        changed = list(cell)
        changed[edge] = op
        if op != 0:
            assert canonical([changed]).tolist() == [form.tolist()]


def test_the_whole_space_has_9445_distinct_cells_and_the_prebuilt_space_carries_the_form() -> None:
    every = np.array(list(itertools.product(range(len(OPERATIONS)), repeat=len(EDGES))))
    assert len({tuple(row) for row in canonical(every).tolist()}) == 9445
    assert build_search_space(SearchSpaceSpec(prebuilt="nb201")).canonical is canonical
    assert build_search_space(SearchSpaceSpec(prebuilt="mnasnet")).canonical is None
