"""Trial records from a NasJob's trial details: the architecture Vertex proposed, decoded once per trial."""
from __future__ import annotations

import json
import random
from dataclasses import replace

import pyglove as pg

from backends.vertex.nas_search import NasSearchStatus, NasTrialView, trial_records
from search_spaces.registry import build_search_space
from specs.model import SearchSpaceSpec
from state.records import SEARCH, SUCCEEDED

JOB = "projects/p/locations/us-central1/nasJobs/1"
SPACE = build_search_space(SearchSpaceSpec(prebuilt="nb201"))


def _views(count: int) -> list[NasTrialView]:
    rng = random.Random(0)
    views = []
    for index in range(count):
        dna = SPACE.random_dna(rng)
        dna.use_spec(SPACE.dna_spec)
        views.append(NasTrialView(f"search-{index:04d}", SEARCH, SUCCEEDED, 0.5,
                                  json.dumps(dna.parameters(use_literal_values=True)), 1.0, 2.0))
    return views


def _status(views: list[NasTrialView]) -> NasSearchStatus:
    return NasSearchStatus(JOB, "JOB_STATE_RUNNING", [JOB], trials=views)


def test_records_hold_the_architecture_vertex_proposed() -> None:
    views = _views(5)
    for view, record in zip(views, trial_records(_status(views), SPACE)):
        dna = pg.DNA.from_parameters(json.loads(view.parameters), SPACE.dna_spec)
        assert record.dna == list(SPACE.numbers(dna)) and record.arch == SPACE.materialize(dna)
        assert record.backend_ref["nas_job"] == JOB


def test_a_recorded_trial_keeps_its_decoding_and_changed_parameters_are_decoded_again() -> None:
    views = _views(4)
    first = trial_records(_status(views), SPACE)
    marked = {r.id: replace(r, arch={"marker": r.id}) for r in first}  # what only a reuse can return
    again = trial_records(_status(views), SPACE, marked)
    assert [r.arch for r in again] == [{"marker": r.id} for r in first]
    assert [r.dna for r in again] == [r.dna for r in first]

    moved = [replace(views[0], parameters=views[1].parameters)]  # same id, another architecture
    (redone,) = trial_records(_status(moved), SPACE, marked)
    assert (redone.dna, redone.arch) == (first[1].dna, first[1].arch)
    legacy = {r.id: replace(r, backend_ref={"nas_job": JOB}) for r in first}  # recorded before the digest
    assert [r.arch for r in trial_records(_status(views), SPACE, legacy)] == [r.arch for r in first]
