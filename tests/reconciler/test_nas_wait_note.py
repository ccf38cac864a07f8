"""A NasJob trial Vertex requested and has not started is noted once it has waited for quota, and only once."""
from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from reconciler.nas_job import REQUESTED_AT, wait_noted
from reconciler.plan import QUOTA_NOTE, QUOTA_WAIT_SECONDS
from state.records import PENDING, RUNNING, TrialRecord

T0 = 1_800_000_000.0


def _requested(parameters: str = "a") -> TrialRecord:
    return TrialRecord(id="search-0002", stage="search", index=2, dna=[], arch=None, status=PENDING,
                       backend_ref={"nas_job": "projects/p/locations/r/nasJobs/1", "parameters": parameters})


def test_the_note_comes_after_the_wait_and_stays_the_same() -> None:
    first = wait_noted(_requested(), None, T0)
    assert first.backend_ref[REQUESTED_AT] == T0 and first.message == ""
    brief = wait_noted(_requested(), first, T0 + QUOTA_WAIT_SECONDS - 1)
    assert brief.message == "" and brief.backend_ref[REQUESTED_AT] == T0
    noted = wait_noted(_requested(), brief, T0 + QUOTA_WAIT_SECONDS)
    assert noted.message.startswith(f"{QUOTA_NOTE}: Vertex has not started it since ")
    assert wait_noted(_requested(), noted, T0 + 5 * QUOTA_WAIT_SECONDS) == noted  # nothing to write on later passes


def test_another_architecture_under_the_id_or_a_started_trial_restarts_or_ends_the_wait() -> None:
    noted = wait_noted(_requested(), wait_noted(_requested(), None, T0), T0 + QUOTA_WAIT_SECONDS)
    renumbered = wait_noted(_requested("b"), noted, T0 + QUOTA_WAIT_SECONDS + 1)
    assert renumbered.message == "" and renumbered.backend_ref[REQUESTED_AT] == T0 + QUOTA_WAIT_SECONDS + 1
    started = replace(_requested(), status=RUNNING)
    assert wait_noted(started, noted, T0 + 2 * QUOTA_WAIT_SECONDS) is started


@given(waits=st.lists(st.floats(0, 2 * QUOTA_WAIT_SECONDS), min_size=1, max_size=8))
def test_a_trial_is_noted_exactly_when_it_has_waited_long_enough(waits: list[float]) -> None:
    record, now = wait_noted(_requested(), None, T0), T0
    for wait in waits:
        now += wait
        record = wait_noted(_requested(), record, now)
        assert record.message.startswith(QUOTA_NOTE) == (now - T0 >= QUOTA_WAIT_SECONDS)
