"""Training data as random-access sources of (image, label) records; nothing is decoded up front.

* ``digits``: the 1,797 real 8×8 handwritten digits of the UCI "Optical Recognition of Handwritten Digits"
  test set (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), bundled as ``data/digits.csv.gz`` (64 pixels 0..16,
  then the label, per row), in memory.
* ``*.npz``: ``x_train, y_train, x_test, y_test`` (or ``x, y``, split here); images NHWC or NHW.
  Arrays stored uncompressed (``np.savez``) are memory-mapped, so a trial's memory does not grow with
  the file; compressed members (``np.savez_compressed``) have to be read whole.
* a folder: one sub-folder per class with JPEG/PNG files, or ``train/`` and ``test/`` (or ``val/``)
  folders laid out that way. Only the file list is held; records are file paths, read and decoded
  by the input workers.
* a folder of ArrayRecord shards written by ``nasctl data convert`` (it holds ``dataset.json``):
  records are the encoded images, read by index from the shards (:mod:`trainers_jax.array_records`).

Every location may be local, ``/gcs/...`` (Vertex's FUSE mount) or ``gs://...`` (:mod:`trainers_jax.storage`).

Sources are picklable and small (a path and offsets, or a file list) so worker processes can receive them.
"""
from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trainers_jax import storage
from trainers_jax.array_records import MANIFEST, open_split, read_manifest
from trainers_jax.errors import DataError

DIGITS_FILE = Path(__file__).with_name("data") / "digits.csv.gz"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Class folders listed at once. On gs:// each listing is a round trip (one per 1,000 images), so
# ImageNet's 1,000 classes listed one after another cost minutes at every trial start.
LISTING_THREADS = 32
STATISTICS_SAMPLE = 10_000  # images read to estimate an array set's channel mean and std
IMAGENET_MEAN = np.asarray([0.485, 0.456, 0.406], np.float32)  # image folders are normalised like ImageNet
IMAGENET_STD = np.asarray([0.229, 0.224, 0.225], np.float32)


class Source(Protocol):
    labels: np.ndarray

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, int]: ...


class NpzMember:
    """One uncompressed array inside an ``.npz`` file, memory-mapped on first use (also in each worker)."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, ...], dtype: np.dtype, fortran: bool):
        self.path, self.offset, self.shape, self.dtype, self.fortran = path, offset, shape, dtype, fortran
        self._array: np.ndarray | None = None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.memmap(self.path, self.dtype, "r", self.offset, self.shape,
                                    order="F" if self.fortran else "C")
        return self._array

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_array": None}  # a worker maps the file itself rather than receive a copy

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self.array[index])

    def __len__(self) -> int:
        return self.shape[0]


@dataclass(frozen=True)
class ArraySource:
    """Records of an image array (in memory or an :class:`NpzMember`) shaped N×H×W×C, and its labels."""

    images: Any
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.images[int(index)], int(self.labels[index])


@dataclass(frozen=True)
class FileSource:
    """Records of image files: their paths, read and decoded by the preprocessing in the workers."""

    files: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.files[index], int(self.labels[index])


@dataclass(frozen=True)
class Subset:
    """The records of `source` at `indices` (a split, or a class-balanced sub-sample)."""

    source: Any
    indices: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return self.source.labels[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        return self.source[int(self.indices[index])]


@dataclass(frozen=True)
class Splits:
    train: Source
    test: Source
    num_classes: int
    channels: int
    image_size: int | None  # arrays: their native size; image files: None (any size)
    mean: np.ndarray  # per channel, of pixel values in [0, 1]
    std: np.ndarray
    scale: float = 1.0  # array records: the value of a white pixel
    encoded: bool = False  # records are image files: ImageNet-style crops apply


def _split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, shuffled train/test indices (the same for a given seed).

    Each class gives ``round(test_fraction × its size)`` records to the test set, at least one when it has two
    or more and never its last one. One sort, so a million labels take well under a second."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(labels))
    grouped = shuffled[np.argsort(labels[shuffled], kind="stable")]  # by class, shuffled within each class
    _, starts, sizes = np.unique(labels[grouped], return_index=True, return_counts=True)
    rank_in_class = np.arange(len(grouped)) - np.repeat(starts, sizes)
    tests = np.clip(np.round(test_fraction * sizes), np.minimum(1, sizes - 1), sizes - 1)
    is_test = rank_in_class < np.repeat(tests, sizes)
    return rng.permutation(grouped[~is_test]), rng.permutation(grouped[is_test])


def _statistics(images: Any, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Channel mean and std (in [0, 1] units) of a sorted random sample of the training images, and the
    value of a white pixel: 255 for integer arrays or floats above 1, else 1."""
    n = len(images)
    sample = np.asarray(images[np.sort(np.random.default_rng(seed).choice(n, min(n, STATISTICS_SAMPLE), replace=False))])
    scale = 255.0 if np.issubdtype(sample.dtype, np.integer) or sample.max(initial=0) > 1.0 else 1.0
    sample = sample.astype(np.float32) / scale
    return sample.mean(axis=(0, 1, 2)), sample.std(axis=(0, 1, 2)) + 1e-6, scale


