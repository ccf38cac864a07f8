"""The trainer container as the Vertex emulator runs it: Python, with the buckets mounted at ``/gcs/``.

On Vertex a job's container sees every bucket under ``/gcs/`` (Cloud Storage FUSE: reads and writes
go to the bucket). Here the fake GCS server holds the buckets, so this launcher stands in for the
mount: it copies the buckets named in the command into a private directory, hands it to the job as
``NASCTL_GCS_FUSE_ROOT`` (which nasctl's trial side honours, ``trial.fuse``), mirrors both ways while
the job runs (files the job writes go up, objects others write come down) and uploads the job's last
writes before it exits, so the job's outcome is in the bucket by the time the emulator reports it.
``python`` in the command is this interpreter (the image's Python).

Used as the emulator's entrypoint of the trainer image::

    VertexEmulator(image_entrypoints={IMAGE: container_entrypoint()}, gcs_root=tmp_path / "gcs")
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

GCS_FUSE_ROOT_ENV = "NASCTL_GCS_FUSE_ROOT"
SYNC_SECONDS = 0.1
_BUCKET = re.compile(r"/gcs/([a-z0-9][a-z0-9._-]*)/")


def container_entrypoint() -> list[str]:
    """The command the emulator prefixes to a job's args for the trainer image."""
    return [sys.executable, str(Path(__file__).resolve())]


class Mirror:
    """A directory kept in step with some buckets: object generations and file stats tell who changed what."""

    def __init__(self, root: Path, buckets: set[str]):
        from adaptors.gcp import storage_client  # the fake server's client (STORAGE_EMULATOR_HOST)

        self.root, self.client = root, storage_client()
        self.buckets = {name: self.client.bucket(name) for name in buckets}
        self.generations: dict[tuple[str, str], int] = {}
        self.stats: dict[Path, tuple[int, int]] = {}

    def _stat(self, path: Path) -> tuple[int, int]:
        info = path.stat()
        return info.st_mtime_ns, info.st_size

    def pull(self) -> None:
        for name, bucket in self.buckets.items():
            for blob in self.client.list_blobs(bucket):
                path = self.root / name / blob.name
                if self.generations.get((name, blob.name)) == blob.generation or blob.name.endswith("/"):
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
        for name, bucket in self.buckets.items():
            base = self.root / name
            for path in base.rglob("*") if base.exists() else []:
                if not path.is_file() or path.name.startswith(".") or self.stats.get(path) == self._stat(path):
                    continue
                stat = self._stat(path)
                blob = bucket.blob(path.relative_to(base).as_posix())
                blob.upload_from_filename(str(path))
                self.generations[(name, blob.name)] = blob.generation
                self.stats[path] = stat


def main(argv: list[str]) -> int:
    command = [sys.executable if arg == "python" and i == 0 else arg for i, arg in enumerate(argv)]
    mount = Path(os.environ[GCS_FUSE_ROOT_ENV]) / "mounts" / str(os.getpid())
    mirror = Mirror(mount, set(_BUCKET.findall(" ".join(argv) + " ")))
    mirror.pull()
    child = subprocess.Popen(command, env={**os.environ, GCS_FUSE_ROOT_ENV: str(mount)})
    while child.poll() is None:
        time.sleep(SYNC_SECONDS)
        mirror.push()
        mirror.pull()
    mirror.push()
    return child.returncode


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    raise SystemExit(main(sys.argv[1:]))
