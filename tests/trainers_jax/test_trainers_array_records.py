"""ArrayRecord shards (`nasctl data convert`) and data on gs:// (fake GCS server) or under /gcs/ (a stand-in mount)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainers_jax import storage
from trainers_jax.array_records import MANIFEST, open_split, read_manifest
from trainers_jax.convert import ConvertOptions, convert, plan_conversion
from trainers_jax.data import DataError, open_dataset
from trainers_jax.input_pipeline import Stream, eval_batches, train_batches
from trainers_jax.preprocess import Preprocess
from trial.fuse import GCS_FUSE_ROOT_ENV

from tests.trainers_jax.test_trainers_data import write_images


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_images(tmp_path / "imgs" / "train", classes=3, per_class=5, size=30)
    write_images(tmp_path / "imgs" / "val", classes=3, per_class=2, size=30)
    return tmp_path / "imgs"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "cache"))


def _upload(root: Path, bucket: str, prefix: str) -> str:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        storage.upload(path, f"gs://{bucket}/{prefix}/{path.relative_to(root).as_posix()}")
    return f"gs://{bucket}/{prefix}"


def _batches(data, size: int = 12) -> list[tuple[np.ndarray, np.ndarray]]:
    train = train_batches(data.train, Preprocess(size, data.scale, data.encoded), Stream(4), seed=0)
    return [next(train) for _ in range(3)] + list(eval_batches(data.test, Preprocess(size, data.scale, data.encoded,
                                                                                    train=False), 4, workers=0))


def _assert_same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.dtype == np.uint8 and np.array_equal(xa, xb) and np.array_equal(ya, yb)


def test_shards_hold_the_folder_and_feed_the_same_batches(folder: Path, tmp_path: Path) -> None:
    plan = plan_conversion(str(folder))
    seen: list[int] = []
    summary = convert(plan, str(tmp_path / "shards"), ConvertOptions(shard_mb=0.002, workers=2), on_images=seen.append)
    assert sum(seen) == summary.images == 21 and summary.classes == 3 and summary.shards > 2
    manifest = json.loads((tmp_path / "shards" / MANIFEST).read_text())
    assert sorted(manifest["splits"]) == ["test", "train"] and sum(manifest["splits"]["train"]["records"]) == 15

    shards, images = open_dataset(str(tmp_path / "shards")), open_dataset(str(folder))
    assert (len(shards.train), len(shards.test), shards.num_classes, shards.encoded) == (15, 6, 3, True)
    record, label = shards.train[7]
    path, folder_label = images.train[7]
    assert record == Path(path).read_bytes() and label == folder_label  # the file's bytes, in folder order
    _assert_same(_batches(shards), _batches(images))


def test_conversion_is_reproducible_and_never_overwrites(folder: Path, tmp_path: Path) -> None:
    plan = plan_conversion(str(folder))
    for name in ("a", "b"):
        convert(plan, str(tmp_path / name), ConvertOptions(shard_mb=0.002, workers=1))
    first, second = sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir())
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    with pytest.raises(DataError, match="already holds a converted dataset"):
        convert(plan, str(tmp_path / "a"))


def test_resizing_shrinks_the_shorter_side(tmp_path: Path) -> None:
    root = tmp_path / "big"
    (root / "cat").mkdir(parents=True)
    Image.new("RGB", (90, 60), (200, 10, 10)).save(root / "cat" / "0.png")
    convert(plan_conversion(str(root)), str(tmp_path / "small"), ConvertOptions(resize_shorter=20, workers=1))
    _, splits = read_manifest(str(tmp_path / "small"))
    record, _ = open_split(str(tmp_path / "small"), splits["all"])[0]
    with Image.open(io.BytesIO(record)) as image:
        assert image.format == "JPEG" and image.size == (30, 20)


def test_broken_image_is_named_at_conversion(folder: Path, tmp_path: Path) -> None:
    (folder / "train" / "class1" / "9.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"class1/9\.jpg: unreadable image"):
        convert(plan_conversion(str(folder)), str(tmp_path / "shards"), ConvertOptions(workers=1))
    assert not (tmp_path / "shards" / MANIFEST).exists()  # an unfinished conversion is not a dataset


def test_foreign_manifest_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / MANIFEST).write_text(json.dumps({"format": "tfds"}))
    with pytest.raises(DataError, match=r"dataset\.json: format 'tfds'"):
        open_dataset(str(tmp_path / "odd"))


def test_gcs_folder_and_shards_read_like_local_ones(folder: Path, gcs_bucket: str, tmp_path: Path) -> None:
    remote_folder = _upload(folder, gcs_bucket, "imgs")
    remote = open_dataset(remote_folder)
    assert remote.train[0][0].startswith(f"gs://{gcs_bucket}/imgs/train/class0/")
    local_batches = _batches(open_dataset(str(folder)))
    _assert_same(_batches(remote), local_batches)

    convert(plan_conversion(remote_folder), f"gs://{gcs_bucket}/shards", ConvertOptions(shard_mb=0.002, workers=2))
    assert storage.exists(f"gs://{gcs_bucket}/shards/{MANIFEST}")
    _assert_same(_batches(open_dataset(f"gs://{gcs_bucket}/shards")), local_batches)


def test_gcs_npz_is_cached_once_per_generation(gcs_bucket: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", x=rng.random((40, 6, 6)).astype(np.float32), y=np.arange(40) % 4)
    storage.upload(tmp_path / "a.npz", f"gs://{gcs_bucket}/a.npz")
    first = storage.local_copy(f"gs://{gcs_bucket}/a.npz")
    assert storage.local_copy(f"gs://{gcs_bucket}/a.npz") == first
    assert open_dataset(f"gs://{gcs_bucket}/a.npz").num_classes == 4
    np.savez(tmp_path / "a.npz", x=rng.random((40, 6, 6)).astype(np.float32), y=np.arange(40) % 5)
    storage.upload(tmp_path / "a.npz", f"gs://{gcs_bucket}/a.npz")  # a new generation is fetched again
    assert storage.local_copy(f"gs://{gcs_bucket}/a.npz") != first
    assert open_dataset(f"gs://{gcs_bucket}/a.npz").num_classes == 5


def test_gcs_mount_path_goes_through_the_mount_stand_in(folder: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mount = tmp_path / "mount"
    (mount / "bucket").mkdir(parents=True)
    folder.rename(mount / "bucket" / "imgs")
    monkeypatch.setenv(GCS_FUSE_ROOT_ENV, str(mount))
    data = open_dataset("/gcs/bucket/imgs")
    assert len(data.train) == 15 and Path(data.train[0][0]).is_relative_to(mount)


@pytest.mark.slow  # starts worker processes, each with its own gcsfs client
def test_workers_read_gcs_images_themselves(folder: Path, gcs_bucket: str) -> None:
    data = open_dataset(_upload(folder, gcs_bucket, "imgs"))
    preprocess = Preprocess(12, data.scale, data.encoded)
    inline = train_batches(data.train, preprocess, Stream(4), seed=0)
    workers = train_batches(data.train, preprocess, Stream(4, workers=2), seed=0)
    try:
        _assert_same([next(workers) for _ in range(4)], [next(inline) for _ in range(4)])
    finally:
        workers.close()
