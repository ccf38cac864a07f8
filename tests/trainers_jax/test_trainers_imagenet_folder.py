"""A scaled-down copy of the POC trial: an ImageNet-style folder streamed through workers onto 2 devices."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from trial.dirs import LocalTrialDir
from trial.protocol import FAILED, SUCCEEDED

from tests.trainers_jax.test_trainers_data import write_images

MakeTrial = Callable[..., LocalTrialDir]


@pytest.mark.slow  # a trial process with 2 host devices and an input worker
def test_image_folder_trial_streams_onto_two_devices(make_trial: MakeTrial, tmp_path: Path) -> None:
    write_images(tmp_path / "imagenet" / "train", classes=3, per_class=8, size=40)
    write_images(tmp_path / "imagenet" / "val", classes=3, per_class=2, size=40)
    trial = make_trial(args={"dataset": str(tmp_path / "imagenet"), "imageSize": 24, "batchSize": 8,
                             "steps": 4, "evalEvery": 2, "dataWorkers": 1})
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    subprocess.run([sys.executable, "-m", "trial.runner", str(trial.path)], env=env, check=True, timeout=900)
    result = trial.read_result()
    assert result.status == SUCCEEDED, result.message
    assert [c["step"] for c in trial.read_metrics()] == [2, 4] and 0 <= result.metrics["accuracy"] <= 1


@pytest.mark.slow  # a trial process (imports JAX, reads digits)
def test_batch_that_does_not_divide_by_the_devices_fails_the_trial(make_trial: MakeTrial) -> None:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    trial = make_trial(args={"batchSize": 7, "steps": 1})
    subprocess.run([sys.executable, "-m", "trial.runner", str(trial.path)], env=env, timeout=900)
    result = trial.read_result()
    assert result.status == FAILED and "batchSize 7 does not divide by the 2 devices" in result.message
