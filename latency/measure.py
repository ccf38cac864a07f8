"""Time a jitted forward pass on this process's default device; FLOPs and memory from XLA.

Warm-up runs, then N timed runs each synchronised with ``block_until_ready``; the median is the
latency, with p90 and the coefficient of variation (std/mean) to judge its stability.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024
# What a measurement reports (flops, memory_mb and peak_memory_mb where the backend gives them).
MEASURED_METRICS = ("latency_ms", "latency_p90_ms", "latency_mean_ms", "latency_cv", "model_memory_mb", "batch_size",
                    "image_size", "runs", "flops", "memory_mb", "peak_memory_mb")


@dataclass(frozen=True)
class LatencyOptions:
    batch_size: int = 1
    image_size: int | None = None  # None: the size the model was trained at
    warmup: int = 20
    runs: int = 50

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.runs < 2 or self.warmup < 0:
            raise ValueError(f"need batch_size ≥ 1, runs ≥ 2, warmup ≥ 0, got {self}")
        if self.image_size is not None and self.image_size < 1:
            raise ValueError(f"image_size must be ≥ 1, got {self.image_size}")


def _first(analysis: Any) -> dict[str, Any]:
    """cost_analysis() is a dict in recent JAX, a list of dicts in older ones."""
    if isinstance(analysis, (list, tuple)):
        return analysis[0] if analysis else {}
    return analysis or {}


def _memory_mb(compiled: Any) -> float | None:
    stats = compiled.memory_analysis()
    if stats is None:
        return None
    total = stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
    return total / MB


def measure_forward(apply_fn: Any, variables: Any, input_shape: tuple[int, ...],
                    options: LatencyOptions) -> dict[str, Any]:
    """Latency (ms) and memory of ``apply_fn(variables, x)`` for x of `input_shape`."""
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    device = jax.devices()[0]
    x = jax.device_put(np.random.default_rng(0).standard_normal(input_shape).astype(np.float32), device)
    variables = jax.device_put(variables, device)
    compiled = jax.jit(apply_fn).lower(variables, x).compile()
    for _ in range(options.warmup):
        jax.block_until_ready(compiled(variables, x))
    times = []
    for _ in range(options.runs):
        start = time.perf_counter()
        jax.block_until_ready(compiled(variables, x))
        times.append((time.perf_counter() - start) * 1000.0)
    ordered = sorted(times)
    mean = statistics.fmean(times)
    result: dict[str, Any] = {
        "latency_ms": statistics.median(times),
        "latency_p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "latency_mean_ms": mean,
        "latency_cv": statistics.stdev(times) / mean if mean > 0 else 0.0,
        "model_memory_mb": sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(variables)) / MB,
        "batch_size": input_shape[0],
        "image_size": input_shape[1],
        "runs": options.runs,
        "device_type": f"{device.platform}:{getattr(device, 'device_kind', '')}",
    }
    flops = _first(compiled.cost_analysis()).get("flops")
    if flops is not None:  # absent on some backends; never reported as NaN (that reads as a NaN failure)
        result["flops"] = float(flops)
    memory = _memory_mb(compiled)
    if memory is not None:
        result["memory_mb"] = memory
    peak = (device.memory_stats() or {}).get("peak_bytes_in_use") if device.platform == "gpu" else None
    if peak is not None:
        result["peak_memory_mb"] = peak / MB
    return result
