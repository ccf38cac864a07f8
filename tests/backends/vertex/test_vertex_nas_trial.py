"""A NasJob trial's entry point: Vertex's flags in, the nasctl protocol in between, hypertune out."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from trial.nas_entry import main
from search_spaces.registry import build_search_space
from specs.model import NASExperiment, SearchSpaceSpec


def _experiment() -> NASExperiment:
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "poc"},
        "spec": {"backend": {"type": "vertex", "project": "p", "containerImage": "img:1",
                             "stagingUri": "gs://bkt/staging"},
                 "searchSpace": {"prebuilt": "nb201"},
                 "trainer": {"prebuilt": "nb201-tabular", "args": {"mode": "full"}},
                 "reward": {"metric": "accuracy"},
                 "search": {"algorithm": "REINFORCEMENT_LEARNING", "maxTrials": 10,
                            "trainerArgs": {"mode": "proxy"}}},
    })


def _cluster_spec(pool: int, index: int) -> str:
    return json.dumps({"cluster": {"workerpool0": ["h0:2222"], "workerpool1": ["h1:2222", "h2:2222"]},
                       "environment": "cloud", "task": {"type": f"workerpool{pool}", "index": index}})


@pytest.mark.parametrize("cluster_spec, reports", [
    (None, True),  # one replica
    (_cluster_spec(0, 0), True),  # the chief of a multi-replica trial
    (_cluster_spec(1, 0), False),  # a worker: Vertex reads the chief's metric alone
    (_cluster_spec(1, 1), False),
])
def test_trial_runs_the_proposed_architecture_and_the_chief_alone_reports_the_reward(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_spec: str | None, reports: bool) -> None:
    experiment = _experiment()
    spec_file = tmp_path / "experiment.json"
    spec_file.write_text(experiment.model_dump_json(by_alias=True))
    space = build_search_space(SearchSpaceSpec(prebuilt="nb201"))
    dna = space.random_dna(random.Random(4))
    params = dna.to_dict(key_type="name_or_id", value_type="choice_and_literal")
    metric_file = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(metric_file))
    if cluster_spec is not None:
        monkeypatch.setenv("CLUSTER_SPEC", cluster_spec)

    code = main(["--experiment-file", str(spec_file), "--stage", "search", "--nas_params_str", json.dumps(params),
                 f"--job-dir={tmp_path / 'job'}", "--some-vertex-flag", "x"])

    assert code == 0  # a worker too exits by its own result
    trial = json.loads((tmp_path / "job" / "search-0007" / "trial.json").read_text())
    assert trial["arch"] == space.materialize(dna) and trial["dna"] == list(space.numbers(dna))
    assert trial["args"] == {"mode": "proxy"}  # the stage's trainerArgs over trainer.args
    if not reports:
        assert not metric_file.exists() and not (tmp_path / "job" / "search-0007" / "result.json").exists()
        return
    result = json.loads((tmp_path / "job" / "search-0007" / "result.json").read_text())
    (record,) = [json.loads(line) for line in metric_file.read_text().splitlines()]
    assert record["trial"] == "7"
    assert float(record["accuracy"]) == pytest.approx(result["metrics"]["accuracy"])
