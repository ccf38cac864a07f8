"""Several machines: ``jax.distributed`` set up from the environment the job runs in.

* Vertex AI multi-replica worker pools set ``CLUSTER_SPEC`` (``{"cluster": {"workerpool0": ["host:port"],
  "workerpool1": [...]}, "task": {"type": "workerpool1", "index": 0}}``). The training processes are the
  primary pool's replica followed by the worker pool's replicas, in order; the primary replica's address
  is the coordinator. (Pools 2 and 3 are Vertex's parameter-server and evaluator pools: no part of a
  data-parallel JAX job.)
* Cloud TPU pod slices set ``TPU_WORKER_HOSTNAMES`` (one host name per TPU VM); JAX finds the
  coordinator and process ids there itself.

One machine (no ``CLUSTER_SPEC``, one replica, one TPU host) needs nothing. Once initialised,
``jax.devices()`` lists every process's devices, so the data-parallel mesh spans all machines; each
process feeds its own rows of the global batch, and process 0 alone writes metrics and the saved model.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

import numpy as np

TRAINING_POOLS = ("workerpool0", "workerpool1")


class ClusterError(ValueError):
    """A cluster description that cannot start a data-parallel job."""


@dataclass(frozen=True)
class Cluster:
    coordinator: str  # host:port of process 0
    num_processes: int
    process_id: int


def vertex_cluster(cluster_spec: str) -> Cluster | None:
    """The processes of a Vertex ``CLUSTER_SPEC``; None for a single replica."""
    try:
        spec = json.loads(cluster_spec)
        pools, task = spec["cluster"], spec["task"]
        addresses = [(name, address) for name in TRAINING_POOLS for address in pools.get(name, [])]
        me = (task["type"], pools[task["type"]][int(task["index"])])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ClusterError(f"CLUSTER_SPEC is not a Vertex cluster description ({exc}): {cluster_spec[:200]}") from None
    if me[0] not in TRAINING_POOLS:
        raise ClusterError(f"task {me[0]} is not a training pool ({', '.join(TRAINING_POOLS)}): "
                           "a data-parallel trainer runs in the primary and worker pools only")
    if len(addresses) == 1:
        return None
    return Cluster(coordinator=addresses[0][1], num_processes=len(addresses), process_id=addresses.index(me))


def initialize(env: Mapping[str, str]) -> int:
    """Join the job's other processes when there are any; returns how many processes train."""
    import jax  # noqa: PLC0415

    if env.get("CLUSTER_SPEC"):
        cluster = vertex_cluster(env["CLUSTER_SPEC"])
        if cluster is not None:
            jax.distributed.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)
    elif len([h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1:
        jax.distributed.initialize()  # a TPU pod slice: JAX reads the TPU metadata itself
    return jax.process_count()


def is_writer() -> bool:
    """Whether this process writes the trial's metrics, checkpoints' JSON parts, model and result."""
    import jax  # noqa: PLC0415

    return jax.process_index() == 0


def agree(value: int) -> int:
    """Process 0's `value` on every process: decisions that read clocks or files (stop signals) must be
    the same everywhere, or the processes' collectives would wait on each other forever."""
    import jax  # noqa: PLC0415

    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils  # noqa: PLC0415

    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))
