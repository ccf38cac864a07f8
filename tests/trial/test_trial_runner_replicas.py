"""Only the primary replica of a multi-machine trial writes its result."""
from __future__ import annotations

import json

import pytest

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
