"""Trial records from a NasJob's trial details: the architecture Vertex proposed, decoded once per trial."""
from __future__ import annotations

import json
import random
from dataclasses import replace

import pyglove as pg
from hypothesis import assume, given
from hypothesis import strategies as st

from backends.vertex.nas_search import (
    NasJobsRecord, NasSearchStatus, NasTrialView, merged_trials, stop_reason, trial_records,
)
from search_spaces.registry import build_search_space
from specs.model import SearchSpaceSpec
from state.records import (
    FAILED, PENDING, REASON_DELETED, REASON_JOB_ENDED, REASON_JOB_TIME_LIMIT, REASON_MAX_TRIALS, RUNNING, SEARCH,
    SUCCEEDED, TRAIN,
)

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


def test_without_a_space_nothing_is_decoded_and_equal_parameters_share_a_key() -> None:
    """What `nasctl diff` builds: no user code runs, yet stage 2 can still tell architectures apart."""
    views = _views(3)
    recorded = {r.id: r for r in trial_records(_status(views[:2]), SPACE)}
    unreadable = replace(views[2], id="search-0009", parameters='{"not": "a dna"}')  # decoding it would raise
    twin = replace(views[0], id="train-0001")  # Vertex's stage 2 trains search-0000's architecture
    keys = trial_records(_status([*views, unreadable, twin]), None, recorded)
    by_id = {r.id: r for r in keys}
    assert by_id["train-0001"].dna == by_id["search-0000"].dna != by_id["search-0001"].dna
    assert len({tuple(r.dna) for r in keys}) == 4
    assert [by_id[i].arch for i in recorded] == [r.arch for r in recorded.values()]  # recorded: kept for display
    assert by_id["search-0002"].arch is None and by_id["search-0009"].arch is None


def test_a_trial_stopped_from_outside_is_told_from_its_own_failure() -> None:
    """`delete`, maxTrials and the job's end stop trials; Vertex may report those INFEASIBLE (failed) or, at the
    end of a job, leave them ACTIVE (not documented): either way they are stopped, not failures or running."""
    first, second = f"{JOB[:-1]}1", f"{JOB[:-1]}2"
    record = NasJobsRecord(jobs=[first, second], deleted_trials=["search-0001"], surplus_trials=["search-0002"])
    limit_ends = {first: 1000.0}  # the first job ended at its 14-day limit

    def reason(status: str, job: str, finished_at: float | None = None, trial: str = "search-0009") -> str | None:
        view = NasTrialView(trial, SEARCH, status, None, "{}", 1.0, finished_at, job=job)
        return stop_reason(view, record, ended={first, second}, limit_ends=limit_ends)

    assert reason(FAILED, second, trial="search-0001") == REASON_DELETED
    assert reason(RUNNING, second, trial="search-0002") == REASON_MAX_TRIALS
    assert reason(FAILED, first, finished_at=990.0) == REASON_JOB_TIME_LIMIT
    assert reason(FAILED, first, finished_at=500.0) is None  # failed on its own, long before the limit
    assert reason(RUNNING, first) == REASON_JOB_TIME_LIMIT and reason(PENDING, first) == REASON_JOB_TIME_LIMIT
    assert reason(RUNNING, second) == REASON_JOB_ENDED
    assert reason(SUCCEEDED, first, finished_at=999.0) is None
    live = NasTrialView("search-0009", SEARCH, RUNNING, None, "{}", 1.0, None, job="projects/p/nasJobs/3")
    assert stop_reason(live, record, ended={first, second}, limit_ends=limit_ends) is None  # its job still runs


def _job_listing(job: str, numbers: list[int], architectures: list[str]) -> list[NasTrialView]:
    return [NasTrialView(f"{stage}-{n:04d}", stage, SUCCEEDED, 0.5, arch, 1.0, 2.0, job=job,
                         folder=f"{job}/{stage}-{n:04d}")
            for n, arch in zip(numbers, architectures) for stage in ((SEARCH, TRAIN) if n % 3 == 0 else (SEARCH,))]


@given(first=st.integers(1, 12), later=st.integers(1, 12), restart=st.booleans(), seed=st.integers(0, 99))
def test_a_resumed_job_never_takes_an_earlier_trials_id(first: int, later: int, restart: bool, seed: int) -> None:
    """Whether the resumed job lists the first job's trials and numbers its own after them, or lists only its own
    numbered from 1 again (the service's way is not documented), every trial keeps one id of its own: the first
    job's keep theirs, the resumed job's come after them, a search trial and its train trial share a number."""
    rng = random.Random(seed)
    old = [f"arch-{rng.randrange(5)}" for _ in range(first)]  # architectures repeat, as in a small space
    new = [f"arch-{rng.randrange(5)}" for _ in range(later)]
    # a resumed job whose every trial repeats the architecture under its id cannot be told from a listing of
    # the first job's trials (merged_trials' docstring): nothing tells it numbers from 1 again
    assume(not restart or old[:later] != new[:first])
    one, two = f"{JOB[:-1]}1", f"{JOB[:-1]}2"
    earlier = _job_listing(one, list(range(1, first + 1)), old)
    if restart:
        resumed = _job_listing(two, list(range(1, later + 1)), new)
    else:  # it lists the first job's trials (as they ran there) and numbers its own after them
        resumed = [replace(v, job=two, folder=f"{two}/{v.id}") for v in earlier] + _job_listing(
            two, list(range(first + 1, first + later + 1)), new)
    merged = merged_trials([earlier, resumed])
    by_id = {view.id: view for view in merged}
    assert len(by_id) == len(merged) == len(earlier) + len(resumed) - (0 if restart else len(earlier))
    assert all(by_id[v.id].parameters == v.parameters and by_id[v.id].folder == v.folder for v in earlier)
    own = [view for view in merged if view.id not in {v.id for v in earlier}]
    assert sorted(view.parameters for view in own if view.stage == SEARCH) == sorted(new)
    assert all(int(view.id[-4:]) > first for view in own)
    assert {int(v.id[-4:]) for v in own if v.stage == TRAIN} <= {int(v.id[-4:]) for v in own if v.stage == SEARCH}
    assert all(view.folder.startswith(two) for view in own), "each trial is read from the folder it ran in"
