"""The state store interface: get, compare-and-swap put, list, delete, and a leased lock.

Every implementation (local directory, GCS) keeps the same semantics:

* ``put(key, data, if_generation=g)`` writes only if the object's current generation is ``g``;
  ``g = 0`` means "create only"; ``None`` writes unconditionally. It returns the new generation.
* a corrupt or unreadable object raises :class:`CorruptState` naming it; never a silent fresh start.
* the lock is one object holding ``holder`` and ``expires_at``; an expired lease may be taken over.
* writes are fenced: while a store object holds the lock (:meth:`StateStore.locked`), every ``put``,
  ``put_artifact`` and ``delete`` first checks that the lock is still this acquisition's (its token)
  and raises :class:`LockLost` instead of writing when it was taken over (lease lapsed, force-unlock).
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator
from contextlib import contextmanager

LOCK_KEY = "lock.json"
DEFAULT_LEASE_SECONDS = 60.0
LEASE_POLLS = 5  # a lease outlasts this many poll intervals
HEARTBEATS_PER_LEASE = 4  # the heartbeat renews this often per lease, so one or two lost renewals cost nothing


def lease_for_poll(poll_seconds: float) -> float:
    """A lease well above the poll interval (a pass plus its sleep never outlives it)."""
    return max(DEFAULT_LEASE_SECONDS, LEASE_POLLS * poll_seconds)


class StateError(Exception):
    """Base class of state-store errors."""


class CorruptState(StateError):
    def __init__(self, location: str, reason: str, remedy: str = "fix or remove it by hand"):
        super().__init__(f"state file {location} is unreadable or corrupt: {reason}; {remedy}")
        self.location = location


class PreconditionFailed(StateError):
    def __init__(self, key: str, expected: int | None, actual: int):
        super().__init__(f"{key}: expected generation {expected}, found {actual} (written concurrently?)")
        self.key, self.expected, self.actual = key, expected, actual


@dataclass(frozen=True)
class Lease:
    holder: str
    expires_at: float
    token: str  # the fencing token: one per acquisition, kept by renewals (local: a random id; GCS: the
    #             lock object's generation when it was acquired, so later acquisitions have larger tokens)
    generation: int = 0  # GCS: the lock object's current generation (renewals change it); local: unused

    def describe(self) -> str:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.expires_at))
        return f"{self.holder} until {until}"


UNREADABLE_LOCK = Lease(holder="an unreadable lock file", expires_at=0.0, token="")  # what force_unlock removed


class LockHeld(StateError):
    def __init__(self, lease: Lease):
        super().__init__(f"state is locked by {lease.describe()}; if that holder is gone, run `nasctl unlock --force`")
        self.lease = lease


class LockLost(LockHeld):
    """The lock this process acquired is no longer its own: a write under it is refused, not made."""

    def __init__(self, ours: Lease, current: Lease | None):
        StateError.__init__(
            self, f"the state lock of {ours.holder} was taken over"
                  f"{f' by {current.describe()}' if current else ' (force-unlocked)'}: its lease lapsed while this "
                  "process was stalled, or `nasctl unlock --force` removed it; stopping without writing state")
        self.lease, self.current = ours, current


@dataclass(frozen=True)
class Versioned:
    data: dict[str, Any]
    generation: int


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class StateStore(ABC):
    """A key/value store of JSON documents with generations, under one experiment prefix.

    Beside the documents it keeps artifacts (stage plots and their detailed state): plain bytes,
    written whole and unconditionally, never read by the reconcile pass.
    """

    uri: str
    local_root: Path | None = None  # where a store on this machine keeps its files; None when remote
    _fence: Lease | None = None  # while set, writes are refused (LockLost) once this lease is not the lock's

    @abstractmethod
    def get(self, key: str) -> Versioned | None:
        """The document and its generation, or None if absent."""

    @abstractmethod
    def put(self, key: str, data: dict[str, Any], if_generation: int | None = None) -> int:
        """Write `data`; with `if_generation`, only if the current generation matches (0 = absent)."""

    @abstractmethod
    def put_artifact(self, key: str, payload: bytes) -> None:
        """Write an artifact whole (readers see the old or the new bytes)."""

    @abstractmethod
    def get_artifact(self, key: str) -> bytes | None:
        """An artifact's bytes, or None if absent."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted."""

    @abstractmethod
    def delete(self, key: str, if_generation: int | None = None) -> None:
        """Remove `key` (no error if absent unless a generation is required)."""

    @abstractmethod
    def acquire_lock(self, holder: str, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        """Take the lock or raise LockHeld; an expired (or provably dead) holder is taken over."""

    @abstractmethod
    def renew_lock(self, lease: Lease, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        """Extend a lease we hold; raise LockHeld if it was taken over."""

    @abstractmethod
    def release_lock(self, lease: Lease) -> None:
        """Release a lease we hold (no-op if it was already taken over)."""

    @abstractmethod
    def read_lock(self) -> Lease | None:
        """The current lease, if any."""

    @abstractmethod
    def force_unlock(self) -> Lease | None:
        """Remove the lock whoever holds it; returns what was removed."""

    def heartbeat_store(self) -> "StateStore":
        """The store the lock heartbeat renews through, from its own thread: one sharing no connection
        with this store's (the reconcile thread's). A store with nothing to share answers itself."""
        return self

    def _check_fence(self) -> None:
        """Raise LockLost if this store writes under a lease that is no longer the lock's (one lock read)."""
        if self._fence is None:
            return
        current = self.read_lock()
        if current is None or current.token != self._fence.token:
            raise LockLost(self._fence, current)

    @contextmanager
    def locked(self, holder: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Iterator["LockHandle"]:
        """Hold the lock, renewed by a heartbeat; the store's writes are fenced by it meanwhile."""
        handle = LockHandle(self, self.acquire_lock(holder or default_holder(), lease_seconds), lease_seconds)
        self._fence = handle.lease
        handle.start_heartbeat()
        try:
            yield handle
        finally:
            handle.stop_heartbeat()
            self._fence = None
            self.release_lock(handle.lease)


class LockHandle:
    """A held lease, renewed by a heartbeat thread independent of the reconcile loop's passes and sleeps
    (a slow pass or a long poll never lets it lapse); :meth:`renew` tells the loop whether it still holds it."""

    def __init__(self, store: StateStore, lease: Lease, lease_seconds: float):
        self.store, self.lease, self.lease_seconds = store, lease, lease_seconds
        self._renewer = store.heartbeat_store()  # every renewal, the heartbeat's or renew()'s, goes through it
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        self._lost: LockLost | None = None
        self._thread: threading.Thread | None = None

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="nasctl-lock-heartbeat", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        while not self._stopped.wait(self.lease_seconds / HEARTBEATS_PER_LEASE):
            try:
                self._renew_now()
            except LockLost as lost:
                self._lost = lost
                return
            except Exception:  # noqa: BLE001 - a transient store error: the next beat tries again
                continue

    def _renew_now(self) -> None:
        with self._guard:
            self.lease = self._renewer.renew_lock(self.lease, self.lease_seconds)

    def renew(self) -> None:
        """Raise LockLost if the lease was lost (taken over); renew now if the heartbeat fell behind."""
        if self._lost is not None:
            raise self._lost
        if self.lease.expires_at - time.time() < self.lease_seconds / 2:
            self._renew_now()


def encode_lease(lease: Lease) -> dict[str, Any]:
    return asdict(lease)


def decode_lease(data: dict[str, Any], location: str) -> Lease:
    try:
        return Lease(holder=str(data["holder"]), expires_at=float(data["expires_at"]), token=str(data["token"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptState(location, f"lock without holder/expires_at/token ({exc})",
                           "`nasctl unlock --force` removes it") from None


def dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=1, sort_keys=True).encode()
