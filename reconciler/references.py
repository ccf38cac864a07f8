"""The names a spec refers to (prebuilt space, prebuilt trainer, algorithm and its settings), checked against
their registries.

Kept out of ``specs`` so that the API types import nothing of the packages that implement them.
No registry imports PyGlove, JAX or user code to answer.
"""
from __future__ import annotations

from backends.vertex.checks import check_vertex
from reconciler.controllers.registry import check_algorithm, check_algorithm_settings
from search_spaces.registry import check_search_space
from specs.model import NASExperiment
from trial.trainers import check_trainer


def check_references(experiment: NASExperiment) -> list[tuple[tuple[str, ...], str]]:
    """(field path, problem) for each name the spec uses that no registry knows."""
    spec = experiment.spec
    problems = [
        (("spec", "searchSpace", "prebuilt"), check_search_space(spec.search_space)),
        (("spec", "trainer", "prebuilt"), check_trainer(spec.trainer)),
        (("spec", "search", "algorithm"), check_algorithm(spec.search.algorithm)),
    ]
    settings = [(("spec", "search", "algorithmSettings", key), message)
                for key, message in check_algorithm_settings(spec.search.algorithm, spec.search.algorithm_settings)]
    return [(path, message) for path, message in problems if message] + settings + check_vertex(experiment)
