"""A Flax (linen) MnasNet-family network built from a list of block specs.

A block spec is what ``search_spaces.mnasnet`` materialises to: ``repeats``, ``block`` (``mbconv``:
inverted residual, expansion 1 = depthwise-separable; ``conv``: one k×k convolution), ``expand``,
``kernel``, ``se`` (squeeze-excitation ratio of the block's input channels), ``filters``, ``stride``.
The width multiplier scales every channel count (rounded to a multiple of 8) and the depth
multiplier every repeat count (rounded up): the "scaled-down model" proxy-task lever.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from search_spaces.mnasnet import make_divisible
from trainers_jax.models import ArchitectureError

BLOCK_KEYS = ("repeats", "block", "expand", "kernel", "se", "filters", "stride")


@dataclass(frozen=True)
class BlockSpec:
    repeats: int
    block: str
    expand: int
    kernel: int
    se: float
    filters: int
    stride: int

    @classmethod
    def parse(cls, index: int, raw: Any) -> "BlockSpec":
        if not isinstance(raw, dict) or sorted(raw) != sorted(BLOCK_KEYS):
            raise ArchitectureError(f"block {index}: expected keys {list(BLOCK_KEYS)}, got {raw!r}")
        spec = cls(int(raw["repeats"]), str(raw["block"]), int(raw["expand"]), int(raw["kernel"]),
                   float(raw["se"]), int(raw["filters"]), int(raw["stride"]))
        problems = [
            msg for ok, msg in (
                (spec.block in ("conv", "mbconv"), f"block type {spec.block!r} is not conv or mbconv"),
                (spec.repeats >= 1, f"repeats {spec.repeats} < 1"),
                (spec.expand >= 1, f"expand {spec.expand} < 1"),
                (spec.kernel >= 1 and spec.kernel % 2 == 1, f"kernel {spec.kernel} is not a positive odd number"),
                (0.0 <= spec.se < 1.0, f"se ratio {spec.se} not in [0, 1)"),
                (spec.filters >= 1, f"filters {spec.filters} < 1"),
                (spec.stride in (1, 2), f"stride {spec.stride} not 1 or 2"),
            ) if not ok
        ]
        if problems:
            raise ArchitectureError(f"block {index}: " + "; ".join(problems))
        return spec


def parse_blocks(arch: dict[str, Any], width: float = 1.0, depth: float = 1.0) -> tuple[int, list[BlockSpec], int]:
    """Validate an architecture and apply the width/depth multipliers: (stem, blocks, head)."""
    if not isinstance(arch, dict) or not isinstance(arch.get("blocks"), list) or not arch["blocks"]:
        raise ArchitectureError(f"a MnasNet architecture needs a non-empty 'blocks' list, got {arch!r}")
    if width <= 0 or depth <= 0:
        raise ArchitectureError(f"width ({width}) and depth ({depth}) multipliers must be positive")
    blocks = [BlockSpec.parse(i, raw) for i, raw in enumerate(arch["blocks"])]
    scaled = [
        BlockSpec(math.ceil(b.repeats * depth), b.block, b.expand, b.kernel, b.se,
                  make_divisible(b.filters * width), b.stride)
        for b in blocks
    ]
    stem = make_divisible(int(arch.get("stem", 32)) * width)
    head = make_divisible(int(arch.get("head", 1280)) * width)
    return stem, scaled, head


class ConvBN(nn.Module):
    features: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    act: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        x = nn.Conv(self.features, (self.kernel, self.kernel), (self.stride, self.stride), padding="SAME",
                    feature_group_count=self.groups, use_bias=False, dtype=self.dtype)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype)(x)
        return nn.relu(x) if self.act else x


class SqueezeExcite(nn.Module):
    reduced: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        s = jnp.mean(x, axis=(1, 2), keepdims=True)
        s = nn.relu(nn.Conv(self.reduced, (1, 1), dtype=self.dtype)(s))
        s = nn.sigmoid(nn.Conv(x.shape[-1], (1, 1), dtype=self.dtype)(s))
        return x * s


class Block(nn.Module):
    """One layer of a block spec: MBConv (inverted residual) or a plain k×k conv, residual when shapes match."""

    spec: BlockSpec
    stride: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        spec, in_ch = self.spec, x.shape[-1]
        y = x
        if spec.block == "conv":
            y = ConvBN(spec.filters, spec.kernel, self.stride, dtype=self.dtype)(y, train)
        else:
            mid = in_ch * spec.expand
            if spec.expand != 1:
                y = ConvBN(mid, dtype=self.dtype)(y, train)
            y = ConvBN(mid, spec.kernel, self.stride, groups=mid, dtype=self.dtype)(y, train)
        if spec.se > 0:
            y = SqueezeExcite(max(1, int(in_ch * spec.se)), dtype=self.dtype)(y)
        if spec.block == "mbconv":
            y = ConvBN(spec.filters, act=False, dtype=self.dtype)(y, train)
        if self.stride == 1 and in_ch == spec.filters:
            y = y + x
        return y


class MnasNet(nn.Module):
    stem: int
    blocks: Sequence[BlockSpec]
    head: int
    num_classes: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        x = ConvBN(self.stem, 3, 2, dtype=self.dtype)(x.astype(self.dtype), train)
        for spec in self.blocks:
            for repeat in range(spec.repeats):
                x = Block(spec, spec.stride if repeat == 0 else 1, dtype=self.dtype)(x, train)
        x = ConvBN(self.head, dtype=self.dtype)(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, dtype=self.dtype)(x).astype(jnp.float32)


def build(arch: dict[str, Any], num_classes: int, width: float = 1.0, depth: float = 1.0,
          dtype: Any = jnp.float32) -> MnasNet:
    stem, blocks, head = parse_blocks(arch, width, depth)
    return MnasNet(stem=stem, blocks=tuple(blocks), head=head, num_classes=num_classes, dtype=dtype)