class _Nhwc:
    """An N×H×W image array seen as N×H×W×1 without copying it."""

    def __init__(self, images: Any):
        self.images = images
        self.shape = (*images.shape, 1)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self.images[index])[..., None]

    def __len__(self) -> int:
        return len(self.images)


def _array_splits(x_train: Any, y_train: np.ndarray, x_test: Any, y_test: np.ndarray, seed: int, source: str) -> Splits:
    shape = tuple(x_train.shape)
    if len(shape) not in (3, 4) or shape[1] != shape[2]:
        raise DataError(f"{source}: expected square images shaped N×H×W or N×H×W×C, got {shape}")
    if len(shape) == 3:
        x_train, x_test = _Nhwc(x_train), _Nhwc(x_test)
    mean, std, scale = _statistics(x_train, seed)
    y_train, y_test = np.asarray(y_train, np.int32), np.asarray(y_test, np.int32)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Splits(ArraySource(x_train, y_train), ArraySource(x_test, y_test), num_classes, int(x_train.shape[3]),
                  int(shape[1]), mean, std, scale)


def _digits(seed: int, test_fraction: float) -> Splits:
    rows = np.loadtxt(DIGITS_FILE, delimiter=",", dtype=np.int32)
    x, y = (rows[:, :64].reshape(-1, 8, 8, 1) / 16.0).astype(np.float32), rows[:, 64]
    train, test = _split(y, test_fraction, seed)
    return _array_splits(x[train], y[train], x[test], y[test], seed, "digits")


def _npz_arrays(path: Path) -> dict[str, Any]:
    """Every array of an .npz file: uncompressed ones memory-mapped, compressed ones read."""
    arrays: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                if info.compress_type != zipfile.ZIP_STORED:
                    with archive.open(info) as member:
                        arrays[name] = np.lib.format.read_array(member)
                    continue
                raw.seek(info.header_offset + 26)  # the local header's name and extra-field lengths
                name_len, extra_len = np.frombuffer(raw.read(4), "<u2")
                raw.seek(info.header_offset + 30 + int(name_len) + int(extra_len))
                version = np.lib.format.read_magic(raw)
                shape, fortran, dtype = (np.lib.format.read_array_header_1_0(raw) if version == (1, 0)
                                         else np.lib.format.read_array_header_2_0(raw))
                arrays[name] = NpzMember(path, raw.tell(), shape, dtype, fortran)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read .npz arrays ({exc})") from None
    return arrays


def _labels(member: Any) -> np.ndarray:
    return np.asarray(member.array if isinstance(member, NpzMember) else member, np.int32)


def _npz(path: Path, seed: int, test_fraction: float) -> Splits:
    data = _npz_arrays(path)
    if {"x_train", "y_train", "x_test", "y_test"} <= data.keys():
        return _array_splits(data["x_train"], _labels(data["y_train"]), data["x_test"], _labels(data["y_test"]),
                             seed, str(path))
    if {"x", "y"} <= data.keys():
        splits = _array_splits(data["x"], _labels(data["y"]), data["x"], _labels(data["y"]), seed, str(path))
        train, test = _split(splits.train.labels, test_fraction, seed)
        return replace(splits, train=Subset(splits.train, train), test=Subset(splits.test, test))
    raise DataError(f"{path}: expected arrays x_train, y_train, x_test, y_test (or x, y), got {sorted(data)}")


