"""Stage-2 training during the search (`train.frequency`, Vertex's train_frequency)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import nb201_spec

pytestmark = pytest.mark.slow  # every test here runs the real CLI and trial processes


def test_frequency_trains_the_current_top_n_while_the_search_runs(write_spec, nasctl, tmp_path):
    spec_doc = nb201_spec(max_trials=12, parallel=2, top_n=2, trainerArgs={"mode": "proxy", "delaySeconds": 0.2})
    spec_doc["spec"]["train"]["frequency"] = 4
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)

    records = json.loads((tmp_path / "state" / "exp" / "trials.json").read_text())["data"]["trials"]
    search = sorted((t for t in records if t["stage"] == "search"), key=lambda t: t["index"])
    train = sorted((t for t in records if t["stage"] == "train"), key=lambda t: t["index"])
    by_id = {t["id"]: t for t in search}
    # the first stage-2 trials come from the first 4 search trials, launched before the search ended
    assert {by_id[t["source_trial"]]["index"] for t in train[:2]} <= {0, 1, 2, 3}
    assert train[0]["launched_at"] < max(t["launched_at"] for t in search)
    # at the end, the overall top 2 are trained too, and no architecture twice
    ranked = sorted((t for t in search if t["reward"] is not None), key=lambda t: -t["reward"])
    top2 = list(dict.fromkeys(json.dumps(t["dna"]) for t in ranked))[:2]
    assert set(top2) <= {json.dumps(t["dna"]) for t in train}
    assert len({json.dumps(t["dna"]) for t in train}) == len(train)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Succeeded" and status["stages"]["train"]["phase"] == "Succeeded"
    # the cost preview counted every round: what ran is within its bound, and more than one round's top N
    preview = json.loads(nasctl("cost", "-f", str(spec), "-o", "json", check=True).stdout)
    (planned,) = [stage for stage in preview["stages"] if stage["name"] == "train"]
    assert 2 < len(train) <= planned["trials"] == 6 and "every 4 search trials" in planned["note"]
