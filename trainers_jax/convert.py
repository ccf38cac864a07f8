"""``nasctl data convert``: an image folder → ArrayRecord shards (layout in :mod:`trainers_jax.array_records`).

Why convert: an ImageNet folder is 1.28 M small files, one open (one request through ``/gcs/`` or
``gs://``) per image per epoch; shards are a few hundred large files read by record index.

Images are copied as they are (their encoded bytes; each is checked to open as an image first, so a
broken file is named here rather than found by a trial) or, with ``resize_shorter``, decoded, resized
so their shorter side is that many pixels and re-encoded as JPEG — the usual ImageNet shrink that
makes every later epoch decode faster. The work runs in a pool (threads for copies, which wait on
storage; processes for resizing, which is CPU work); records keep the folder's order (class, then
file name), so a conversion is reproducible. Shards are written to a local staging folder and
uploaded as each closes when the destination is ``gs://``; the manifest is written last.
"""
from __future__ import annotations

import io
import json
import multiprocessing
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from state.files import atomic_write
from trainers_jax import storage
from trainers_jax.array_records import (MANIFEST, WRITER_OPTIONS, SplitManifest, labels_name, manifest_document,
                                        shard_name)
from trainers_jax.data import folder_splits, list_folder
from trainers_jax.errors import DataError

DEFAULT_SHARD_MB = 256
JPEG_QUALITY = 90
CHUNK = 32  # images handed to a pool worker at a time


@dataclass(frozen=True)
class ConvertOptions:
    shard_mb: float = DEFAULT_SHARD_MB
    resize_shorter: int | None = None
    workers: int = 8


@dataclass(frozen=True)
class ConvertPlan:
    """What a conversion will read: per split, the image files and their labels."""

    source: str
    classes: list[str]
    splits: dict[str, tuple[tuple[str, ...], np.ndarray]]

    @property
    def images(self) -> int:
        return sum(len(files) for files, _ in self.splits.values())


@dataclass(frozen=True)
class ConvertSummary:
    destination: str
    classes: int
    images: int
    shards: int
    bytes_written: int


def plan_conversion(source: str) -> ConvertPlan:
    """List `source` (an image folder, optionally with train/ and test/ or val/) without reading an image."""
    if not storage.is_dir(source):
        raise DataError(f"{source}: not an image folder (expected one sub-folder of JPEG/PNG images per class)")
    train_dir, test_dir = folder_splits(source)
    train, classes = list_folder(train_dir)
    if test_dir is None:
        return ConvertPlan(source, classes, {"all": (train.files, train.labels)})
    test, _ = list_folder(test_dir, classes)
    return ConvertPlan(source, classes, {"train": (train.files, train.labels), "test": (test.files, test.labels)})


def encoded_image(location: str, resize_shorter: int | None) -> bytes:
    """The bytes stored for one image file: as it is, or shrunk to `resize_shorter` and re-encoded."""
    data = storage.read_bytes(location)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if resize_shorter is None:
                image.verify()  # header and structure only; no full decode
                return data
            image = image.convert("RGB")
            scale = resize_shorter / min(image.size)
            if scale < 1:
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY)
            return out.getvalue()
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:  # PIL raises SyntaxError for broken PNG chunks
        raise DataError(f"{location}: unreadable image ({exc})") from None


def _encode(args: tuple[str, int | None]) -> bytes:
    return encoded_image(*args)


class _ShardWriter:
    """Writes one split's records into shards of about `shard_bytes`, publishing each as it closes."""

    def __init__(self, split: str, staging: Path, destination: str, shard_bytes: float):
        self.split, self.staging, self.destination, self.shard_bytes = split, staging, destination, shard_bytes
        self.names: list[str] = []
        self.counts: list[int] = []
        self.bytes_written = 0
        self._writer = None
        self._current = 0.0

    def add(self, record: bytes) -> None:
        if self._writer is None:
            self._open()
        self._writer.write(record)
        self.counts[-1] += 1
        self._current += len(record)
        self.bytes_written += len(record)
        if self._current >= self.shard_bytes:
            self._close()

    def _open(self) -> None:
        from array_record.python.array_record_module import ArrayRecordWriter  # noqa: PLC0415

        self.names.append(shard_name(self.split, len(self.names)))
        self.counts.append(0)
        self._writer, self._current = ArrayRecordWriter(str(self.staging / self.names[-1]), WRITER_OPTIONS), 0.0

    def _close(self) -> None:
        self._writer.close()
        self._writer = None
        _publish(self.staging / self.names[-1], self.destination)

    def finish(self) -> None:
        if self._writer is not None:
            self._close()


def _publish(path: Path, destination: str) -> None:
    """A finished file: uploaded (then removed) for a gs:// destination; already in place locally."""
    if storage.is_remote(destination):
        storage.upload(path, storage.join(destination, path.name))
        path.unlink()


def _records(files: tuple[str, ...], options: ConvertOptions, stack: ExitStack) -> Iterator[bytes]:
    jobs = [(location, options.resize_shorter) for location in files]
    if options.workers <= 1:
        return map(_encode, jobs)
    pool = (multiprocessing.get_context("spawn").Pool if options.resize_shorter else ThreadPool)(options.workers)
    stack.callback(pool.terminate)
    return pool.imap(_encode, jobs, chunksize=CHUNK)  # in order, a bounded number of chunks ahead


def convert(plan: ConvertPlan, destination: str, options: ConvertOptions = ConvertOptions(),
            on_images: Callable[[int], None] = lambda done: None) -> ConvertSummary:
    """Write `plan`'s images as ArrayRecord shards under `destination`; `on_images(n)` after every n images."""
    if storage.exists(storage.join(destination, MANIFEST)):
        raise DataError(f"{destination}: already holds a converted dataset ({MANIFEST}); choose another destination")
    remote = storage.is_remote(destination)
    splits: dict[str, SplitManifest] = {}
    written = 0
    with ExitStack() as stack:
        staging = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nasctl-convert-"))) if remote \
            else Path(storage.resolve(destination))
        staging.mkdir(parents=True, exist_ok=True)
        for split, (files, labels) in plan.splits.items():
            writer = _ShardWriter(split, staging, destination, options.shard_mb * 2**20)
            for record in _records(files, options, stack):
                writer.add(record)
                on_images(1)
            writer.finish()
            np.save(staging / labels_name(split), labels.astype(np.int32))
            _publish(staging / labels_name(split), destination)
            splits[split] = SplitManifest(writer.names, writer.counts, labels_name(split))
            written += writer.bytes_written
        atomic_write(staging / MANIFEST, json.dumps(manifest_document(plan.classes, splits), indent=1).encode())
        _publish(staging / MANIFEST, destination)
    return ConvertSummary(destination, len(plan.classes), plan.images, sum(len(s.shards) for s in splits.values()),
                          written)
