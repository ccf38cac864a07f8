"""Eight `nasctl apply` processes on the same gs:// state: exactly one acts, nothing lost or duplicated."""
from __future__ import annotations

import os
import subprocess
import sys
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
