"""Concurrent `nasctl apply` processes on the same gs:// state: exactly one acts, nothing lost or duplicated,
and round after round the GCS server keeps answering (issue 11: applies that stalled on GCS timeouts)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from state.gcs import GcsStore

NASCTL = Path(sys.executable).with_name("nasctl")
SPEC = """
kind: NASExperiment
metadata: {{name: race}}
spec:
  stateUri: gs://{bucket}/state
  searchSpace: {{prebuilt: nb201}}
  trainer: {{prebuilt: nb201-tabular, args: {{delaySeconds: 8}}}}
  search: {{maxTrials: 4, parallelTrials: 2, seed: 3}}
"""


def _apply(spec: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(NASCTL), "apply", "-f", str(spec), "--yes", "--no-progress"], cwd=spec.parent,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_eight_concurrent_applies_one_acts(gcs_bucket: str, tmp_path: Path) -> None:
    if not NASCTL.exists():
        pytest.skip("the nasctl entry point is not installed in this environment")
    spec = tmp_path / "race.yaml"
    spec.write_text(SPEC.format(bucket=gcs_bucket), encoding="utf-8")
    env = dict(os.environ)  # carries STORAGE_EMULATOR_HOST for the loopback server

    processes = [_apply(spec, env) for _ in range(8)]
    outputs = [(p.pid, p.wait(timeout=200), p.stdout.read() if p.stdout else "") for p in processes]

    winners = [(pid, out) for pid, code, out in outputs if code == 0]
    losers = [(code, out) for _, code, out in outputs if code != 0]
    assert len(winners) == 1, "\n---\n".join(out for _, _, out in outputs)
    winner_pid = winners[0][0]
    for _code, out in losers:
        assert "locked by" in out and f":{winner_pid} until" in out, out

    store = GcsStore(f"gs://{gcs_bucket}/state/race")
    trials = store.get("trials.json")
    assert trials is not None
    ids = [t["id"] for t in trials.data["trials"]]
    assert sorted(ids) == [f"search-{i:04d}" for i in range(4)]
    assert all(t["status"] == "succeeded" and t["attempt"] == 1 for t in trials.data["trials"])
    assert store.read_lock() is None

    again = _apply(spec, env)
    out = again.stdout.read() if again.stdout else ""
    assert again.wait(timeout=60) == 0, out
    after = store.get("trials.json")
    assert after is not None and after.data == trials.data  # nothing re-run, nothing duplicated


def test_the_loopback_gcs_server_answers_request_after_request(gcs_bucket: str, gcs_url: str) -> None:
    """Issue 11's stall: a server whose log nobody reads stops answering after ~350 requests; ours must not."""
    GcsStore(f"gs://{gcs_bucket}/state/exp").put("trials.json", {"trials": []})
    url = f"{gcs_url}/download/storage/v1/b/{gcs_bucket}/o/state%2Fexp%2Ftrials.json?alt=media"
    for _ in range(1000):
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == b'{\n "trials": []\n}'


ROUND_SPEC = """
kind: NASExperiment
metadata: {{name: {name}}}
spec:
  stateUri: gs://{bucket}/state
  searchSpace: {{prebuilt: nb201}}
  trainer: {{prebuilt: nb201-tabular}}
  search: {{algorithm: random, maxTrials: {max_trials}, parallelTrials: 4, seed: 0, trainerArgs: {{mode: proxy}}}}
  train: {{topN: {top_n}, parallelTrials: 2, trainerArgs: {{mode: full}}}}
"""
ROUNDS, APPLIES, MAX_TRIALS, TOP_N = 3, 6, 12, 2
STALL_SIGNS = ("Timeout", "timed out", "RetryError", "Traceback")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_rounds_of_concurrent_applies_never_stall_the_gcs_state(gcs_bucket: str, gcs_url: str, tmp_path: Path) -> None:
    """The nb201 example, smaller, applied by several processes at once, three times in a row on one server:
    each round one apply runs the experiment to Succeeded with exactly its trials, the others are refused,
    no GCS call times out, and the server answers at once afterwards."""
    if not NASCTL.exists():
        pytest.skip("the nasctl entry point is not installed in this environment")
    env = dict(os.environ)  # carries STORAGE_EMULATOR_HOST for the loopback server
    for round_ in range(ROUNDS):
        name = f"nb201-round-{round_}"
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(ROUND_SPEC.format(name=name, bucket=gcs_bucket, max_trials=MAX_TRIALS, top_n=TOP_N),
                        encoding="utf-8")
        logs = [tmp_path / f"{name}-{i}.log" for i in range(APPLIES)]
        processes = [subprocess.Popen([str(NASCTL), "apply", "-f", str(spec), "--yes", "--no-progress"],
                                      cwd=tmp_path, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
                     for log in logs]
        codes = [p.wait(timeout=300) for p in processes]
        outputs = [log.read_text() for log in logs]
        everything = "\n---\n".join(outputs)
        assert codes.count(0) == 1, everything
        assert not any(sign in out for out in outputs for sign in STALL_SIGNS), everything
        assert all("locked by" in out for code, out in zip(codes, outputs) if code != 0), everything

        store = GcsStore(f"gs://{gcs_bucket}/state/{name}")
        trials = store.get("trials.json").data["trials"]
        ids = [t["id"] for t in trials]
        assert len(set(ids)) == len(ids) == MAX_TRIALS + TOP_N
        assert sorted(i for i in ids if i.startswith("search-")) == [f"search-{i:04d}" for i in range(MAX_TRIALS)]
        assert all(t["status"] == "succeeded" for t in trials)
        assert store.get("experiment.json").data["phase"] == "Succeeded" and store.read_lock() is None

        started = time.monotonic()  # a stalled server would not answer within the timeout
        urllib.request.urlopen(f"{gcs_url}/storage/v1/b/{gcs_bucket}", timeout=5).read()
        assert time.monotonic() - started < 5
