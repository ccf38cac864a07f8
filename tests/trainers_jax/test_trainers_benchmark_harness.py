"""The throughput benchmark's JAX side runs without torch, on the trainer's own train step."""
from __future__ import annotations

import argparse
import sys

import pytest

from benchmarks import trainer_throughput

from tests.support.trainer_fixtures import TINY_ARCH


@pytest.mark.slow  # compiles a train step: seconds alone, ~40 s on a busy 2-core machine
def test_jax_side_measures_compile_and_throughput_without_torch() -> None:
    args = argparse.Namespace(image_size=16, batch_size=4, num_classes=10, steps=2, warmup=1)
    line = trainer_throughput._time_jax(TINY_ARCH, args, "jax")
    assert line["images_per_s"] > 0 and line["compile_s"] > 0
    assert (line["image_size"], line["batch_size"]) == (16, 4)
    assert "torch" not in sys.modules
