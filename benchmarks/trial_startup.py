"""What one trial process costs before and around its training: a small image-classifier trial on digits,
run as the backends run it (``python -m trial.runner TRIAL_DIR``), against the floor every JAX trial pays
(a Python process that imports JAX and runs one op), in the same run.

At 2,000 trials every second of start-up is 33 minutes of machine time, and on a shared CPU box (the local
backend) it is wall time too. Cold: an empty compile cache (a trial whose architecture is new); warm: the
cache holds its programs (a relaunched or continued trial).

    python -m benchmarks.trial_startup [--runs 5] --json

The last line of ``--json`` is ``{"runs", "coldSeconds", "warmSeconds", "peakRssMb", "floorSeconds",
"floorRssMb", "warmOverFloor"}`` (medians; RSS: the peak of the trial process).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCH = {"edges": ["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "none"]}
ARGS = {"dataset": "digits", "imageSize": 8, "nb201Channels": 4, "nb201Cells": 1, "batchSize": 64,
        "learningRate": 0.05, "steps": 40, "evalEvery": 20}
FLOOR = "import jax.numpy as jnp; jnp.ones(3).block_until_ready()"
# Runs `argv` and prints its wall seconds and peak RSS (KB), measured from a parent that does nothing else.
_TIMED = ("import resource, subprocess, sys, time; t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, "
          "stdout=subprocess.DEVNULL); print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)"
          ".ru_maxrss)")


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one process."""
    out = subprocess.run([sys.executable, "-c", _TIMED, *argv], env=env, cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1]) / 1024


def _trial(scratch: Path, name: str, cache: Path) -> tuple[float, float]:
    trial = scratch / name
    trial.mkdir()
    (trial / "trial.json").write_text(json.dumps({"id": name, "stage": "search", "experiment": "bench",
                                                  "arch": ARCH, "args": ARGS, "seed": 0,
                                                  "trainer": {"prebuilt": "image-classifier"}}))
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "NASCTL_JAX_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    seconds, rss = _timed([sys.executable, "-m", "trial.runner", str(trial)], env)
    if json.loads((trial / "result.json").read_text())["status"] != "succeeded":
        raise RuntimeError(f"the benchmark trial failed: {(trial / 'result.json').read_text()}")
    return seconds, rss


def measure(runs: int) -> dict[str, float]:
    cold, warm, rss, floor, floor_rss = [], [], [], [], []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for run in range(runs):  # interleaved, so load on the machine falls on each kind alike
            cache = scratch / f"cache-{run}"
            seconds, _ = _trial(scratch, f"cold-{run}", cache)
            cold.append(seconds)
            seconds, peak = _trial(scratch, f"warm-{run}", cache)
            warm.append(seconds)
            rss.append(peak)
            seconds, peak = _timed([sys.executable, "-c", FLOOR], {**os.environ, "JAX_PLATFORMS": "cpu"})
            floor.append(seconds)
            floor_rss.append(peak)
    median = statistics.median
    return {"runs": runs, "coldSeconds": round(median(cold), 2), "warmSeconds": round(median(warm), 2),
            "peakRssMb": round(median(rss)), "floorSeconds": round(median(floor), 2),
            "floorRssMb": round(median(floor_rss)), "warmOverFloor": round(median(warm) / median(floor), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="Print only the JSON line.")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = measure(args.runs)
    if not args.json:
        print(f"trial process, cold compile cache: {result['coldSeconds']} s; warm: {result['warmSeconds']} s, "
              f"{result['peakRssMb']} MB peak; JAX floor: {result['floorSeconds']} s, {result['floorRssMb']} MB "
              f"({time.perf_counter() - started:.0f} s in all)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
