"""Training data sources: digits, memory-mapped .npz arrays, lazily read image folders, clear errors."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from trainers_jax.data import DataError, NpzMember, _split, open_dataset, subsample
from trainers_jax.preprocess import to_pil


@pytest.fixture(scope="module")
def digits():
    return open_dataset("digits")


def test_digits_are_real_with_their_statistics(digits) -> None:
    assert digits.num_classes == 10 and digits.channels == 1 and digits.image_size == 8
    assert len(digits.train) + len(digits.test) == 1797
    image, label = digits.train[0]
    assert image.shape == (8, 8, 1) and 0 <= label < 10
    assert 0 < float(digits.mean[0]) < 1 and 0 < float(digits.std[0]) < 1 and digits.scale == 1.0
    assert set(np.unique(digits.test.labels)) == set(range(10))  # stratified split


def test_the_bundled_digits_are_the_uci_set() -> None:
    digits = open_dataset("digits", test_fraction=0.2)
    labels = np.concatenate([digits.train.labels, digits.test.labels])
    assert np.array_equal(np.bincount(labels), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    pixels = np.stack([digits.train[i][0] for i in range(len(digits.train))])
    assert pixels.min() == 0.0 and pixels.max() == 1.0 and np.all((pixels * 16) == np.round(pixels * 16))


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12), fraction=st.floats(0.01, 0.99),
       seed=st.integers(0, 2**32 - 1))
def test_the_split_is_a_stratified_shuffled_partition(sizes: list[int], fraction: float, seed: int) -> None:
    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(sizes)), sizes))
    train, test = _split(labels, fraction, seed)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))  # each record once
    for cls, size in enumerate(sizes):
        in_test = int(np.sum(labels[test] == cls))
        assert in_test == min(max(round(fraction * size), min(1, size - 1)), size - 1), (cls, size)
    again = _split(labels, fraction, seed)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)  # the same for a given seed


def test_the_split_shuffles_within_and_across_classes() -> None:
    labels = np.repeat(np.arange(10), 100)
    train, test = _split(labels, 0.2, 0)
    assert not np.all(np.diff(labels[train]) >= 0) and not np.all(np.diff(train[labels[train] == 3]) > 0)
    assert not np.array_equal(_split(labels, 0.2, 1)[1], test)


@settings(max_examples=15, deadline=None)
@given(fraction=st.floats(0.05, 1.0), seed=st.integers(0, 100))
def test_subsample_is_class_balanced_and_shuffled(digits, fraction: float, seed: int) -> None:
    small = subsample(digits, fraction, seed)
    full_counts = np.bincount(digits.train.labels, minlength=10)
    counts = np.bincount(small.train.labels, minlength=10)
    assert np.all(np.abs(counts - np.maximum(1, np.round(fraction * full_counts))) <= 1)
    if fraction < 0.5:
        assert not np.all(np.diff(small.train.labels) >= 0)  # not sorted by class
    assert small.test is digits.test


def test_subsample_rejects_out_of_range_fraction(digits) -> None:
    with pytest.raises(DataError, match="trainFraction"):
        subsample(digits, 0.0, 0)


def test_uncompressed_npz_is_memory_mapped_and_split_stratified(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    x = rng.integers(0, 255, (50, 12, 12, 3), dtype=np.uint8)
    np.savez(path, x=x, y=np.repeat(np.arange(5), 10))
    data = open_dataset(str(path))
    assert (len(data.train), len(data.test), data.num_classes, data.image_size, data.scale) == (40, 10, 5, 12, 255.0)
    member = data.train.source.images
    assert isinstance(member, NpzMember) and isinstance(member.array, np.memmap)
    index = int(data.train.indices[0])
    assert np.array_equal(data.train[0][0], x[index])
    assert pickle.loads(pickle.dumps(member)).__dict__["_array"] is None  # workers map the file themselves


def test_compressed_npz_with_train_and_test_arrays_is_read(tmp_path: Path) -> None:
    path = tmp_path / "small.npz"
    np.savez_compressed(path, x_train=np.zeros((6, 8, 8), np.float32), y_train=np.arange(6) % 3,
                        x_test=np.ones((3, 8, 8), np.float32), y_test=np.arange(3))
    data = open_dataset(str(path))
    assert data.channels == 1 and data.train[0][0].shape == (8, 8, 1) and len(data.test) == 3


def test_npz_with_wrong_keys_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 8, 8)))
    with pytest.raises(DataError, match=r"bad\.npz.*x_train"):
        open_dataset(str(path))


def write_images(root: Path, classes: int = 3, per_class: int = 4, size: int = 20) -> None:
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            colour = (80 * c, 255 - 80 * c, 10 * i)
            Image.new("RGB", (size, size + 4), colour).save(root / f"class{c}" / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_holds_only_its_file_list(tmp_path: Path) -> None:
    write_images(tmp_path / "train")
    write_images(tmp_path / "val", per_class=2)
    data = open_dataset(str(tmp_path))
    assert (len(data.train), len(data.test), data.num_classes, data.channels) == (12, 6, 3, 3)
    assert data.encoded and data.image_size is None
    path, label = data.train[5]
    assert path.endswith(("class1/1.png", "class1\\1.png")) and label == 1


def test_unreadable_image_is_named_when_decoded(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"broken\.png.*unreadable"):
        to_pil(str(broken), 1.0)


@pytest.mark.parametrize("damage", ["missing", "empty", "a file"])
def test_a_class_without_images_in_the_test_split_is_named(tmp_path: Path, damage: str) -> None:
    write_images(tmp_path / "train")
    write_images(tmp_path / "val", per_class=2)
    broken = tmp_path / "val" / "class2"
    for image in broken.iterdir():
        image.unlink()
    broken.rmdir()
    if damage == "empty":
        broken.mkdir()
        (broken / "notes.txt").write_text("no images here")
    elif damage == "a file":
        broken.write_bytes(b"")
    with pytest.raises(DataError, match=r"class2: no JPEG/PNG images for class 'class2'"):
        open_dataset(str(tmp_path))


def test_every_image_gets_the_label_of_its_class_folder_though_folders_are_listed_at_once(tmp_path: Path) -> None:
    write_images(tmp_path, classes=40, per_class=2)  # more class folders than listing threads
    data = open_dataset(str(tmp_path), test_fraction=0.5)
    classes = sorted(f"class{c}" for c in range(40))  # labels follow the sorted folder names
    records = [split[i] for split in (data.train, data.test) for i in range(len(split))]
    assert len(records) == 80 and data.num_classes == 40
    assert all(Path(path).parent.name == classes[label] for path, label in records)


def test_listing_an_image_folder_does_not_stat_each_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_images(tmp_path, classes=3, per_class=30)
    stats: list[str] = []
    real_stat = Path.stat

    def counted_stat(path: Path, *args: Any, **kwargs: Any) -> Any:
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", counted_stat)
    data = open_dataset(str(tmp_path), test_fraction=0.5)
    assert len(data.train) + len(data.test) == 90
    assert len(stats) < 10, f"{len(stats)} stat calls for 90 images (on Vertex's /gcs/ mount each is a GCS request)"


def test_missing_path_and_unsupported_scheme_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing-here.*not found"):
        open_dataset(str(tmp_path / "nothing-here"))
    with pytest.raises(DataError, match="s3://bucket/data.npz: unsupported location.*gs://"):
        open_dataset("s3://bucket/data.npz")
