"""Data parallel over host devices: 8 devices train the same model as 1 at the same global batch."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trainers_jax.parallel import BatchSizeError, check_batch_size


@pytest.mark.slow  # compiles the step for 1 and 8 devices in a fresh process
def test_eight_host_devices_match_one_device_at_the_same_global_batch() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.data_parallel", "--devices", "8", "--steps", "3",
                          "--batch-size", "16", "--json"], capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 8
    assert result["lossDiff"] < 1e-4 and result["maxParamDiff"] < 1e-4
    assert result["finalLoss"] > 0


def test_batch_that_does_not_divide_by_the_devices_is_a_clear_error() -> None:
    check_batch_size(7, 1)  # one device takes any batch
    with pytest.raises(BatchSizeError, match=r"batchSize 8 does not divide by the 3 devices.*multiple of 3"):
        check_batch_size(8, 3)
