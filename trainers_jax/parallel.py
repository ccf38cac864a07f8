"""Data parallelism with ``jax.sharding``: one mesh axis over the devices, the batch split along it.

Parameters, optimizer state and BatchNorm statistics are replicated; images and labels are sharded
on their leading (batch) axis. The train step is written on the *global* batch and jitted with these
shardings, so XLA inserts the gradient all-reduce itself and BatchNorm's batch mean and variance are
computed over the global batch: N devices train the same model as one device at the same batch size
(up to float summation order). No ``pmap``, no per-device code.

With several processes (``jax.distributed``), the mesh spans every process's devices and each
process passes only its own rows of the global batch to :meth:`DataParallel.shard`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


class BatchSizeError(ValueError):
    """The global batch does not split evenly over the devices."""


def check_batch_size(batch_size: int, devices: int, name: str = "batchSize") -> None:
    if batch_size % devices:
        raise BatchSizeError(
            f"{name} {batch_size} does not divide by the {devices} devices training this trial "
            f"(each device takes an equal share of the global batch); use a multiple of {devices}")


@dataclass(frozen=True)
class DataParallel:
    mesh: Mesh

    @classmethod
    def over(cls, devices: Sequence[Any] | None = None) -> "DataParallel":
        """A data-parallel layout over `devices` (default: every device of every process)."""
        devices = list(jax.devices() if devices is None else devices)
        return cls(Mesh(np.asarray(devices), (DATA_AXIS,)))

    @property
    def size(self) -> int:
        return int(self.mesh.devices.size)

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def batch(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    def check_batch_size(self, batch_size: int, name: str = "batchSize") -> None:
        check_batch_size(batch_size, self.size, name)

    def process_rows(self, batch_size: int) -> slice:
        """The rows of a global batch that this process feeds (all of them with one process)."""
        per_process = batch_size // jax.process_count()
        start = jax.process_index() * per_process
        return slice(start, start + per_process)

    def replicate(self, tree: Any) -> Any:
        """Place host or device values on every device of the mesh."""
        return jax.device_put(tree, self.replicated)

    def shard(self, local: Any) -> Any:
        """One global batch from this process's rows (a numpy array or a pytree of them)."""
        return jax.tree_util.tree_map(
            lambda x: jax.make_array_from_process_local_data(self.batch, np.asarray(x)), local)
