"""pytest fixtures over the loopback GCS server (local_cloud.gcs_server): one server per session, a fresh
bucket per test."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from local_cloud.gcs_server import fake_gcs_server


@pytest.fixture(scope="session")
def gcs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server per test session (started in well under a second)."""
    with fake_gcs_server(tmp_path_factory.mktemp("fake-gcs")) as url:
        yield url


@pytest.fixture
def gcs_bucket(gcs_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the loopback server; STORAGE_EMULATOR_HOST points at it."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    from adaptors.gcp import storage_client

    name = f"b-{uuid.uuid4().hex[:12]}"
    storage_client().create_bucket(name)
    return name
