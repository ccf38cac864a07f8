"""GPU slots of the local backend: one GPU per trial, several trials packed per GPU with a memory share."""
from __future__ import annotations

import time

import pytest

from backends.base import ALIVE, FINISHED
from backends.local import LocalBackend

PROBE = '''
import os, time

def train(ctx):
    time.sleep(float(ctx.args.get("sleep", 0)))
    return {"gpu": float(os.environ["CUDA_VISIBLE_DEVICES"]),
            "memory_fraction": float(os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"]),
            "preallocate": float(os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false")}
'''


def _spec(trial_id: str, workdir, sleep: float) -> dict:
    return {"id": trial_id, "stage": "search", "arch": {}, "args": {"sleep": sleep}, "seed": 0,
            "trainer": {"module": "gpu_probe:train"}, "workdir": str(workdir)}


def _wait_finished(backend: LocalBackend, ids: list[str], timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = {i: backend.observe(i) for i in ids}
        if all(o.state == FINISHED for o in seen.values()):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"trials did not finish: {seen}")


def test_trials_get_distinct_gpu_slots_and_a_memory_share(tmp_path):
    (tmp_path / "gpu_probe.py").write_text(PROBE)
    backend = LocalBackend(tmp_path / "trials", gpus=[0, 1], trials_per_gpu=2)
    assert backend.slots == 4
    ids = [f"search-{i:04d}" for i in range(4)]
    for trial_id in ids:
        backend.launch(trial_id, _spec(trial_id, tmp_path, sleep=2.0))
    assert backend.observe(ids[0]).state == ALIVE
    with pytest.raises(RuntimeError, match="no free GPU slot"):
        backend.launch("search-0004", _spec("search-0004", tmp_path, sleep=0))
    results = _wait_finished(backend, ids)
    gpus = sorted(o.result.metrics["gpu"] for o in results.values())
    assert gpus == [0.0, 0.0, 1.0, 1.0]
    assert all(o.result.metrics["memory_fraction"] == pytest.approx(0.45) for o in results.values())
    assert all(o.result.metrics["preallocate"] == 1.0 for o in results.values())
    # slots free again once trials end
    backend.launch("search-0004", _spec("search-0004", tmp_path, sleep=0))
    assert _wait_finished(backend, ["search-0004"])["search-0004"].result.status == "succeeded"
