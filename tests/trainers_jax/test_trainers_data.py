"""Training data: digits, .npz arrays, image folders, class-balanced sub-sampling, clear errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from trainers_jax.data import DataError, load_dataset, subsample


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", image_size=16)


def test_digits_is_real_resized_and_standardised(digits) -> None:
    assert digits.num_classes == 10
    assert digits.x_train.shape[1:] == (16, 16, 1) and len(digits.x_train) + len(digits.x_test) == 1797
    assert abs(float(digits.x_train.mean())) < 1e-3 and abs(float(digits.x_train.std()) - 1.0) < 1e-2
    assert set(np.unique(digits.y_test)) == set(range(10))  # stratified split


@settings(max_examples=15, deadline=None)
@given(fraction=st.floats(0.05, 1.0), seed=st.integers(0, 100))
def test_subsample_is_class_balanced_and_shuffled(digits, fraction: float, seed: int) -> None:
    small = subsample(digits, fraction, seed)
    full_counts = np.bincount(digits.y_train, minlength=10)
    counts = np.bincount(small.y_train, minlength=10)
    assert np.all(np.abs(counts - np.maximum(1, np.round(fraction * full_counts))) <= 1)
    if fraction < 0.5:
        assert not np.all(np.diff(small.y_train) >= 0)  # not sorted by class
    assert small.x_test is digits.x_test


def test_subsample_rejects_out_of_range_fraction(digits) -> None:
    with pytest.raises(DataError, match="trainFraction"):
        subsample(digits, 0.0, 0)


def test_npz_with_a_single_split_is_split_stratified(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.integers(0, 255, (50, 12, 12, 3), dtype=np.uint8), y=np.repeat(np.arange(5), 10))
    data = load_dataset(str(path), image_size=8)
    assert data.x_train.shape == (40, 8, 8, 3) and data.x_test.shape == (10, 8, 8, 3)
    assert data.num_classes == 5


def test_npz_with_wrong_keys_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 8, 8)))
    with pytest.raises(DataError, match=r"bad\.npz.*x_train"):
        load_dataset(str(path))


def _write_images(root: Path, classes: int = 3, per_class: int = 4) -> None:
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            colour = (80 * c, 255 - 80 * c, 10 * i)
            Image.new("RGB", (20, 20), colour).save(root / f"class{c}" / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_with_train_and_test(tmp_path: Path) -> None:
    _write_images(tmp_path / "train")
    _write_images(tmp_path / "test", per_class=2)
    data = load_dataset(str(tmp_path), image_size=10)
    assert data.x_train.shape == (12, 10, 10, 3) and data.x_test.shape == (6, 10, 10, 3)
    assert data.num_classes == 3


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    _write_images(tmp_path)
    broken = tmp_path / "class1" / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"broken\.png.*unreadable"):
        load_dataset(str(tmp_path), image_size=8)


def test_missing_path_and_remote_uri_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing-here.*not found"):
        load_dataset(str(tmp_path / "nothing-here"))
    with pytest.raises(DataError, match="gs://"):
        load_dataset("gs://bucket/data.npz")
