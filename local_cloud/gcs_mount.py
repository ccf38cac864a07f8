"""The trainer container as the Vertex emulator runs it: Python, with the buckets mounted at ``/gcs/``.

On Vertex a job's container sees every bucket under ``/gcs/`` (Cloud Storage FUSE: reads and writes
go to the bucket). Here the fake GCS server holds the buckets, so this launcher stands in for the
mount: it copies the ``/gcs/`` folders named in the command into a private directory, hands it to the job as
``NASCTL_GCS_FUSE_ROOT`` (which nasctl's trial side honours, ``trial.fuse``), mirrors both ways while
the job runs (files the job writes go up, objects others write come down) and uploads the job's last
writes before it exits, so the job's outcome is in the bucket by the time the emulator reports it.
``python`` in the command is this interpreter (the image's Python).

The replicas of a multi-replica job all see the same buckets, as on Vertex (every node mounts them,
https://cloud.google.com/vertex-ai/docs/training/cloud-storage-file-system; a file one replica has closed
is there for the others). Multi-host collectives rely on that: in orbax's checkpoint save the other hosts
wait for the directories the primary made, and the primary then finalises the others' files. So the
replicas share one directory, named after their ``CLUSTER_SPEC`` cluster: the primary replica's launcher
mirrors it, the others start once it is pulled, and the primary uploads the last writes once every other
replica has exited (every replica of the job runs this image).

Used as the emulator's entrypoint of the trainer image::

    VertexEmulator(image_entrypoints={IMAGE: container_entrypoint()}, gcs_root=tmp_path / "gcs")
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from trial.fuse import GCS_FUSE_ROOT_ENV  # the contract with the trial: where its /gcs/ paths live

SYNC_SECONDS = 0.25
# Folders only their own trial writes (its checkpoints): pulled when the job starts (a restarted worker resumes
# from them), not while it runs, which keeps the mirror cheap when many trials share a folder.
WRITER_ONLY = ("checkpoints",)
READY, EXITED = ".pulled", ".exited-"  # markers of a shared mount (dot files stay out of the buckets)
_FUSE_PATH = re.compile(r"/gcs/([a-z0-9][a-z0-9._-]*)/(\S*)")


def container_entrypoint() -> list[str]:
    """The command the emulator prefixes to a job's args for the trainer image."""
    return [sys.executable, str(Path(__file__).resolve())]


def mounted_folders(argv: list[str]) -> set[tuple[str, str]]:
    """(bucket, folder) for each ``/gcs/`` path of the command: the path itself, or a file's folder."""
    folders = set()
    for bucket, path in _FUSE_PATH.findall(" ".join(argv)):
        folder = path.rsplit("/", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
        folders.add((bucket, folder.strip("/")))
    return folders


class Mirror:
    """A directory kept in step with some bucket folders: object generations and file stats tell who changed what."""

    def __init__(self, root: Path, folders: set[tuple[str, str]]):
        from adaptors.gcp import storage_client  # the fake server's client (STORAGE_EMULATOR_HOST)

        self.root, self.client = root, storage_client()
        self.folders = [(name, self.client.bucket(name), prefix) for name, prefix in sorted(folders)]
        self.generations: dict[tuple[str, str], int] = {}
        self.stats: dict[Path, tuple[int, int]] = {}

    def _stat(self, path: Path) -> tuple[int, int]:
        info = path.stat()
        return info.st_mtime_ns, info.st_size

    def pull(self, skip: tuple[str, ...] = ()) -> None:
        """Bring down what changed in the bucket, except objects under a `skip` folder name."""
        for name, bucket, prefix in self.folders:
            for blob in self.client.list_blobs(bucket, prefix=f"{prefix}/" if prefix else None):
                path = self.root / name / blob.name
                if (self.generations.get((name, blob.name)) == blob.generation or blob.name.endswith("/")
                        or any(f"/{folder}/" in blob.name for folder in skip)):
                    continue
                if path.exists() and self.stats.get(path) != self._stat(path):
                    continue  # changed here too: this side's write wins (pushed next)
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f".{path.name}.pull")
                blob.download_to_filename(str(partial))
                os.replace(partial, path)
                self.generations[(name, blob.name)] = blob.generation
                self.stats[path] = self._stat(path)

    def push(self) -> None:
        for name, bucket, prefix in self.folders:
            base = self.root / name
            for directory, _, files in os.walk(base / prefix):  # folders a job removes meanwhile are skipped
                for path in (Path(directory) / file for file in files if not file.startswith(".")):
                    try:
                        stat = self._stat(path)
                        if self.stats.get(path) == stat:
                            continue
                        blob = bucket.blob(path.relative_to(base).as_posix())
                        blob.upload_from_filename(str(path))
                    except FileNotFoundError:
                        continue  # a temporary file the job removed before it went up (as with a real mount)
                    self.generations[(name, blob.name)] = blob.generation
                    self.stats[path] = stat


def _replicas(cluster_spec: str) -> list[str]:
    return [f"{pool}-{index}" for pool, addresses in json.loads(cluster_spec)["cluster"].items()
            for index in range(len(addresses))]


def _replica_name(cluster_spec: str) -> str:
    task = json.loads(cluster_spec)["task"]
    return f"{task['type']}-{task['index']}"


def _wait_for(paths: list[Path], while_waiting: Callable[[], None] = lambda: None) -> None:
    while not all(path.exists() for path in paths):
        time.sleep(SYNC_SECONDS)
        while_waiting()


def _mirrored(command: list[str], mount: Path, mirror: Mirror, before_last_push: Callable[[], None]) -> int:
    """Run the job with `mount` kept in step with the buckets; its exit code."""
    mirror.pull()
    (mount / READY).touch()
    child = subprocess.Popen(command, env={**os.environ, GCS_FUSE_ROOT_ENV: str(mount)})
    while child.poll() is None:
        time.sleep(SYNC_SECONDS)
        mirror.push()
        mirror.pull(skip=WRITER_ONLY)
    before_last_push()
    mirror.push()
    return child.returncode


def main(argv: list[str]) -> int:
    command = [sys.executable if arg == "python" and i == 0 else arg for i, arg in enumerate(argv)]
    root, cluster_spec = Path(os.environ[GCS_FUSE_ROOT_ENV]) / "mounts", os.environ.get("CLUSTER_SPEC")
    if not cluster_spec:
        mount = root / str(os.getpid())
        mount.mkdir(parents=True, exist_ok=True)
        return _mirrored(command, mount, Mirror(mount, mounted_folders(argv)), lambda: None)
    from trial.runner import is_primary_replica  # noqa: PLC0415 - the repository is on the path only in main

    cluster = json.dumps(json.loads(cluster_spec)["cluster"], sort_keys=True)  # the same for every replica
    mount = root / f"job-{hashlib.sha256(cluster.encode()).hexdigest()[:16]}"
    mount.mkdir(parents=True, exist_ok=True)
    me = _replica_name(cluster_spec)
    if is_primary_replica(os.environ):
        others = [mount / f"{EXITED}{name}" for name in _replicas(cluster_spec) if name != me]
        mirror = Mirror(mount, mounted_folders(argv))
        return _mirrored(command, mount, mirror, lambda: _wait_for(others, mirror.push))
    _wait_for([mount / READY])
    exited = mount / f"{EXITED}{me}"
    exited.unlink(missing_ok=True)  # a restarted replica runs again
    code = subprocess.call(command, env={**os.environ, GCS_FUSE_ROOT_ENV: str(mount)})
    exited.touch()
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    raise SystemExit(main(sys.argv[1:]))
