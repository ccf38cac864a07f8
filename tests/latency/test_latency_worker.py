"""The on-prem latency worker: compare-and-swap claims, no trial measured twice, failures recorded."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from trainers_jax.latency_calculator import measure_trial
from latency.measure import LatencyOptions
from trainers_jax.saved_model import has_saved_model
from latency.worker import claim, claim_key, pending_trials, run_worker
from state.local import LocalStore
from state.records import TRIALS_KEY
from trial.dirs import LocalTrialDir

from tests.support.latency_fixtures import SMALL_ARCH

FAST = LatencyOptions(batch_size=1, warmup=1, runs=3)


def _record_trials(store: LocalStore, ids: list[str]) -> None:
    store.put(TRIALS_KEY, {"trials": [{"id": i, "status": "running"} for i in ids]})


def test_two_racing_workers_never_measure_a_trial_twice(tmp_path: Path, trial_with_model) -> None:
    store = LocalStore(tmp_path / "state")
    ids = [f"t{i}" for i in range(8)]
    for i in ids:
        trial_with_model(i)
    root = tmp_path / "trials"
    _record_trials(store, ids)
    calls: list[tuple[str, str]] = []
    guard = threading.Lock()

    def recording(worker: str):
        def measure(trial_dir: Path, options: LatencyOptions) -> dict[str, Any]:
            with guard:
                calls.append((worker, trial_dir.name))
            time.sleep(0.02)  # widen the race window
            LocalTrialDir(trial_dir).write_latency({"latency_ms": 1.0, "worker": worker})
            return {}
        return measure

    start = threading.Barrier(2)
    results: dict[str, list[str]] = {}

    def work(name: str) -> None:
        start.wait()
        results[name] = run_worker(store, root, ready=has_saved_model, options=FAST, worker_id=name, measure=recording(name), once=True)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    measured = [trial for _, trial in calls]
    assert sorted(measured) == ids  # every trial once, none twice
    assert sorted(results["a"] + results["b"]) == ids
    assert pending_trials(store, root, has_saved_model) == []
    assert all(store.get(claim_key(i)).data["done"] for i in ids)


def test_worker_measures_real_models_and_skips_measured_ones(tmp_path: Path, trial_with_model) -> None:
    store = LocalStore(tmp_path / "state")
    first, second = trial_with_model("m1"), trial_with_model("m2")
    LocalTrialDir(second).write_latency({"latency_ms": 7.0})
    _record_trials(store, ["m1", "m2", "no-model-yet"])
    measured = run_worker(store, first.parent, ready=has_saved_model, options=FAST, measure=measure_trial, once=True)
    assert measured == ["m1"]
    assert LocalTrialDir(first).read_latency()["latency_ms"] > 0
    assert LocalTrialDir(second).read_latency() == {"latency_ms": 7.0}


def test_expired_claim_is_taken_over_live_one_is_not(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "state")
    assert claim(store, "t", "dead-worker", lease_seconds=-1.0)
    assert claim(store, "t", "new-worker", lease_seconds=60.0)
    assert not claim(store, "t", "third-worker", lease_seconds=60.0)
    assert store.get(claim_key("t")).data["worker"] == "new-worker"


def test_failed_measurement_is_written_for_the_waiting_trainer(tmp_path: Path, trial_with_model) -> None:
    store = LocalStore(tmp_path / "state")
    trial = trial_with_model("broken")
    (trial / "model.msgpack").write_bytes(b"garbage")
    _record_trials(store, ["broken"])
    assert run_worker(store, trial.parent, ready=has_saved_model, options=FAST, measure=measure_trial, once=True) == ["broken"]
    assert "error" in LocalTrialDir(trial).read_latency()
    assert pending_trials(store, trial.parent, has_saved_model) == []


@pytest.mark.slow  # trains a tiny model in a trial process: ~10 s alone, more on a busy machine
def test_trainer_waits_for_the_worker_then_reports_its_latency(tmp_path: Path) -> None:
    """Vertex's on-prem flow end to end: the trial saves its model and waits; a worker measures it."""
    store, root = LocalStore(tmp_path / "state"), tmp_path / "trials"
    trial = LocalTrialDir(root / "w1")
    trial.path.mkdir(parents=True)
    trial.write_spec({"id": "w1", "stage": "search", "arch": SMALL_ARCH, "seed": 0,
                      "trainer": {"prebuilt": "image-classifier"},
                      "args": {"imageSize": 16, "steps": 4, "evalEvery": 4, "waitForLatencySeconds": 300}})
    _record_trials(store, ["w1"])
    process = subprocess.Popen([sys.executable, "-m", "trial.runner", str(trial.path)])
    stop = threading.Event()
    watcher = threading.Thread(target=lambda: (process.wait(), stop.set()))
    watcher.start()
    measured = run_worker(store, root, ready=has_saved_model, options=FAST, measure=measure_trial, poll_seconds=0.2, stop=stop)
    watcher.join()
    result = trial.read_result()
    assert measured == ["w1"] and result.status == "succeeded", result.message
    assert result.metrics["latency_ms"] == trial.read_latency()["latency_ms"] > 0
