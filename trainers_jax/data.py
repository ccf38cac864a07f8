"""Training data: the built-in ``digits`` set, ``.npz`` arrays, or an image folder; numpy only.

* ``digits``: scikit-learn's 1,797 real 8×8 handwritten digits (shipped inside its wheel), resized.
* ``*.npz``: ``x_train, y_train, x_test, y_test`` (or ``x, y``, split here); images NHWC or NHW.
* a folder: one sub-folder per class with JPEG/PNG files, or ``train/`` and ``test/`` (or ``val/``)
  folders laid out that way.
* ``gs://`` and other URIs go through :data:`REMOTE_FETCHERS` (scheme → function that returns a local
  path); none is registered yet, so they fail with a clear message.

Images become float32 NHWC standardised with the training set's per-channel mean and std.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
REMOTE_FETCHERS: dict[str, Callable[[str], Path]] = {}


class DataError(ValueError):
    """Training data missing, unreadable or malformed (the message names the file)."""


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[3])


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of float NHWC images to size×size (PIL, one channel at a time)."""
    from PIL import Image  # noqa: PLC0415

    if images.shape[1] == size and images.shape[2] == size:
        return images
    out = np.empty((images.shape[0], size, size, images.shape[3]), np.float32)
    for i, image in enumerate(images):
        for c in range(image.shape[2]):
            resized = Image.fromarray(image[:, :, c].astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)
            out[i, :, :, c] = np.asarray(resized)
    return out


def _as_nhwc(x: np.ndarray, source: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise DataError(f"{source}: expected square images shaped N×H×W or N×H×W×C, got {x.shape}")
    x = x.astype(np.float32)
    return x / 255.0 if x.max(initial=0) > 1.0 else x


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """A stratified, shuffled train/test split (the same for a given seed)."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    return tuple(train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y))


def _load_digits(seed: int, test_fraction: float) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits  # noqa: PLC0415

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    return _split(x, digits.target.astype(np.int32), test_fraction, seed)


def _load_npz(path: Path, seed: int, test_fraction: float) -> tuple[np.ndarray, ...]:
    try:
        with np.load(path) as arrays:
            data = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read .npz arrays ({exc})") from None
    if {"x_train", "y_train", "x_test", "y_test"} <= data.keys():
        parts = data["x_train"], data["x_test"], data["y_train"], data["y_test"]
    elif {"x", "y"} <= data.keys():
        parts = _split(data["x"], data["y"], test_fraction, seed)
    else:
        raise DataError(f"{path}: expected arrays x_train, y_train, x_test, y_test (or x, y), got {sorted(data)}")
    x_train, x_test, y_train, y_test = parts
    return (_as_nhwc(x_train, str(path)), _as_nhwc(x_test, str(path)),
            y_train.astype(np.int32), y_test.astype(np.int32))


def _read_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None


def _read_folder(root: Path, size: int, classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    classes = classes or sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{root}: no class folders (expected one folder of JPEG/PNG images per class)")
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
            if (root / name).is_dir() else []
        if not files:
            raise DataError(f"{root / name}: no JPEG/PNG images for class {name!r}")
        images += [_read_image(f, size) for f in files]
        labels += [label] * len(files)
    return np.stack(images), np.asarray(labels, np.int32), classes


def _load_folder(root: Path, size: int, seed: int, test_fraction: float) -> tuple[np.ndarray, ...]:
    test_dir = next((root / name for name in ("test", "val") if (root / name).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        x_train, y_train, classes = _read_folder(root / "train", size)
        x_test, y_test, _ = _read_folder(test_dir, size, classes)
        return x_train, x_test, y_train, y_test
    x, y, _ = _read_folder(root, size)
    return _split(x, y, test_fraction, seed)


def _standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x_train.mean(axis=(0, 1, 2), keepdims=True)
    std = x_train.std(axis=(0, 1, 2), keepdims=True) + 1e-6
    return (x_train - mean) / std, (x_test - mean) / std


def load_dataset(source: str, image_size: int | None = None, seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """Load `source` (``digits``, an .npz file, an image folder or a registered URI), resized to `image_size`."""
    if "://" in source:
        scheme = source.split("://", 1)[0]
        if scheme not in REMOTE_FETCHERS:
            raise DataError(f"{source}: no fetcher for {scheme}:// inputs yet; copy the data locally first")
        source = str(REMOTE_FETCHERS[scheme](source))
    if source == "digits":
        x_train, x_test, y_train, y_test = _load_digits(seed, test_fraction)
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: training data not found")
        if path.is_dir():
            x_train, x_test, y_train, y_test = _load_folder(path, image_size or 32, seed, test_fraction)
        else:
            x_train, x_test, y_train, y_test = _load_npz(path, seed, test_fraction)
    if image_size:
        x_train, x_test = _resize(x_train, image_size), _resize(x_test, image_size)
    x_train, x_test = _standardise(x_train, x_test)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(x_train, y_train.astype(np.int32), x_test, y_test.astype(np.int32), num_classes)


def subsample(data: Dataset, fraction: float, seed: int) -> Dataset:
    """Keep `fraction` of every class of the training set (at least one image each), shuffled."""
    if not 0.0 < fraction <= 1.0:
        raise DataError(f"trainFraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return data
    rng = np.random.default_rng(seed)
    keep = np.concatenate([
        rng.permutation(idx)[: max(1, round(fraction * len(idx)))]
        for idx in (np.flatnonzero(data.y_train == c) for c in np.unique(data.y_train))
    ])
    keep = rng.permutation(keep)
    return replace(data, x_train=data.x_train[keep], y_train=data.y_train[keep])
