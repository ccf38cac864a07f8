"""Whole-file atomic writes: readers see the old file or the new one, never half of either."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: Path, payload: bytes) -> None:
    """Write via a temp file in the same directory and os.replace: readers never see half a file. A failure
    names `path`, not the temp file it happened on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    return OSError(exc.errno, f"cannot write: {exc.strerror or exc}", str(path))


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, sort_keys=True).encode())
