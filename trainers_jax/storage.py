"""Where training data is read from: local paths, Vertex's ``/gcs/`` mount, and ``gs://`` through gcsfs.

* Local paths are read with the standard library. A folder is listed with ``os.scandir``, whose entries
  carry their type: on the ``/gcs/`` mount a ``stat`` per image would be one Cloud Storage request each,
  1.28 M of them for ImageNet at every trial start.
* ``/gcs/<bucket>/...`` is Vertex's Cloud Storage FUSE mount; :func:`trial.fuse.local_path` maps it
  to a stand-in directory where one is configured (the Vertex emulator's), so it is read like a local path.
* ``gs://<bucket>/...`` goes through gcsfs (fsspec's maintained GCS filesystem): listings page through
  the bucket, each image is one ranged read. Against an emulator (``STORAGE_EMULATOR_HOST``) it
  connects anonymously, like the state store does.

Files that must be random-accessed on local disk (an ``.npz`` to memory-map, ArrayRecord shards) are
copied from ``gs://`` once into :func:`cache_dir`, keyed by their generation, so a changed object is
fetched again and an unchanged one never is.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from trial.fuse import local_path

if TYPE_CHECKING:
    from gcsfs.core import GCSFileSystem

GCS_PREFIX = "gs://"
CACHE_ENV = "NASCTL_DATA_CACHE"  # where gs:// files that need a local copy are kept


def is_remote(location: str) -> bool:
    return location.startswith(GCS_PREFIX)


@lru_cache(maxsize=1)
def _gcs_for_pid(pid: int) -> "GCSFileSystem":
    # gcsfs.core's filesystem speaks the JSON API only; the package's default class first asks the
    # Storage Control gRPC API for the bucket's layout (zonal / hierarchical buckets), which an
    # emulator does not serve and a standard bucket of training data does not need.
    from gcsfs.core import GCSFileSystem  # noqa: PLC0415

    anonymous = bool(os.environ.get("STORAGE_EMULATOR_HOST"))
    return GCSFileSystem(token="anon" if anonymous else None, skip_instance_cache=True)


def gcs() -> "GCSFileSystem":
    """This process's gcsfs client (a forked input worker makes its own: the event loop is per process)."""
    return _gcs_for_pid(os.getpid())


def resolve(location: str) -> str:
    """`location` as read on this machine: ``gs://`` unchanged, ``/gcs/`` through the mount's stand-in."""
    return location if is_remote(location) else str(local_path(location))


def exists(location: str) -> bool:
    location = resolve(location)
    return gcs().exists(location) if is_remote(location) else Path(location).exists()


def is_dir(location: str) -> bool:
    location = resolve(location)
    return gcs().isdir(location) if is_remote(location) else Path(location).is_dir()


def subfolders(location: str) -> list[str]:
    """Names of the folders directly inside `location`, sorted."""
    location = resolve(location)
    if is_remote(location):
        return sorted(Path(entry["name"]).name for entry in gcs().ls(location, detail=True)
                      if entry["type"] == "directory")
    with os.scandir(location) as entries:
        return sorted(entry.name for entry in entries if entry.is_dir())


def files(location: str, suffixes: tuple[str, ...]) -> list[str]:
    """Full locations of the files directly inside `location` whose suffix (any case) is in `suffixes`, sorted."""
    location = resolve(location)
    if is_remote(location):
        names = [entry["name"] for entry in gcs().ls(location, detail=True) if entry["type"] == "file"]
        return sorted(GCS_PREFIX + name for name in names if Path(name).suffix.lower() in suffixes)
    with os.scandir(location) as entries:  # the entries' types come with the listing: no stat per file
        return sorted(entry.path for entry in entries
                      if os.path.splitext(entry.name)[1].lower() in suffixes and entry.is_file())


def read_bytes(location: str) -> bytes:
    location = resolve(location)
    return gcs().cat_file(location) if is_remote(location) else Path(location).read_bytes()


def join(location: str, *parts: str) -> str:
    return "/".join([location.rstrip("/"), *parts]) if is_remote(location) else str(Path(location, *parts))


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "nasctl-data-cache")


def local_copy(location: str) -> Path:
    """A local path with the content of `location`: itself when local, else a cached copy of the object."""
    location = resolve(location)
    if not is_remote(location):
        return Path(location)
    info = gcs().info(location)
    key = hashlib.sha256(f"{location}#{info.get('generation', info.get('etag', ''))}".encode()).hexdigest()[:24]
    target = cache_dir() / key / Path(location).name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        gcs().get_file(location, str(partial))
        os.replace(partial, target)  # readers never see a half-copied file
    return target


def upload(path: Path, location: str) -> None:
    """Copy a local file to a ``gs://`` object."""
    gcs().put_file(str(path), location)
