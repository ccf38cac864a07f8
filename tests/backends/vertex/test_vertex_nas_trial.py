"""A NasJob trial's entry point: Vertex's flags in, the nasctl protocol in between, hypertune out."""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trial import nas_entry
from trial.nas_entry import main
from search_spaces.registry import build_search_space
from specs.model import NASExperiment, SearchSpaceSpec


def _experiment(reward: dict | None = None) -> NASExperiment:
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "poc"},
        "spec": {"backend": {"type": "vertex", "project": "p", "containerImage": "img:1",
                             "stagingUri": "gs://bkt/staging"},
                 "searchSpace": {"prebuilt": "nb201"},
                 "trainer": {"prebuilt": "nb201-tabular", "args": {"mode": "full"}},
                 "reward": reward or {"metric": "accuracy"},
                 "search": {"algorithm": "REINFORCEMENT_LEARNING", "maxTrials": 10,
                            "trainerArgs": {"mode": "proxy"}}},
    })


def _cluster_spec(pool: int, index: int) -> str:
    return json.dumps({"cluster": {"workerpool0": ["h0:2222"], "workerpool1": ["h1:2222", "h2:2222"]},
                       "environment": "cloud", "task": {"type": f"workerpool{pool}", "index": index}})


def _run_replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_spec: str | None,
                 params: dict, reward: dict | None = None) -> int:
    spec_file = tmp_path / "experiment.json"
    spec_file.write_text(_experiment(reward).model_dump_json(by_alias=True))
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(tmp_path / "hypertune" / "output.metrics"))
    if cluster_spec is None:
        monkeypatch.delenv("CLUSTER_SPEC", raising=False)
    else:
        monkeypatch.setenv("CLUSTER_SPEC", cluster_spec)
    return main(["--experiment-file", str(spec_file), "--stage", "search", "--nas_params_str", json.dumps(params),
                 f"--job-dir={tmp_path / 'job'}", "--some-vertex-flag", "x"])


def _params(seed: int) -> tuple[object, dict]:
    space = build_search_space(SearchSpaceSpec(prebuilt="nb201"))
    dna = space.random_dna(random.Random(seed))
    return dna, dna.to_dict(key_type="name_or_id", value_type="choice_and_literal")


@pytest.mark.parametrize("cluster_spec, reports", [
    (None, True),  # one replica
    (_cluster_spec(0, 0), True),  # the chief of a multi-replica trial
    (_cluster_spec(1, 0), False),  # a worker: Vertex reads the chief's metric alone
    (_cluster_spec(1, 1), False),
])
def test_trial_runs_the_proposed_architecture_and_the_chief_alone_reports_the_reward(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_spec: str | None, reports: bool) -> None:
    space = build_search_space(SearchSpaceSpec(prebuilt="nb201"))
    dna, params = _params(4)
    trial_file = tmp_path / "job" / "search-0007" / "trial.json"
    metric_file = tmp_path / "hypertune" / "output.metrics"
    if not reports:  # the chief has written the trial's spec (and run, and reported)
        assert _run_replica(tmp_path, monkeypatch, _cluster_spec(0, 0), params) == 0
        metric_file.unlink()
        (tmp_path / "job" / "search-0007" / "result.json").unlink()
        chiefs = trial_file.stat().st_ino

    code = _run_replica(tmp_path, monkeypatch, cluster_spec, params)

    assert code == 0  # a worker too exits by its own result
    trial = json.loads(trial_file.read_text())
    assert trial["arch"] == space.materialize(dna) and trial["dna"] == list(space.numbers(dna))
    assert trial["args"] == {"mode": "proxy"}  # the stage's trainerArgs over trainer.args
    if not reports:
        assert trial_file.stat().st_ino == chiefs, "a worker does not write the trial's spec again"
        assert not metric_file.exists() and not (tmp_path / "job" / "search-0007" / "result.json").exists()
        return
    result = json.loads((tmp_path / "job" / "search-0007" / "result.json").read_text())
    (record,) = [json.loads(line) for line in metric_file.read_text().splitlines()]
    assert record["trial"] == "7"
    assert float(record["accuracy"]) == pytest.approx(result["metrics"]["accuracy"])
    assert "key_0" not in record  # no penalty: the reward is the accuracy, nothing to add


