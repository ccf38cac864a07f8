"""A scaled-down copy of the POC trial: an ImageNet-style folder (or its shards, local or on gs://) streamed
through workers onto 2 devices."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from trainers_jax.convert import ConvertOptions, convert, plan_conversion
from trainers_jax.storage import CACHE_ENV, upload
from trial.dirs import LocalTrialDir
from trial.protocol import FAILED, SUCCEEDED

from tests.trainers_jax.test_trainers_data import write_images

MakeTrial = Callable[..., LocalTrialDir]


def _dataset(kind: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """The folder itself, its ArrayRecord shards, or the shards uploaded to the fake GCS server."""
    if kind == "folder":
        return str(folder)
    shards = folder.parent / "shards"
    convert(plan_conversion(str(folder)), str(shards), ConvertOptions(shard_mb=0.004, workers=1))
    if kind == "shards":
        return str(shards)
    bucket = request.getfixturevalue("gcs_bucket")  # sets STORAGE_EMULATOR_HOST, which the trial inherits
    for path in shards.iterdir():
        upload(path, f"gs://{bucket}/shards/{path.name}")
    return f"gs://{bucket}/shards"


@pytest.mark.slow  # a trial process with 2 host devices and an input worker
@pytest.mark.parametrize("kind", ["folder", "shards", "gcs-shards"])
def test_image_folder_trial_streams_onto_two_devices(kind: str, make_trial: MakeTrial, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    write_images(tmp_path / "imagenet" / "train", classes=3, per_class=8, size=40)
    write_images(tmp_path / "imagenet" / "val", classes=3, per_class=2, size=40)
    trial = make_trial(args={"dataset": _dataset(kind, tmp_path / "imagenet", request), "imageSize": 24,
                             "batchSize": 8, "steps": 4, "evalEvery": 2, "dataWorkers": 1})
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           CACHE_ENV: str(tmp_path / "cache")}
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
