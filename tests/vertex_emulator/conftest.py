"""Fixtures for the Vertex emulator suite: emulators started and stopped per test, the real REST client."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud import aiplatform_v1 as v1

from vertex_emulator import VertexEmulator


@pytest.fixture
def make_emulator(tmp_path) -> Iterator[Callable[..., VertexEmulator]]:
    """Start an emulator with the given options (quotas, time_scale, ...); stopped after the test."""
    started: list[VertexEmulator] = []

    def make(**options: Any) -> VertexEmulator:
        options.setdefault("work_dir", tmp_path / f"emulator{len(started)}")
        emulator = VertexEmulator(**options).__enter__()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.__exit__(None, None, None)


@pytest.fixture
def emulator(make_emulator) -> VertexEmulator:
    return make_emulator()


@pytest.fixture
def client(emulator: VertexEmulator) -> v1.JobServiceClient:
    return emulator.client()
