"""The lock lease outlasts the poll interval and a heartbeat renews it whatever the reconcile loop does;
a renewal whose answer was lost is not taken for a lost lock, and the heartbeat renews through a storage client
of its own (GCS store on the fake GCS server)."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from adaptors import gcp
from state.gcs import GcsStore
from state.store import DEFAULT_LEASE_SECONDS, LockHeld, lease_for_poll


def test_the_lease_is_well_above_the_poll_interval() -> None:
    assert lease_for_poll(60) >= 5 * 60 and lease_for_poll(0.2) == DEFAULT_LEASE_SECONDS


def test_the_heartbeat_renews_during_a_long_pass_and_a_taken_lock_is_reported(gcs_bucket) -> None:
    store = GcsStore(f"gs://{gcs_bucket}/state/exp")
    with store.locked("apply-1", lease_seconds=1.0) as lock:
        first = lock.lease
        time.sleep(2.5)  # a pass longer than the whole lease: no renew() call from the loop
        assert lock.lease.generation != first.generation and lock.lease.expires_at > time.time()
        with pytest.raises(LockHeld):
            store.acquire_lock("cron-apply", lease_seconds=1.0)  # never expired: the cron apply is refused
        lock.renew()
        store.force_unlock()  # a human takes the lock away
        store.acquire_lock("other", lease_seconds=30)
        time.sleep(0.6)
        with pytest.raises(LockHeld):
            lock.renew()  # the holder learns it lost the lock before its next pass writes


def test_a_renewal_that_landed_but_whose_answer_was_lost_keeps_the_lock(gcs_bucket, monkeypatch) -> None:
    store = GcsStore(f"gs://{gcs_bucket}/state/exp")
    lease = store.acquire_lock("apply-1", lease_seconds=30)
    write = store._write

    def landed_then_412(key, payload, if_generation):  # noqa: ANN001, ANN202
        write(key, payload, if_generation=if_generation)  # the write lands ...
        return write(key, payload, if_generation=if_generation)  # ... and its retry sees 412

    monkeypatch.setattr(store, "_write", landed_then_412)
    renewed = store.renew_lock(lease, lease_seconds=30)
    assert renewed.holder == "apply-1" and store.read_lock() == renewed


def test_a_renewal_that_landed_but_failed_for_the_caller_keeps_the_lock_on_the_next_beat(gcs_bucket, monkeypatch) -> None:
    """The whole call failed (e.g. the connection dropped after the write landed): the next renewal, made
    with the old generation, finds the lock still carrying this acquisition's token and keeps it."""
    store = GcsStore(f"gs://{gcs_bucket}/state/exp")
    lease = store.acquire_lock("apply-1", lease_seconds=30)
    write = store._write

    def landed_then_dropped(key, payload, if_generation):  # noqa: ANN001, ANN202
        write(key, payload, if_generation=if_generation)
        raise ConnectionError("connection reset after the write landed")

    monkeypatch.setattr(store, "_write", landed_then_dropped)
    with pytest.raises(ConnectionError):
        store.renew_lock(lease, lease_seconds=30)
    monkeypatch.undo()
    kept = store.renew_lock(lease, lease_seconds=30)  # the heartbeat's next beat, still with the old lease
    assert kept.token == lease.token and kept.generation > lease.generation and store.read_lock() == kept


def test_the_heartbeat_renews_through_a_client_the_reconcile_thread_never_uses(gcs_bucket, monkeypatch) -> None:
    """A storage client's HTTP session is not documented as thread-safe: the reconcile thread's client sees
    no request from the heartbeat thread (the library's own metadata thread may use it), and the renewals
    travel on another client."""
    requests: list[tuple[int, str, str, str]] = []  # (client number, thread, method, url and body)
    make_client, made = gcp.storage_client, []

    def numbered_client():  # noqa: ANN202
        client, number = make_client(), len(made)
        made.append(client)

        def hook(response: Any, *args: Any, **kwargs: Any) -> None:
            request = response.request
            body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
            target = f"{request.url} {body[:2000].decode(errors='replace')}"  # an upload names its object in the body
            requests.append((number, threading.current_thread().name, request.method, target))

        client._http.hooks["response"].append(hook)  # noqa: SLF001 - the client's own requests session
        return client

    monkeypatch.setattr(gcp, "storage_client", numbered_client)
    store = GcsStore(f"gs://{gcs_bucket}/state/exp")
    with store.locked("apply-1", lease_seconds=0.4) as lock:  # a beat every 0.1 s
        first = lock.lease
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # the reconcile thread's own reads and fenced writes meanwhile
            store.put("trials.json", {"at": time.time()})
            assert store.get("trials.json") is not None
        renewed = lock.lease
    assert renewed.token == first.token and renewed.generation > first.generation  # renewed, same acquisition

    main = [thread for number, thread, _, _ in requests if number == 0]
    assert main and "nasctl-lock-heartbeat" not in main
    assert len(made) == 2, "the store's client and the heartbeat's"
    renewals = [thread for number, thread, method, target in requests
                if number == 1 and method == "POST" and "exp/lock.json" in target]
    assert len(renewals) >= 3 and set(renewals) == {"nasctl-lock-heartbeat"}
