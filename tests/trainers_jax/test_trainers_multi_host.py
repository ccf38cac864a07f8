"""Several machines: the Vertex cluster description, and a two-process trial against the one-process run."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Callable

import pytest

from trainers_jax.distributed import Cluster, ClusterError, vertex_cluster
from trial.dirs import LocalTrialDir
from trial.protocol import SUCCEEDED
from trial.runner import run

MakeTrial = Callable[..., LocalTrialDir]


def _spec(task: str, index: int, workers: int = 2) -> str:
    return json.dumps({"cluster": {"workerpool0": ["chief:2222"], "workerpool1": [f"w{i}:2222" for i in range(workers)],
                                   "workerpool2": ["ps:2222"]},
                       "environment": "cloud", "task": {"type": task, "index": index}})


def test_vertex_pools_become_process_ids_with_the_primary_as_coordinator() -> None:
    assert vertex_cluster(_spec("workerpool0", 0)) == Cluster("chief:2222", 3, 0)
    assert vertex_cluster(_spec("workerpool1", 1)) == Cluster("chief:2222", 3, 2)
    assert vertex_cluster(_spec("workerpool0", 0, workers=0)) is None  # one replica: nothing to join


def test_bad_cluster_descriptions_are_clear_errors() -> None:
    with pytest.raises(ClusterError, match="not a training pool"):
        vertex_cluster(_spec("workerpool2", 0))
    with pytest.raises(ClusterError, match="not a Vertex cluster description"):
        vertex_cluster('{"cluster": {}}')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow  # two trial processes joined by jax.distributed, plus the one-process run
def test_two_process_trial_matches_the_one_process_run(make_trial: MakeTrial) -> None:
    args = {"steps": 8, "evalEvery": 4, "batchSize": 16}
    single = run(str(make_trial("single", args=args).path))
    assert single.status == SUCCEEDED, single.message
    trial = make_trial("two-hosts", args=args)
    addresses = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    processes = []
    for task in ("workerpool0", "workerpool1"):
        spec = {"cluster": {"workerpool0": addresses[:1], "workerpool1": addresses[1:]},
                "task": {"type": task, "index": 0}}
        env = {**os.environ, "CLUSTER_SPEC": json.dumps(spec), "JAX_PLATFORMS": "cpu"}
        processes.append(subprocess.Popen([sys.executable, "-m", "trial.runner", str(trial.path)], env=env))
    assert [p.wait(timeout=900) for p in processes] == [0, 0]
    result = trial.read_result()
    assert result.status == SUCCEEDED, result.message
    assert [c["step"] for c in trial.read_metrics()] == [4, 8]  # process 0 alone reports
    assert result.metrics["accuracy"] == pytest.approx(single.metrics["accuracy"], abs=1e-6)
    assert result.metrics["loss"] == pytest.approx(single.metrics["loss"], rel=1e-4)
