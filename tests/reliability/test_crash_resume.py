"""Kill `apply` at random points (SIGKILL or SIGINT, alone or with its process group); nothing is lost."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest

from tests.conftest import NASCTL, REPO, nb201_spec

pytestmark = pytest.mark.slow  # every test here runs the real CLI and trial processes

MAX_TRIALS = 24


def _start_apply(spec, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([*NASCTL, "apply", "-f", str(spec), "--yes", "--no-progress"], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_apply_killed_repeatedly_ends_with_exactly_max_trials_and_no_lost_result(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(max_trials=MAX_TRIALS, parallel=4, top_n=3, trainerArgs={
        "mode": "proxy", "delaySeconds": 0.6}))
    rng = random.Random(7)
    kills = [(signal.SIGKILL, True), (signal.SIGKILL, False), (signal.SIGINT, False), (signal.SIGKILL, True),
             (signal.SIGKILL, False)]
    for kill_signal, whole_group in kills:
        process = _start_apply(spec, tmp_path)
        time.sleep(rng.uniform(0.8, 2.5))
        if whole_group:
            os.killpg(process.pid, kill_signal)
        else:
            process.send_signal(kill_signal)
        process.wait(timeout=30)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)

    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json", check=True).stdout)
    search = [t for t in trials if t["stage"] == "search"]
    assert len(search) == MAX_TRIALS
    assert sorted(t["id"] for t in search) == [f"search-{i:04d}" for i in range(MAX_TRIALS)]
    assert all(t["status"] == "succeeded" and t["reward"] is not None for t in trials), trials
    assert len([t for t in trials if t["stage"] == "train"]) == 3
    # each trial directory ran its trainer to one result: no duplicate launch overwrote another
    for trial_dir in (tmp_path / "state" / "exp" / "trials").iterdir():
        cycles = (trial_dir / "metrics.jsonl").read_text().splitlines()
        steps = [json.loads(c)["step"] for c in cycles]
        assert steps == sorted(set(steps)), f"{trial_dir.name} was run twice at once: {steps}"
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json").stdout)
    assert status["phase"] == "Succeeded"
    assert nasctl("diff", "-f", str(spec), "--detailed-exitcode").returncode == 0
