"""The Grain input stream: deterministic per seed, resumable from its state, sharded by process, workers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainers_jax.data import open_dataset
from trainers_jax.input_pipeline import Stream, eval_batches, train_batches
from trainers_jax.preprocess import Preprocess, centre_crop, random_resized_crop

from tests.trainers_jax.test_trainers_data import write_images


@pytest.fixture(scope="module")
def digits():
    return open_dataset("digits")


def _preprocess(data, size: int = 12, **kw) -> Preprocess:
    return Preprocess(size, data.scale, data.encoded, **kw)


def _take(iterator, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [next(iterator) for _ in range(n)]


def test_stream_depends_only_on_the_seed(digits) -> None:
    first = _take(train_batches(digits.train, _preprocess(digits), Stream(16), seed=3), 2)
    again = _take(train_batches(digits.train, _preprocess(digits), Stream(16), seed=3), 2)
    other = _take(train_batches(digits.train, _preprocess(digits), Stream(16), seed=4), 2)
    assert first[0][0].shape == (16, 12, 12, 1) and first[0][1].dtype == np.int32
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not np.array_equal(first[0][1], other[0][1])


def test_restored_state_continues_the_same_order(digits) -> None:
    batches = train_batches(digits.train, _preprocess(digits), Stream(16), seed=0)
    _take(batches, 3)
    state = batches.get_state()
    expected = _take(batches, 2)
    resumed = train_batches(digits.train, _preprocess(digits), Stream(16), seed=0)
    resumed.set_state(state)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(expected, _take(resumed, 2)))


def test_processes_read_disjoint_rows_that_make_up_the_global_batch(digits) -> None:
    whole = next(train_batches(digits.train, _preprocess(digits), Stream(8), seed=0))
    parts = [next(train_batches(digits.train, _preprocess(digits), Stream(8, p, 2), seed=0)) for p in range(2)]
    assert all(len(part[1]) == 4 for part in parts)
    rows = np.concatenate([part[0] for part in parts]).reshape(8, -1)
    assert sorted(map(bytes, rows)) == sorted(map(bytes, whole[0].reshape(8, -1)))


def test_evaluation_covers_the_test_set_once_in_order(digits) -> None:
    batches = list(eval_batches(digits.test, _preprocess(digits, train=False), 100, workers=0))
    assert [len(y) for _, y in batches] == [100, 100, 100, len(digits.test) - 300]
    assert np.array_equal(np.concatenate([y for _, y in batches]), digits.test.labels)


def test_imagenet_crops_have_the_training_size_and_vary_with_the_generator() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    crops = [np.asarray(random_resized_crop(image, 16, np.random.default_rng(seed))) for seed in (0, 1)]
    assert crops[0].shape == (16, 16, 3) and not np.array_equal(*crops)
    assert centre_crop(image, 16).size == (16, 16)


@pytest.mark.slow  # starts worker processes
def test_workers_decode_a_folder_into_the_same_batches(tmp_path: Path) -> None:
    write_images(tmp_path, classes=2, per_class=8)
    data = open_dataset(str(tmp_path))
    inline = _take(train_batches(data.train, _preprocess(data), Stream(4), seed=0), 3)
    workers = train_batches(data.train, _preprocess(data), Stream(4, workers=2), seed=0)
    try:
        parallel = _take(workers, 3)
    finally:
        workers.close()
    assert inline[0][0].shape == (4, 12, 12, 3)
    assert all(np.allclose(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(inline, parallel))



_FAULTS_PER_BATCH = """
import resource, sys
from pathlib import Path
import numpy as np
from PIL import Image
from trainers_jax.input_pipeline import _reuse_freed_memory
from trainers_jax.preprocess import Preprocess
if sys.argv[1] == "tuned":
    _reuse_freed_memory()
folder, rng = Path(sys.argv[2]), np.random.default_rng(0)
for i in range(8):
    Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
preprocess = Preprocess(224, imagenet=True)
def batch():  # what a worker does per batch: decode and crop 32 images, stack them; all freed after
    return np.stack([preprocess((str(folder / f"{i % 8}.jpg"), 0), rng)[0] for i in range(32)])
batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    batch()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt and Linux page-fault counts")
def test_workers_reuse_the_memory_of_the_previous_batch(tmp_path: Path) -> None:
    def faults_per_batch(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", _FAULTS_PER_BATCH, mode, str(tmp_path)], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).parents[2])
        return float(out.stdout.strip().splitlines()[-1])

    default = faults_per_batch("default")
    assert default > 20  # glibc hands freed image memory back to the kernel: fresh pages every batch
    assert faults_per_batch("tuned") < 0.1 * default
