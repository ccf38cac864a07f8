"""How the rest of nasctl reaches the Vertex code: the backend factory and the algorithm registry."""
from __future__ import annotations

import pytest

from backends.factory import make_backend
from backends.vertex.custom_jobs import VertexCustomJobBackend
from reconciler.controllers.registry import check_algorithm, check_algorithm_settings, make_controller
from state.uri import open_store
from specs.model import NASExperiment


def _experiment(algorithm: str, backend_type: str = "vertex") -> NASExperiment:
    backend = {"type": "vertex", "project": "p", "containerImage": "img:1", "stagingUri": "gs://b/t",
               "search": {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4",
                          "acceleratorCount": 2}, "gpuQuota": 8}
    return NASExperiment.model_validate({
        "kind": "NASExperiment", "metadata": {"name": "w"},
        "spec": {"stateUri": "gs://b/s", "backend": backend if backend_type == "vertex" else {},
                 "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
                 "search": {"algorithm": algorithm, "maxTrials": 4}},
    })


def test_factory_makes_the_custom_job_backend_without_credentials() -> None:
    experiment = _experiment("random")
    backend = make_backend(experiment, open_store("gs://b/s", "w"))
    assert isinstance(backend, VertexCustomJobBackend)
    assert backend.slots == 4  # gpuQuota 8 / 2 GPUs per trial
    assert backend.trial_dir_uri("search-0001") == "gs://b/t/w/search-0001"


def test_vertex_algorithms_are_known_but_never_built_as_our_controllers() -> None:
    assert check_algorithm("REINFORCEMENT_LEARNING") is None and check_algorithm("GRID_SEARCH") is None
    with pytest.raises(ValueError, match="runs inside a Vertex NasJob"):
        make_controller("GRID_SEARCH", None, 0, {})


def test_vertex_algorithms_need_the_vertex_backend() -> None:
    with pytest.raises(ValueError, match="needs backend type vertex"):
        _experiment("GRID_SEARCH", backend_type="local")


def test_a_nas_job_algorithm_takes_no_settings() -> None:
    (problem,) = check_algorithm_settings("GRID_SEARCH", {"shuffle": True})
    assert problem == (("shuffle",), "GRID_SEARCH is Vertex AI NAS's own controller and takes no algorithmSettings")
