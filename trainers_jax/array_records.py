"""ArrayRecord shards of an image dataset: the layout ``nasctl data convert`` writes and the trainer reads.

A converted dataset is a folder (local, ``/gcs/`` or ``gs://``) holding, per split (``train``, ``test``,
or ``all`` when the image folder had no split):

* ``<split>-NNNNN.array_record``: the encoded images (JPEG/PNG bytes, one record each), written with
  ``group_size:1`` so Grain reads any record without decompressing its neighbours;
* ``<split>-labels.npy``: the class index of every record, in record order (4 bytes an image, so a
  split's labels can be held for stratified splits and sub-samples);
* ``dataset.json`` (:data:`MANIFEST`), written last: format, class names, and per split the shards,
  their record counts and the labels file. A folder without it is not a finished dataset.

Record counts come from the manifest, so opening a dataset touches no shard; each input worker opens
the shards it reads. Shards under ``gs://`` are copied to the local data cache (:mod:`trainers_jax.storage`)
before they are read (disk ≈ the dataset); on Vertex, read them through ``/gcs/`` instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainers_jax import storage
from trainers_jax.errors import DataError

FORMAT = "nasctl-array-records/1"
MANIFEST = "dataset.json"
WRITER_OPTIONS = "group_size:1"  # random access: one record per chunk
SPLIT_NAMES = ("train", "test", "all")


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.array_record"


def labels_name(split: str) -> str:
    return f"{split}-labels.npy"


@dataclass(frozen=True)
class SplitManifest:
    shards: list[str]
    records: list[int]
    labels: str

    def to_json(self) -> dict[str, Any]:
        return {"shards": self.shards, "records": self.records, "labels": self.labels}


def manifest_document(classes: list[str], splits: dict[str, SplitManifest]) -> dict[str, Any]:
    return {"format": FORMAT, "classes": classes, "splits": {name: split.to_json() for name, split in splits.items()}}


def read_manifest(root: str) -> tuple[list[str], dict[str, SplitManifest]]:
    """Class names and splits of the converted dataset at `root`."""
    where = storage.join(root, MANIFEST)
    try:
        document = json.loads(storage.read_bytes(where))
        if document.get("format") != FORMAT:
            raise DataError(f"{where}: format {document.get('format')!r}, expected {FORMAT!r}")
        splits = {name: SplitManifest(list(raw["shards"]), [int(n) for n in raw["records"]], str(raw["labels"]))
                  for name, raw in document["splits"].items()}
        classes = [str(name) for name in document["classes"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{where}: not a dataset manifest written by `nasctl data convert` ({exc})") from None
    unknown = set(splits) - set(SPLIT_NAMES)
    if unknown or not splits:
        raise DataError(f"{where}: splits {sorted(splits)}, expected some of {list(SPLIT_NAMES)}")
    return classes, splits


class ArrayRecordSource:
    """One split's records, ``(encoded image bytes, label)``; shard readers are opened on first read, per process."""

    def __init__(self, shards: list[Path], records: list[int], labels: np.ndarray):
        if sum(records) != len(labels):
            raise DataError(f"{shards[0].parent if shards else 'dataset'}: {sum(records)} records but {len(labels)} labels")
        self.labels = labels
        self._paths = [f"{path}[0:{count}]" for path, count in zip(shards, records)]  # counts known: no open here
        self._reader: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_reader": None}  # a worker opens its own readers

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[bytes, int]:
        if self._reader is None:
            from grain.sources import ArrayRecordDataSource  # noqa: PLC0415

            self._reader = ArrayRecordDataSource(self._paths)
        return bytes(self._reader[int(index)]), int(self.labels[index])


def open_split(root: str, split: SplitManifest) -> ArrayRecordSource:
    labels = np.load(storage.local_copy(storage.join(root, split.labels)), allow_pickle=False).astype(np.int32)
    shards = [storage.local_copy(storage.join(root, name)) for name in split.shards]
    return ArrayRecordSource(shards, split.records, labels)
