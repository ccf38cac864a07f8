"""Fixtures for the Vertex emulator suite: an emulator (``make_emulator`` is in tests/conftest.py), the real REST client."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from google.cloud import aiplatform_v1 as v1

from vertex_emulator import VertexEmulator


@pytest.fixture
def emulator(make_emulator: Callable[..., VertexEmulator]) -> VertexEmulator:
    return make_emulator()


@pytest.fixture
def client(emulator: VertexEmulator) -> v1.JobServiceClient:
    return emulator.client()
