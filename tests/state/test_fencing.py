"""Fenced writes: a holder whose lock was taken over (its lease lapsed while it was stalled, or a human
force-unlocked it) cannot write state any more; local directory store and GCS store (fake GCS server)."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from state.records import TrialRecord
from state.snapshot import load_state, save_experiment, save_trials
from state.store import LockLost, StateStore
from tests.state.conftest import RawWriter

Backend = tuple[Callable[[], StateStore], RawWriter]


A_BEFORE, A_AFTER, B, A_LATE = 0, 1, 2, 3  # trial indices, by who records them and when


def _record_trial(store: StateStore, index: int) -> None:
    """What a pass does: read the state, add a trial, write it back (compare-and-swap)."""
    state = load_state(store, "exp", "g1")
    state.add([TrialRecord(id=f"search-{index:04d}", stage="search", index=index, arch={}, dna=[0])])
    if not state.experiment_generation:  # as apply does: the experiment before its first trial
        save_experiment(store, state)
    save_trials(store, state)


def _recorded(store: StateStore) -> list[int]:
    return sorted(t.index for t in load_state(store, "exp", "g1").trials.values())


def test_a_deposed_holder_cannot_write_and_state_holds_the_new_holders_writes_only(backend: Backend) -> None:
    holder_a, holder_b = backend[0](), backend[0]()
    with holder_a.locked("apply-a", lease_seconds=0.4) as lock_a:
        _record_trial(holder_a, A_BEFORE)
        lock_a.stop_heartbeat()  # apply A stalls: nothing renews its lease
        time.sleep(0.6)
        with holder_b.locked("apply-b", lease_seconds=30):  # the lease lapsed: B takes over
            # A wakes up and runs its next pass: it reads the state afresh, so compare-and-swap alone
            # would let this write through; the fence refuses it
            with pytest.raises(LockLost, match="apply-a was taken over by apply-b"):
                _record_trial(holder_a, A_AFTER)
            _record_trial(holder_b, B)
            with pytest.raises(LockLost):
                holder_a.put_artifact("search/state.json", b"{}")
            with pytest.raises(LockLost):
                holder_a.delete("trials.json")
            with pytest.raises(LockLost):
                _record_trial(holder_a, A_LATE)
            assert holder_a.get_artifact("search/state.json") is None
            assert holder_b.read_lock().holder == "apply-b"  # A's release left B's lock alone ...
    assert _recorded(holder_b) == [A_BEFORE, B]  # ... and the state holds B's writes only
    assert holder_b.read_lock() is None


def test_a_force_unlocked_holder_cannot_write(backend: Backend) -> None:
    holder, human = backend[0](), backend[0]()
    with holder.locked("apply-a", lease_seconds=30):
        human.force_unlock()
        with pytest.raises(LockLost, match="force-unlocked"):
            _record_trial(holder, A_AFTER)
    assert human.get("trials.json") is None


def test_renewals_keep_the_fencing_token_and_writes_go_through(backend: Backend) -> None:
    store = backend[0]()
    with store.locked("apply-a", lease_seconds=0.4) as lock:
        first = lock.lease
        time.sleep(0.5)  # a few heartbeat renewals
        assert lock.lease.expires_at > first.expires_at and lock.lease.token == first.token
        _record_trial(store, A_BEFORE)
    assert _recorded(store) == [A_BEFORE]


def test_writes_outside_a_lock_are_not_fenced(backend: Backend) -> None:
    """Trial-side writers (e.g. latency workers) hold no lock; someone else's lock does not block them."""
    writer, holder = backend[0](), backend[0]()
    holder.acquire_lock("apply-b", lease_seconds=30)
    writer.put("latency-claims/t.json", {"worker": "w"}, if_generation=0)
    assert writer.get("latency-claims/t.json").data == {"worker": "w"}


def test_gcs_fencing_tokens_grow_with_each_acquisition(gcs_bucket: str) -> None:
    from state.gcs import GcsStore

    store = GcsStore(f"gs://{gcs_bucket}/state/exp")
    first = store.acquire_lock("apply-a", lease_seconds=0.01)
    renewed = store.renew_lock(first, lease_seconds=0.01)
    time.sleep(0.05)
    taken_over = store.acquire_lock("apply-b", lease_seconds=30)
    assert renewed.token == first.token and renewed.generation > first.generation
    assert int(taken_over.token) > int(renewed.generation) > int(first.token)
