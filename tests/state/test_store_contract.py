"""One behaviour contract, two implementations: the local directory store and the GCS store.

The GCS store runs against a real GCS-API server on loopback (fake-gcs-server), which enforces
``ifGenerationMatch`` on uploads, so compare-and-swap and locking are tested for real.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from state.store import LOCK_KEY, CorruptState, LockHeld, PreconditionFailed, StateStore
from tests.state.conftest import RawWriter


def test_absent_key_reads_as_none(store: StateStore) -> None:
    assert store.get("experiment.json") is None
    assert store.list() == []


def test_create_only_put_succeeds_once(store: StateStore) -> None:
    first = store.put("experiment.json", {"phase": "Pending"}, if_generation=0)
    with pytest.raises(PreconditionFailed) as info:
        store.put("experiment.json", {"phase": "Running"}, if_generation=0)
    assert info.value.actual == first
    got = store.get("experiment.json")
    assert got is not None and got.data == {"phase": "Pending"} and got.generation == first


def test_compare_and_swap_accepts_current_and_rejects_stale(store: StateStore) -> None:
    g1 = store.put("trials.json", {"n": 1}, if_generation=0)
    g2 = store.put("trials.json", {"n": 2}, if_generation=g1)
    assert g2 != g1
    with pytest.raises(PreconditionFailed) as info:
        store.put("trials.json", {"n": 3}, if_generation=g1)
    assert (info.value.expected, info.value.actual) == (g1, g2)
    got = store.get("trials.json")
    assert got is not None and (got.data, got.generation) == ({"n": 2}, g2)


def test_unconditional_put_overwrites(store: StateStore) -> None:
    g1 = store.put("a.json", {"v": 1})
    g2 = store.put("a.json", {"v": 2})
    got = store.get("a.json")
    assert g1 != g2 and got is not None and got.data == {"v": 2} and got.generation == g2


def test_list_filters_by_prefix_and_sorts(store: StateStore) -> None:
    for key in ("trials/b.json", "experiment.json", "trials/a.json", "plots/x.json"):
        store.put(key, {"k": key})
    assert store.list("trials/") == ["trials/a.json", "trials/b.json"]
    assert store.list() == ["experiment.json", "plots/x.json", "trials/a.json", "trials/b.json"]


def test_delete_honours_generation(store: StateStore) -> None:
    store.delete("never-written.json")  # absent: no error
    g1 = store.put("doomed.json", {"x": 1})
    with pytest.raises(PreconditionFailed):
        store.delete("doomed.json", if_generation=g1 + 1)
    assert store.get("doomed.json") is not None
    store.delete("doomed.json", if_generation=g1)
    assert store.get("doomed.json") is None


def test_corrupt_object_names_itself(backend: tuple[Callable[[], StateStore], RawWriter]) -> None:
    make_store, write_raw = backend
    write_raw("trials.json", b"{not json")
    with pytest.raises(CorruptState) as info:
        make_store().get("trials.json")
    assert "trials.json" in str(info.value) and "exp" in info.value.location


@pytest.mark.parametrize("raw", [b"[1]", b'"text"', b"null"])
def test_a_json_document_of_another_shape_is_corrupt_too(backend: tuple[Callable[[], StateStore], RawWriter],
                                                         raw: bytes) -> None:
    make_store, write_raw = backend
    write_raw("trials.json", raw)
    with pytest.raises(CorruptState) as info:
        make_store().get("trials.json")
    assert "trials.json" in info.value.location


@pytest.mark.parametrize("key", ["/etc/passwd", "../other/experiment.json", "trials/../../x.json"])
def test_a_key_outside_the_experiment_is_refused(store: StateStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid state key"):
        store.get(key)
    with pytest.raises(ValueError, match="invalid state key"):
        store.put(key, {"v": 1})


def test_corrupt_lock_names_itself(backend: tuple[Callable[[], StateStore], RawWriter]) -> None:
    make_store, write_raw = backend
    write_raw(LOCK_KEY, b'{"holder": "x"}')
    with pytest.raises(CorruptState) as info:
        make_store().read_lock()
    assert LOCK_KEY in info.value.location


def test_lock_is_exclusive_and_says_who_holds_it(backend: tuple[Callable[[], StateStore], RawWriter]) -> None:
    make_store = backend[0]
    lease = make_store().acquire_lock("alice:1", lease_seconds=60)
    with pytest.raises(LockHeld) as info:
        make_store().acquire_lock("bob:2", lease_seconds=60)
    assert info.value.lease.holder == "alice:1"
    assert info.value.lease.expires_at == pytest.approx(lease.expires_at, abs=1e-3)
    assert "alice:1 until" in str(info.value)
    current = make_store().read_lock()
    assert current is not None and current.holder == "alice:1"


def test_renew_extends_and_release_frees(store: StateStore) -> None:
    lease = store.acquire_lock("alice:1", lease_seconds=5)
    renewed = store.renew_lock(lease, lease_seconds=120)
    assert renewed.expires_at > lease.expires_at + 100
    store.release_lock(renewed)
    assert store.read_lock() is None
    assert store.acquire_lock("bob:2").holder == "bob:2"


def test_expired_lease_is_taken_over_and_old_holder_loses_it(
    backend: tuple[Callable[[], StateStore], RawWriter],
) -> None:
    make_store = backend[0]
    old = make_store().acquire_lock("alice:1", lease_seconds=0.2)
    time.sleep(0.3)
    new = make_store().acquire_lock("bob:2", lease_seconds=60)
    assert new.holder == "bob:2"
    with pytest.raises(LockHeld):
        make_store().renew_lock(old)
    make_store().release_lock(old)  # a no-op: bob keeps the lock
    current = make_store().read_lock()
    assert current is not None and current.holder == "bob:2"


def test_force_unlock_removes_any_holder(store: StateStore) -> None:
    assert store.force_unlock() is None
    assert store.list() == [] and (store.local_root is None or not store.local_root.exists()), "writes nothing"
    store.acquire_lock("alice:1", lease_seconds=600)
    removed = store.force_unlock()
    assert removed is not None and removed.holder == "alice:1"
    assert store.read_lock() is None


def test_locked_context_releases_on_error(store: StateStore) -> None:
    with pytest.raises(RuntimeError):
        with store.locked("alice:1"):
            assert store.read_lock() is not None
            raise RuntimeError("boom")
    assert store.read_lock() is None


def test_lock_race_has_exactly_one_winner(backend: tuple[Callable[[], StateStore], RawWriter]) -> None:
    make_store = backend[0]
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def contend(i: int) -> None:
        store = make_store()
        barrier.wait()
        try:
            store.acquire_lock(f"worker:{i}", lease_seconds=60)
            outcomes.append("won")
        except LockHeld:
            outcomes.append("held")
        except Exception as exc:  # noqa: BLE001 - recorded so the assertion shows it
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held"] * 7 + ["won"]


def test_concurrent_compare_and_swap_loses_no_update(backend: tuple[Callable[[], StateStore], RawWriter]) -> None:
    make_store = backend[0]
    make_store().put("counter.json", {"n": 0}, if_generation=0)

    def increment() -> None:
        store = make_store()
        while True:
            current = store.get("counter.json")
            assert current is not None
            try:
                store.put("counter.json", {"n": current.data["n"] + 1}, if_generation=current.generation)
                return
            except PreconditionFailed:
                continue

    threads = [threading.Thread(target=increment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = make_store().get("counter.json")
    assert final is not None and final.data == {"n": 8}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["current", "stale", "create", "none"]), st.integers(0, 99)),
                    min_size=1, max_size=8))
def test_store_matches_a_model_under_any_put_sequence(store: StateStore, ops: list[tuple[str, int]]) -> None:
    """Every put either applies (and the model applies it) or raises PreconditionFailed (and nothing changes)."""
    key = f"prop/{uuid.uuid4().hex}.json"
    model: dict | None = None
    generation = 0
    seen: set[int] = set()
    for kind, value in ops:
        expected = {"current": generation, "stale": generation + 7, "create": 0, "none": None}[kind]
        should_apply = expected is None or expected == generation
        try:
            generation = store.put(key, {"v": value}, if_generation=expected)
            assert should_apply
            assert generation not in seen
            seen.add(generation)
            model = {"v": value}
        except PreconditionFailed:
            assert not should_apply
        got = store.get(key)
        if got is None:
            assert model is None
        else:
            assert (got.data, got.generation) == (model, generation)
