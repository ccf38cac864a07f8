"""Streaming input with Grain: shuffled, preprocessed, batched records, decoded in worker processes.

The training stream is one infinite, deterministic sequence of records for a seed: epoch after epoch
of a fresh permutation (``shuffle`` then ``repeat``), each record preprocessed with a generator drawn
from (seed, position), so crops, flips and RandAugment draws are the same on every run. Process ``p``
of ``P`` reads records ``p, p + P, p + 2P, …`` of that sequence and batches them by ``batch / P``:
together the processes feed exactly the records of one global batch per step, each host reading only
its own share, and one process reads them all.

Batches are formed before the records are handed to workers, so a batch's content does not depend on
the number of workers; prefetch buffers hold a few batches, so host memory does not grow with the
dataset. The iterator's state (its position, per worker) is saved with each checkpoint and restored
on resume, so a relaunched trial continues the data exactly where the checkpoint left it.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Any, Iterator

import grain
import numpy as np
from absl import flags

from trainers_jax.data import Source
from trainers_jax.preprocess import Preprocess

PREFETCH_BATCHES = 2
# glibc mallopt parameters (malloc.h) and the values a worker sets: see _reuse_freed_memory.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
WORKER_TRIM_THRESHOLD, WORKER_MMAP_THRESHOLD = 1 << 30, 256 << 20


def default_workers(encoded: bool) -> int:
    """Worker processes: none for arrays (cheap to resize), one per core (up to 16) for image files."""
    return min(os.cpu_count() or 1, 16) if encoded else 0


@dataclass(frozen=True)
class Stream:
    """Where this process reads in the global record sequence, and how wide its batches are."""

    batch_size: int  # global
    process_index: int = 0
    process_count: int = 1
    workers: int = 0

    @property
    def local_batch(self) -> int:
        return self.batch_size // self.process_count


class _RandomPreprocess(grain.transforms.RandomMap):
    def __init__(self, preprocess: Preprocess):
        self.preprocess = preprocess

    def random_map(self, element: Any, rng: np.random.Generator) -> Any:
        return self.preprocess(element, rng)


class _FixedPreprocess(grain.transforms.Map):
    def __init__(self, preprocess: Preprocess):
        self.preprocess = preprocess

    def map(self, element: Any) -> Any:
        return self.preprocess(element)


def _reuse_freed_memory(worker_index: int = 0, worker_count: int = 1) -> None:
    """Make glibc keep and reuse the memory a worker frees instead of handing it back to the kernel.

    By default every allocation over 128 kB (a decoded image, a batch) gets fresh pages from the kernel
    and returns them when freed, so a worker pays a page fault per 4 kB of every image it makes: 20–30 %
    of its time on this project's CPU VMs. With large-allocation and trim thresholds raised, the memory
    of one batch is reused for the next; the worker's footprint stays at about one batch in flight.
    A no-op where the C library has no ``mallopt`` (not glibc).
    """
    del worker_index, worker_count  # Grain's worker_init_fn signature
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library already loaded in this process
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD)


def _iterate(batches: grain.MapDataset, workers: int) -> grain.DatasetIterator:
    # In-process, one thread prepares batches while the train step runs. With worker processes the
    # workers are the overlap; a thread inside each would only hand the GIL back and forth (~8 % fewer
    # images/s with 2 workers here). A worker stacks each batch straight into shared memory: otherwise
    # Grain copies every finished batch there once more.
    threads = 0 if workers else 1
    if workers:
        batches.enable_shared_memory_output()
    stream = batches.to_iter_dataset(grain.ReadOptions(num_threads=threads, prefetch_buffer_size=PREFETCH_BATCHES * threads))
    if workers:
        if not flags.FLAGS.is_parsed():  # Grain's workers read its absl flags; a trial never parses argv with absl
            flags.FLAGS.mark_as_parsed()
        stream = stream.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers,
                                                                 per_worker_buffer_size=PREFETCH_BATCHES),
                                    worker_init_fn=_reuse_freed_memory)
    return iter(stream)


def train_batches(source: Source, preprocess: Preprocess, stream: Stream, seed: int) -> grain.DatasetIterator:
    """An endless iterator of this process's (images, labels) training batches; `get_state`/`set_state` resume it."""
    records = grain.MapDataset.source(source).seed(seed).shuffle().repeat()
    records = records.random_map(_RandomPreprocess(preprocess))[stream.process_index::stream.process_count]
    return _iterate(records.batch(stream.local_batch, drop_remainder=True), stream.workers)


def eval_batches(source: Source, preprocess: Preprocess, batch_size: int, workers: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The whole evaluation set once, in order (the last batch may be short)."""
    records = grain.MapDataset.source(source).map(_FixedPreprocess(preprocess))
    iterator = _iterate(records.batch(batch_size), workers)
    try:
        yield from iterator
    finally:
        iterator.close()  # stops its worker processes
