"""Stopping a local trial: SIGTERM to its process group first, SIGKILL when it does not end in the grace time."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from backends.base import ALIVE
from backends.local import LocalBackend

STUBBORN = '''
import signal, time
from pathlib import Path

def train(ctx):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a trainer stuck where it cannot honour SIGTERM
    Path(ctx.args["ready"]).write_text("ignoring SIGTERM")
    time.sleep(120)
    return {"accuracy": 1.0}
'''


@pytest.mark.slow  # waits out the 5 s grace
def test_a_trial_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    ready = tmp_path / "ready"
    backend = LocalBackend(tmp_path / "trials")
    backend.launch("search-0000", {"id": "search-0000", "stage": "search", "arch": {}, "seed": 0,
                                   "args": {"ready": str(ready)}, "trainer": {"module": "stubborn:train"},
                                   "workdir": str(tmp_path)})
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists() and backend.observe("search-0000").state == ALIVE
    backend.stop("search-0000", "test")
    assert backend.observe("search-0000").state != ALIVE  # killed: its run lock is free for a relaunch
