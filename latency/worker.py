"""The on-prem latency worker (``nasctl latency-worker``): Vertex's ``run_latency_calculator_local``.

It watches an experiment's recorded trials, and for each trial whose trainer saved a model but has no
``latency.json`` yet, claims it and measures it on the machine the worker runs on (a phone-class box,
an edge GPU). The claim is a create-only object ``latency-claims/<trial-id>.json`` in the state store
(compare-and-swap, generation 0): of several workers racing, exactly one wins. A claim whose holder
died (its lease expired without a latency.json) is taken over by compare-and-swap on its generation.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

from latency.measure import LatencyOptions
from state.records import TRIALS_KEY
from state.store import PreconditionFailed, StateStore
from trial.dirs import LocalTrialDir

CLAIMS_PREFIX = "latency-claims/"
Measure = Callable[[Path, LatencyOptions], dict[str, Any]]  # measures a trial directory, writes its latency.json
Ready = Callable[[Path], bool]  # whether a trial directory holds a model to measure


def claim_key(trial_id: str) -> str:
    return f"{CLAIMS_PREFIX}{trial_id}.json"


def claim(store: StateStore, trial_id: str, worker_id: str, lease_seconds: float) -> bool:
    """Take the trial for this worker; False if another live worker holds it."""
    record = {"worker": worker_id, "expires_at": time.time() + lease_seconds}
    try:
        store.put(claim_key(trial_id), record, if_generation=0)
        return True
    except PreconditionFailed:
        pass
    current = store.get(claim_key(trial_id))
    if current is None or current.data.get("done") or current.data.get("expires_at", 0) > time.time():
        return False
    try:  # the holder's lease ran out: take it over, unless someone else just did
        store.put(claim_key(trial_id), record, if_generation=current.generation)
        return True
    except PreconditionFailed:
        return False


def pending_trials(store: StateStore, trial_dir_root: Path, ready: Ready) -> list[str]:
    """Recorded trials with a model to measure (`ready`) and no latency.json, in record order."""
    doc = store.get(TRIALS_KEY)
    trials = doc.data.get("trials", []) if doc else []
    return [
        t["id"] for t in trials
        if ready(trial_dir_root / t["id"]) and LocalTrialDir(trial_dir_root / t["id"]).read_latency() is None
    ]


def measure_one(store: StateStore, trial_dir: Path, trial_id: str, worker_id: str, options: LatencyOptions,
                measure: Measure) -> None:
    """Measure a claimed trial; a failure is written to latency.json so a waiting trainer stops waiting."""
    try:
        measure(trial_dir, options)
    except Exception as exc:  # noqa: BLE001 - a bad model must not stop the worker
        LocalTrialDir(trial_dir).write_latency({"error": f"{type(exc).__name__}: {exc}", "worker": worker_id})
    current = store.get(claim_key(trial_id))
    if current is not None and current.data.get("worker") == worker_id:
        store.put(claim_key(trial_id), {**current.data, "done": True}, if_generation=current.generation)


def run_worker(store: StateStore, trial_dir_root: str | Path, *, measure: Measure, ready: Ready,
               options: LatencyOptions | None = None, worker_id: str | None = None, poll_seconds: float = 5.0,
               lease_seconds: float = 900.0, once: bool = False,
               stop: threading.Event | None = None) -> list[str]:
    """Claim and measure trials until `stop` is set (or after one pass with `once`); returns the ids measured.

    `measure` and `ready` come from the trainer whose models are measured (the prebuilt one:
    ``trainers_jax.latency_calculator.run_calculator`` and ``trainers_jax.saved_model.has_saved_model``).
    """
    root = Path(trial_dir_root)
    options = options or LatencyOptions()
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    stop = stop or threading.Event()
    measured: list[str] = []
    while not stop.is_set():
        for trial_id in pending_trials(store, root, ready):
            if stop.is_set():
                break
            if claim(store, trial_id, worker_id, lease_seconds):
                measure_one(store, root / trial_id, trial_id, worker_id, options, measure)
                measured.append(trial_id)
        if once:
            break
        stop.wait(poll_seconds)
    return measured