def test_a_penalised_reward_is_reported_with_what_it_is_made_of(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With a latency term the reported metric is the reward; the accuracy alone and the latency go beside it as
    Vertex's other_metrics (key_i/value_i), as the seed asks, so the console does not show the reward as accuracy."""
    _, params = _params(4)
    reward = {"metric": "accuracy", "latency": {"metric": "latency_fpga_ms", "target": 0.001}}
    assert _run_replica(tmp_path, monkeypatch, None, params, reward) == 0
    metrics = json.loads((tmp_path / "job" / "search-0007" / "result.json").read_text())["metrics"]
    (record,) = [json.loads(line) for line in (tmp_path / "hypertune" / "output.metrics").read_text().splitlines()]
    others = {record[f"key_{i}"]: float(record[f"value_{i}"]) for i in range(5) if f"key_{i}" in record}
    assert others == pytest.approx({"accuracy_without_penalty": metrics["accuracy"],
                                    "latency_fpga_ms": metrics["latency_fpga_ms"]})
    assert float(record["accuracy"]) < metrics["accuracy"]  # the reward: penalised, far over a 1 µs target


@pytest.mark.parametrize("chief_wrote", [None, 5], ids=["no-spec", "another-trials-spec"])
def test_a_worker_without_the_chiefs_spec_fails_after_waiting_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        chief_wrote: int | None) -> None:
    monkeypatch.setattr(nas_entry, "CHIEF_SPEC_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(nas_entry, "CHIEF_SPEC_POLL_SECONDS", 0.05)
    trial_file = tmp_path / "job" / "search-0007" / "trial.json"
    if chief_wrote is not None:  # a spec left by an earlier trial of that id, for other parameters
        assert _run_replica(tmp_path, monkeypatch, _cluster_spec(0, 0), _params(chief_wrote)[1]) == 0
    before = trial_file.read_bytes() if trial_file.exists() else None
    (tmp_path / "job" / "search-0007" / "result.json").unlink(missing_ok=True)

    assert _run_replica(tmp_path, monkeypatch, _cluster_spec(1, 0), _params(4)[1]) == 1

    assert "the chief replica (workerpool0 #0) did not write this trial's spec" in capsys.readouterr().err
    assert (trial_file.read_bytes() if trial_file.exists() else None) == before
    assert not (tmp_path / "job" / "search-0007" / "result.json").exists()


@pytest.mark.slow  # a trial process of its own: the time limit ends the process
def test_a_trial_past_its_time_limit_is_ended_as_a_timeout(tmp_path: Path) -> None:
    experiment = _experiment().model_dump(mode="json", by_alias=True)
    experiment["spec"]["trainer"] = {"command": [sys.executable, "-c", "import time; time.sleep(60)"]}
    spec_file = tmp_path / "experiment.json"
    spec_file.write_text(json.dumps(experiment))
    env = {**os.environ, "CLOUD_ML_TRIAL_ID": "3", "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "output.metrics")}
    log = tmp_path / "trial.log"
    started = time.monotonic()
    with open(log, "wb") as output:  # a file, not a pipe: the trainer's own process outlives the trial's
        trial = subprocess.Popen(
            [sys.executable, "-m", "trial.nas_entry", "--experiment-file", str(spec_file), "--stage", "search",
             "--nas_params_str", json.dumps(_params(4)[1]), f"--job-dir={tmp_path / 'job'}",
             "--trial-timeout-seconds", "2"], env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            code = trial.wait(timeout=50)
        finally:
            with contextlib.suppress(ProcessLookupError):  # the command trainer left behind (a container ends with it)
                os.killpg(trial.pid, signal.SIGKILL)
    assert code == 1 and time.monotonic() - started < 50, log.read_text()
    assert "trial timeout: still running after 2 s" in log.read_text()
    result = json.loads((tmp_path / "job" / "search-0003" / "result.json").read_text())
    assert result["status"] == "timeout" and "--trial-timeout-seconds" in result["message"]
    assert not (tmp_path / "output.metrics").exists()  # Vertex sees a failed trial, no reward
