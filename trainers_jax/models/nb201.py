"""The NAS-Bench-201 network as a Flax (linen) model, so an NB201 search can train for real.

Macro skeleton of the benchmark: stem 3×3 conv, three stages of ``cells`` cells (channels C, 2C,
4C) joined by residual reduction blocks, then BN-ReLU, global pooling and a classifier. A cell has 4
nodes; node j sums op(node i) over i < j along the 6 edges in NB201 order.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from search_spaces.nb201 import EDGES, OPERATIONS
from trainers_jax.models import ArchitectureError


def parse_edges(arch: Any) -> tuple[str, ...]:
    ops = arch.get("edges") if isinstance(arch, dict) else None
    if not isinstance(ops, list) or len(ops) != len(EDGES) or any(op not in OPERATIONS for op in ops):
        raise ArchitectureError(f"not an NB201 cell (6 edges, each one of {OPERATIONS}): {arch!r}")
    return tuple(ops)


class ReLUConvBN(nn.Module):
    features: int
    kernel: int
    stride: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        x = nn.Conv(self.features, (self.kernel, self.kernel), (self.stride, self.stride), padding="SAME",
                    use_bias=False, dtype=self.dtype)(nn.relu(x))
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype)(x)


class Cell(nn.Module):
    ops: Sequence[str]
    dtype: Any = jnp.float32

    def _edge(self, op: str, x: jnp.ndarray, train: bool) -> jnp.ndarray | None:
        if op == "none":
            return None
        if op == "skip_connect":
            return x
        if op == "avg_pool_3x3":
            return nn.avg_pool(x, (3, 3), padding="SAME", count_include_pad=False)
        kernel = 1 if op == "nor_conv_1x1" else 3
        return ReLUConvBN(x.shape[-1], kernel, dtype=self.dtype)(x, train)

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        nodes = [x]
        for node in (1, 2, 3):
            inputs = [self._edge(op, nodes[src], train) for op, (to, src) in zip(self.ops, EDGES) if to == node]
            present = [t for t in inputs if t is not None]
            nodes.append(sum(present[1:], present[0]) if present else jnp.zeros_like(x))
        return nodes[3]


class ResidualReduction(nn.Module):
    features: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        y = ReLUConvBN(self.features, 3, 2, dtype=self.dtype)(x, train)
        y = ReLUConvBN(self.features, 3, 1, dtype=self.dtype)(y, train)
        shortcut = nn.avg_pool(x, (2, 2), (2, 2))
        shortcut = nn.Conv(self.features, (1, 1), use_bias=False, dtype=self.dtype)(shortcut)
        return y + shortcut


class NB201Network(nn.Module):
    ops: Sequence[str]
    num_classes: int
    channels: int = 16
    cells: int = 5
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        x = nn.Conv(self.channels, (3, 3), padding="SAME", use_bias=False, dtype=self.dtype)(x.astype(self.dtype))
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype)(x)
        for stage in range(3):
            if stage:
                x = ResidualReduction(self.channels * 2**stage, dtype=self.dtype)(x, train)
            for _ in range(self.cells):
                x = Cell(self.ops, dtype=self.dtype)(x, train)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype)(x))
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, dtype=self.dtype)(x).astype(jnp.float32)


def build(arch: Any, num_classes: int, channels: int = 16, cells: int = 5, dtype: Any = jnp.float32) -> NB201Network:
    if channels < 1 or cells < 1:
        raise ArchitectureError(f"NB201 channels ({channels}) and cells ({cells}) must be ≥ 1")
    return NB201Network(parse_edges(arch), num_classes, channels, cells, dtype)
