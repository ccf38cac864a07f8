"""Fixtures of the state-store tests: each runs on the local directory store and on the GCS store."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from state.store import StateStore

RawWriter = Callable[[str, bytes], None]


@pytest.fixture(params=["local", "gcs"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Callable[[], StateStore], RawWriter]:
    """(a factory of stores on one shared location, a writer of raw bytes under a key)."""
    if request.param == "local":
        from state.local import LocalStore

        root = tmp_path / "state" / "exp"

        def write_raw(key: str, payload: bytes) -> None:
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(payload)

        return (lambda: LocalStore(root)), write_raw
    bucket = request.getfixturevalue("gcs_bucket")
    from adaptors.gcp import storage_client
    from state.gcs import GcsStore

    def write_raw_gcs(key: str, payload: bytes) -> None:
        storage_client().bucket(bucket).blob(f"prefix/exp/{key}").upload_from_string(payload)

    return (lambda: GcsStore(f"gs://{bucket}/prefix/exp")), write_raw_gcs


@pytest.fixture
def store(backend: tuple[Callable[[], StateStore], RawWriter]) -> StateStore:
    return backend[0]()
