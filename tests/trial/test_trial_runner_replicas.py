"""Only the primary replica of a multi-machine trial writes its result."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from trainers_jax.distributed import vertex_cluster
from trial.runner import is_primary_replica


def _cluster(kind: str, index: int) -> dict[str, str]:
    spec = {"cluster": {"workerpool0": ["h0:1"], "workerpool1": ["h1:1", "h2:1"]}, "task": {"type": kind, "index": index}}
    return {"CLUSTER_SPEC": json.dumps(spec)}


@pytest.mark.parametrize("env, primary", [
    ({}, True),
    (_cluster("workerpool0", 0), True),
    (_cluster("workerpool1", 0), False),
    (_cluster("workerpool1", 1), False),
    ({"TPU_WORKER_ID": "0"}, True),
    ({"TPU_WORKER_ID": "3"}, False),
])
def test_the_primary_replica_alone_writes_the_result(env: dict[str, str], primary: bool) -> None:
    assert is_primary_replica(env) is primary


@given(workers=st.integers(min_value=0, max_value=8))
def test_exactly_one_replica_of_a_vertex_cluster_is_primary_and_it_is_jax_process_0(workers: int) -> None:
    """Whatever the replica count, one replica writes the result and reports the metric: the chief, the
    process trainers_jax.distributed makes jax process 0 (the one that writes the trainer's outputs)."""
    cluster = {"workerpool0": ["h0:2222"], "workerpool1": [f"w{i}:2222" for i in range(workers)]}
    tasks = [("workerpool0", 0)] + [("workerpool1", i) for i in range(workers)]
    specs = [json.dumps({"cluster": cluster, "environment": "cloud", "task": {"type": kind, "index": index}})
             for kind, index in tasks]
    primaries = [spec for spec in specs if is_primary_replica({"CLUSTER_SPEC": spec})]
    assert len(primaries) == 1
    processes = vertex_cluster(primaries[0])
    assert (processes is None) == (workers == 0)  # None: a single replica, process 0 alone
    assert processes is None or processes.process_id == 0
