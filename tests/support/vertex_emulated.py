"""nasctl against the Vertex emulator: an emulator whose trainer image runs nasctl's own entry points
over the fake GCS server's buckets (local_cloud/gcs_mount.py), and experiments aimed at it."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from specs.model import NASExperiment
from local_cloud.gcs_mount import container_entrypoint
from vertex_emulator import VertexEmulator

IMAGE = "us-docker.pkg.dev/proj/nasctl/trainer:1"
FAST_RETRY = {"callTimeoutSeconds": 10, "initialBackoffSeconds": 0.05, "maxBackoffSeconds": 0.5,
              "totalSeconds": 60}


def vertex_experiment(endpoint: str, bucket: str, *, name: str = "demo", algorithm: str = "random",
                      max_trials: int = 3, parallel: int = 2, top_n: int | None = None,
                      search: dict[str, Any] | None = None, backend: dict[str, Any] | None = None,
                      state_prefix: str = "state", train: dict[str, Any] | None = None) -> NASExperiment:
    """An nb201-tabular experiment (trials take a second) on the emulator, state and trials in `bucket`."""
    spec: dict[str, Any] = {
        "stateUri": f"gs://{bucket}/{state_prefix}",
        "backend": {"type": "vertex", "project": "proj", "region": "us-central1", "apiEndpoint": endpoint,
                    "containerImage": IMAGE, "stagingUri": f"gs://{bucket}/staging", "pollSeconds": 0.2,
                    "retry": FAST_RETRY,
                    "search": {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4",
                               "acceleratorCount": 1, "hoursPerTrial": 1}, **(backend or {})},
        "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
        "search": {"algorithm": algorithm, "maxTrials": max_trials, "parallelTrials": parallel, "seed": 1,
                   "trainerArgs": {"mode": "proxy"}, **(search or {})},
    }
    if top_n:
        spec["train"] = {"topN": top_n, "parallelTrials": top_n, "trainerArgs": {"mode": "full"}, **(train or {})}
    return NASExperiment.model_validate({"kind": "NASExperiment", "metadata": {"name": name}, "spec": spec})


@pytest.fixture
def make_vertex(tmp_path: Path, gcs_bucket: str,
                make_emulator: Callable[..., VertexEmulator]) -> Callable[..., VertexEmulator]:
    """Emulators running nasctl's image, with /gcs/ standing for the fake GCS server's buckets."""

    def make(**options: Any) -> VertexEmulator:
        options.setdefault("gcs_root", tmp_path / "gcs")
        options.setdefault("image_entrypoints", {IMAGE: container_entrypoint()})
        return make_emulator(**options)

    return make


@pytest.fixture
def vertex(make_vertex: Callable[..., VertexEmulator]) -> VertexEmulator:
    return make_vertex(quotas={("us-central1", "NVIDIA_TESLA_T4"): 4})
