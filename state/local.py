"""State in a local directory: atomic writes (temp file + os.replace), create-only lock file.

Each document is a JSON file ``{"generation": n, "data": {...}}``. Compare-and-swap is made atomic
across processes by an ``flock`` on a mutex file held only for the read-compare-replace. Fencing is
exact here: a fenced write checks the lock file's token under the same mutex a takeover needs.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from state.store import (
    DEFAULT_LEASE_SECONDS,
    LOCK_KEY,
    CorruptState,
    Lease,
    LockHeld,
    LockLost,
    PreconditionFailed,
    UNREADABLE_LOCK,
    StateStore,
    Versioned,
    decode_lease,
    dumps,
    encode_lease,
)
from state.files import atomic_write

_MUTEX = ".mutex"
_ORPHAN_AGE_SECONDS = 60.0
TRIALS_DIR = "trials"


def _holder_is_dead(holder: str) -> bool:
    """True when the holder is a process on this host that no longer exists."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class LocalStore(StateStore):
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.uri = str(self.root)
        self.local_root = self.root

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in Path(key).parts:
            raise ValueError(f"invalid state key {key!r}")
        return self.root / key

    @contextmanager
    def _mutex(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / _MUTEX, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read(self, key: str) -> Versioned | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CorruptState(str(path), exc.strerror or str(exc)) from None
        try:
            envelope = json.loads(raw)
            return Versioned(data=envelope["data"], generation=int(envelope["generation"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptState(str(path), f"not a nasctl state document ({exc})") from None

    def get(self, key: str) -> Versioned | None:
        return self._read(key)

    def _checked_generation(self, key: str, if_generation: int | None) -> int:
        """The key's current generation (0: absent), once the fence and the caller's precondition hold."""
        self._check_fence()
        current = self._read(key)
        actual = current.generation if current else 0
        if if_generation is not None and if_generation != actual:
            raise PreconditionFailed(key, if_generation, actual)
        return actual

    def put(self, key: str, data: dict[str, Any], if_generation: int | None = None) -> int:
        with self._mutex():
            generation = self._checked_generation(key, if_generation) + 1
            atomic_write(self._path(key), dumps({"generation": generation, "data": data}))
            return generation

    def put_artifact(self, key: str, payload: bytes) -> None:
        with self._mutex():
            self._check_fence()
            atomic_write(self._path(key), payload)

    def get_artifact(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        keys = []
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.name.startswith(".") and key.startswith(prefix):
                keys.append(key)
        return sorted(keys)

    def delete(self, key: str, if_generation: int | None = None) -> None:
        with self._mutex():
            self._checked_generation(key, if_generation)
            self._path(key).unlink(missing_ok=True)

    # -- lock ---------------------------------------------------------------------------------------
    def read_lock(self) -> Lease | None:
        path = self._path(LOCK_KEY)
        try:
            return decode_lease(json.loads(path.read_bytes()), str(path))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise CorruptState(str(path), str(exc)) from None

    def acquire_lock(self, holder: str, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        lease = Lease(holder=holder, expires_at=time.time() + lease_seconds, token=uuid.uuid4().hex)
        path = self._path(LOCK_KEY)
        self.root.mkdir(parents=True, exist_ok=True)
        # Create-only with content in one step: the lease goes to a temp file that is then hard-linked
        # to lock.json (link fails if it exists, like O_CREAT|O_EXCL), so no reader sees an empty lock.
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".lock.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(dumps(encode_lease(lease)))
            os.link(tmp, path)
        except FileExistsError:
            return self._take_over_stale(lease)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._remove_orphaned_temp_files()
        return lease

    def _remove_orphaned_temp_files(self) -> None:
        """Temp files of writes a killed process never finished (the lock holder is the only writer here;
        trial directories are left alone: their trials may be writing)."""
        cutoff = time.time() - _ORPHAN_AGE_SECONDS
        for folder in (self.root, *(p for p in self.root.iterdir() if p.is_dir() and p.name != TRIALS_DIR)):
            for tmp in folder.glob(".*.tmp"):
                try:
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()
                except FileNotFoundError:
                    continue

    def _take_over_stale(self, lease: Lease) -> Lease:
        with self._mutex():
            current = self.read_lock()
            if current is not None and current.expires_at > time.time() and not _holder_is_dead(current.holder):
                raise LockHeld(current)
            atomic_write(self._path(LOCK_KEY), dumps(encode_lease(lease)))
            return lease

    def renew_lock(self, lease: Lease, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Lease:
        with self._mutex():
            current = self.read_lock()
            if current is None or current.token != lease.token:
                raise LockLost(lease, current)
            renewed = Lease(lease.holder, time.time() + lease_seconds, lease.token)
            atomic_write(self._path(LOCK_KEY), dumps(encode_lease(renewed)))
            return renewed

    def release_lock(self, lease: Lease) -> None:
        with self._mutex():
            current = self.read_lock()
            if current is not None and current.token == lease.token:
                self._path(LOCK_KEY).unlink(missing_ok=True)

    def force_unlock(self) -> Lease | None:
        if not self.root.exists():  # nothing recorded, so no lock: nothing to create either
            return None
        with self._mutex():
            try:
                current = self.read_lock()
            except CorruptState:  # the escape hatch works on a garbage lock too
                current = UNREADABLE_LOCK
            self._path(LOCK_KEY).unlink(missing_ok=True)
            return current
