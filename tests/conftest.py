"""Shared fixtures: NASExperiment specs in a temporary directory, the real CLI, and the loopback GCS server.

Helpers shared by several test folders live in ``tests/support/`` and are imported as ``tests.support.*``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from tests.support.gcs_server import gcs_bucket, gcs_url  # noqa: F401 - fixtures for every folder

REPO = Path(__file__).resolve().parents[1]
NASCTL = [sys.executable, "-m", "nasctl.cli"]


def nb201_spec(name: str = "exp", max_trials: int = 12, parallel: int = 3, top_n: int | None = 3,
               **search: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "apiVersion": "nasctl.dev/v1alpha1",
        "kind": "NASExperiment",
        "metadata": {"name": name},
        "spec": {
            "stateUri": "state",
            "backend": {"type": "local", "pollSeconds": 0.05},
            "searchSpace": {"prebuilt": "nb201"},
            "trainer": {"prebuilt": "nb201-tabular"},
            "search": {"algorithm": "random", "maxTrials": max_trials, "parallelTrials": parallel, "seed": 1,
                       "trainerArgs": {"mode": "proxy"}, **search},
        },
    }
    if top_n:
        spec["spec"]["train"] = {"topN": top_n, "parallelTrials": 2, "trainerArgs": {"mode": "full"}}
    return spec


@pytest.fixture(autouse=True, scope="session")
def _shared_compilation_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every trial process of the run (they inherit the environment) compiles into one cache of the run's
    own, not into the user's home."""
    os.environ.setdefault("NASCTL_JAX_CACHE_DIR", str(tmp_path_factory.mktemp("jax-cache")))


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(spec: dict[str, Any], name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    return write


@pytest.fixture
def nasctl(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run the real CLI in a subprocess, in tmp_path (where relative stateUri resolves)."""

    def run(*args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
        result = subprocess.run([*NASCTL, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"nasctl {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    return run


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start Vertex emulators with the given options (quotas, time_scale, ...); each is stopped after the test."""
    from vertex_emulator import VertexEmulator  # noqa: PLC0415 - the Google client is heavy

    started: list[VertexEmulator] = []

    def make(**options: Any) -> VertexEmulator:
        options.setdefault("work_dir", tmp_path / f"emulator{len(started)}")
        emulator = VertexEmulator(**options).__enter__()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.__exit__(None, None, None)
