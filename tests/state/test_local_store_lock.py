"""Local-store specifics: a holder that died on this host releases the lock at once; atomic files."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from state.local import LocalStore
from state.store import CorruptState, LockHeld


def test_lock_of_a_dead_local_process_is_taken_over(tmp_path):
    store = LocalStore(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.acquire_lock(f"{socket.gethostname()}:{dead.pid}", lease_seconds=600)
    lease = store.acquire_lock("me:1")
    assert store.read_lock().token == lease.token


def test_lock_of_a_live_process_or_another_host_is_respected(tmp_path):
    store = LocalStore(tmp_path)
    store.acquire_lock("elsewhere:1", lease_seconds=600)
    with pytest.raises(LockHeld) as info:
        store.acquire_lock("me:2")
    assert "elsewhere:1 until" in str(info.value)


def test_expired_lease_is_taken_over_and_old_holder_cannot_renew(tmp_path):
    store = LocalStore(tmp_path)
    old = store.acquire_lock("elsewhere:1", lease_seconds=0.01)
    time.sleep(0.05)
    new = store.acquire_lock("me:2")
    with pytest.raises(LockHeld):
        store.renew_lock(old)
    store.release_lock(old)  # not ours any more: a no-op
    assert store.read_lock().token == new.token


def test_corrupt_lock_file_names_the_file(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / "lock.json").write_text(json.dumps({"holder": "x"}))
    with pytest.raises(CorruptState) as info:
        store.read_lock()
    assert str(tmp_path / "lock.json") in str(info.value)


def test_writes_leave_no_temporary_files(tmp_path):
    store = LocalStore(tmp_path)
    for value in range(5):
        store.put("a/b.json", {"v": value})
    assert store.get("a/b.json").data == {"v": 4} and store.get("a/b.json").generation == 5
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.json"]


def test_taking_the_lock_removes_orphaned_temp_files_but_not_fresh_ones_or_trials(tmp_path):
    store = LocalStore(tmp_path / "exp")
    (tmp_path / "exp" / "trials" / "search-0000").mkdir(parents=True)
    (tmp_path / "exp" / "modelSelection").mkdir()
    old = [tmp_path / "exp" / ".trials.json.abc.tmp", tmp_path / "exp" / "modelSelection" / ".state.json.x.tmp"]
    kept = [tmp_path / "exp" / ".experiment.json.new.tmp",
            tmp_path / "exp" / "trials" / "search-0000" / ".result.json.y.tmp"]
    for path in old + kept:
        path.write_text("{")
    for path in old + kept[1:]:
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    with store.locked():
        pass
    assert [p.exists() for p in old] == [False, False]
    assert [p.exists() for p in kept] == [True, True]
