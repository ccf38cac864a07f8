"""Kill `apply` inside each proxy-task stage and re-run it: no duplicate trial, the same results."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import NASCTL, REPO
from tests.reconciler.proxy.test_proxy_stages_e2e import STATE, proxy_spec, trials_of

EXPECTED_TRIALS = {"varianceMeasurement": 4, "modelSelection": 7, "proxyTaskSearch": 10, "search": 3}


def _running(tmp_path: Path, stage: str, where: Callable[[dict[str, Any]], bool] = lambda t: True) -> bool:
    try:
        return any(t["status"] == "running" and where(t) for t in trials_of(tmp_path, stage))
    except (OSError, ValueError, KeyError):
        return False  # nothing recorded yet


def _rounds(tmp_path: Path) -> int:
    try:
        return len(json.loads((tmp_path / STATE / "modelSelection" / "state.json").read_text())["rounds"])
    except (OSError, ValueError):
        return 0


def _kill_running_trials(cwd: Path) -> int:
    """SIGKILL every trial process still running (as a reboot would); how many were killed."""
    killed = 0
    for launch in (cwd / STATE / "trials").glob("*/launch.json"):
        if (launch.parent / "result.json").exists():
            continue
        try:
            os.killpg(json.loads(launch.read_text())["pid"], signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


def _apply_and_kill(spec: Path, cwd: Path, when: Callable[[], bool], with_trials: bool) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([*NASCTL, "apply", "-f", str(spec), "--yes", "--no-progress"], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not when() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if not when() or process.poll() is not None:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("apply never reached the moment to interrupt (or finished before it)")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if with_trials:  # the next apply relaunches them (continuing from their checkpoints)
        assert _kill_running_trials(cwd) > 0
    # otherwise they outlive apply and the next apply adopts them


def _nasctl(cwd: Path, *args: str) -> str:
    """The real CLI run in `cwd` (where the spec's relative stateUri resolves); its stdout."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([*NASCTL, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True,
                          timeout=300, stdin=subprocess.DEVNULL).stdout


def _results(tmp_path: Path) -> dict[str, Any]:
    status = json.loads(_nasctl(tmp_path, "status", "-f", "exp.yaml", "-o", "json"))
    assert status["phase"] == "Succeeded", status["conditions"]
    summary = {name: stage["summary"] for name, stage in status["stages"].items()}
    candidates = summary["proxyTaskSearch"]["candidates"]
    rounds = json.loads((tmp_path / STATE / "modelSelection" / "state.json").read_text())["rounds"]
    return {
        "variance": {k: summary["varianceMeasurement"][k] for k in ("cv", "smoothness", "verdict", "workableModel")},
        "rounds": [(r["kept"], r["removed"], r["failed"]) for r in rounds],
        "finalModels": summary["modelSelection"]["finalModels"],
        "candidates": {n: (c["stoppingState"], c["finalTrainingSteps"]) for n, c in candidates.items()},
        "trials": {stage: [t["id"] for t in trials_of(tmp_path, stage)] for stage in EXPECTED_TRIALS},
    }


@pytest.mark.slow
def test_apply_killed_in_every_proxy_stage_resumes_without_duplicates(tmp_path):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    for folder in (reference_dir, killed_dir):
        folder.mkdir()
        (folder / "exp.yaml").write_text(json.dumps(proxy_spec(delay=0.8)))
    _nasctl(reference_dir, "apply", "-f", "exp.yaml", "--yes", "--no-progress")

    spec = killed_dir / "exp.yaml"
    is_copy = lambda t: t["labels"].get("role") == "copy"  # noqa: E731
    interruptions = [
        (lambda: _running(killed_dir, "varianceMeasurement", is_copy), True),
        (lambda: _rounds(killed_dir) >= 2 and _running(killed_dir, "modelSelection"), False),
        (lambda: _rounds(killed_dir) >= 3 and _running(killed_dir, "modelSelection"), True),
        (lambda: _running(killed_dir, "proxyTaskSearch", lambda t: t["labels"]["candidate"] == "full"), False),
        (lambda: _running(killed_dir, "search"), True),
    ]
    for when, with_trials in interruptions:
        _apply_and_kill(spec, killed_dir, when, with_trials)
    _nasctl(killed_dir, "apply", "-f", "exp.yaml", "--yes", "--no-progress")

    expected, got = _results(reference_dir), _results(killed_dir)
    assert got == expected
    for stage, count in EXPECTED_TRIALS.items():
        assert got["trials"][stage] == [f"{stage}-{i:04d}" for i in range(count)], stage
