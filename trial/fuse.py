"""Where a ``/gcs/<bucket>/...`` path is on this machine: Vertex's Cloud Storage FUSE mount, or a stand-in.

On Vertex every bucket is mounted at ``/gcs/`` (Cloud Storage FUSE). ``NASCTL_GCS_FUSE_ROOT`` names
another directory standing for ``/gcs`` (a test mount, e.g. the Vertex emulator's): ``/gcs/b/p`` is
then ``$NASCTL_GCS_FUSE_ROOT/b/p``. Every trial-side reader of a ``/gcs/`` path goes through here.
"""
from __future__ import annotations

import os
from pathlib import Path

GCS_FUSE_ROOT_ENV = "NASCTL_GCS_FUSE_ROOT"
FUSE_PREFIX = "/gcs/"


def fuse_path(gs_uri: str) -> str:
    """``gs://bucket/a/b`` as seen inside a Vertex job: ``/gcs/bucket/a/b``."""
    if not gs_uri.startswith("gs://"):
        raise ValueError(f"expected a gs:// location, got {gs_uri!r}")
    return FUSE_PREFIX + gs_uri[len("gs://"):]


def gs_uri(fuse: str) -> str:
    """The ``gs://`` location of a ``/gcs/`` path (the inverse of :func:`fuse_path`)."""
    if not fuse.startswith(FUSE_PREFIX):
        raise ValueError(f"expected a {FUSE_PREFIX} path, got {fuse!r}")
    return "gs://" + fuse[len(FUSE_PREFIX):]


def local_path(path: str | Path) -> Path:
    """`path` on this machine: a ``gs://`` or ``/gcs/`` location through the FUSE mount (or its stand-in)."""
    text = str(path)
    if text.startswith("gs://"):
        text = fuse_path(text)
    root = os.environ.get(GCS_FUSE_ROOT_ENV)
    if root and text.startswith(FUSE_PREFIX):
        return Path(root) / text[len(FUSE_PREFIX):]
    return Path(text)