def list_folder(root: str, classes: list[str] | None = None) -> tuple[FileSource, list[str]]:
    """The images of a folder with one sub-folder per class (the classes of `classes`, if given)."""
    classes = classes or storage.subfolders(root)
    if not classes:
        raise DataError(f"{root}: no class folders (expected one folder of JPEG/PNG images per class)")
    folders = [storage.join(root, name) for name in classes]
    with ThreadPoolExecutor(min(LISTING_THREADS, len(folders))) as pool:
        per_class = list(pool.map(_images_in, folders))
    files: list[str] = []
    labels: list[int] = []
    for label, (name, folder, found) in enumerate(zip(classes, folders, per_class)):
        if not found:
            raise DataError(f"{folder}: no JPEG/PNG images for class {name!r}")
        files += found
        labels += [label] * len(found)
    return FileSource(tuple(files), np.asarray(labels, np.int32)), classes


def _images_in(folder: str) -> list[str]:
    """The images directly inside `folder`; none if it is missing or not a folder."""
    try:
        return storage.files(folder, IMAGE_SUFFIXES)
    except (FileNotFoundError, NotADirectoryError):
        return []


def folder_splits(root: str) -> tuple[str, str | None]:
    """``(train, test)`` folders of an image folder: ``train/`` and ``test/`` (or ``val/``), else ``(root, None)``."""
    test = next((folder for folder in (storage.join(root, name) for name in ("test", "val")) if storage.is_dir(folder)),
                None)
    train = storage.join(root, "train")
    return (train, test) if test is not None and storage.is_dir(train) else (root, None)


def _folder(root: str, seed: int, test_fraction: float) -> Splits:
    train_dir, test_dir = folder_splits(root)
    if test_dir is not None:
        train, classes = list_folder(train_dir)
        test, _ = list_folder(test_dir, classes)
    else:
        files, classes = list_folder(root)
        train_idx, test_idx = _split(files.labels, test_fraction, seed)
        train, test = Subset(files, train_idx), Subset(files, test_idx)
    return Splits(train, test, len(classes), 3, None, IMAGENET_MEAN, IMAGENET_STD, encoded=True)


def _array_records(root: str, seed: int, test_fraction: float) -> Splits:
    classes, splits = read_manifest(root)
    if "all" in splits:
        records = open_split(root, splits["all"])
        train_idx, test_idx = _split(records.labels, test_fraction, seed)
        train, test = Subset(records, train_idx), Subset(records, test_idx)
    elif {"train", "test"} <= splits.keys():
        train, test = open_split(root, splits["train"]), open_split(root, splits["test"])
    else:
        raise DataError(f"{storage.join(root, MANIFEST)}: expected splits train and test, or all; got {sorted(splits)}")
    return Splits(train, test, len(classes), 3, None, IMAGENET_MEAN, IMAGENET_STD, encoded=True)


def open_dataset(source: str, seed: int = 0, test_fraction: float = 0.2) -> Splits:
    """Open `source` (``digits``, an .npz file, an image folder or ArrayRecord shards) without decoding it."""
    if source == "digits":
        return _digits(seed, test_fraction)
    if "://" in source and not storage.is_remote(source):
        raise DataError(f"{source}: unsupported location (expected a local path, /gcs/... or gs://...)")
    try:
        if not storage.exists(source):
            raise DataError(f"{source}: training data not found")
        if not storage.is_dir(source):
            return _npz(storage.local_copy(source), seed, test_fraction)
        if storage.exists(storage.join(source, MANIFEST)):
            return _array_records(source, seed, test_fraction)
        return _folder(source, seed, test_fraction)
    except OSError as exc:  # a bucket that cannot be read, a vanished file
        raise DataError(f"{source}: cannot read training data ({exc})") from None


def subsample(splits: Splits, fraction: float, seed: int) -> Splits:
    """Keep `fraction` of every class of the training set (at least one image each), shuffled."""
    if not 0.0 < fraction <= 1.0:
        raise DataError(f"trainFraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return splits
    rng = np.random.default_rng(seed)
    labels = splits.train.labels
    keep = np.concatenate([
        rng.permutation(idx)[: max(1, round(fraction * len(idx)))]
        for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))
    ])
    return replace(splits, train=Subset(splits.train, rng.permutation(keep)))
