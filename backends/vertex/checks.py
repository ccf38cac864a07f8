"""Checks of a Vertex spec that span fields (run by `validate`; no Google SDK imported).

A NasJob runs only in the NAS regions, its metric id has no whitespace, and it takes no latency-calculator
jobs: Vertex's latency calculator polls a NasJob from outside, which nasctl does for its own controllers'
CustomJobs (``backend.latency``) but not for a NasJob's trials, which measure their own model
(``trainer.args.latency``; `reconciler.references` checks the reward names only what is measured).
"""
from __future__ import annotations

from specs.model import VERTEX_ALGORITHMS, NASExperiment, VertexBackendSpec
from specs.vertex import check_nas_region

Problem = tuple[tuple[str, ...], str]


def check_vertex(experiment: NASExperiment) -> list[Problem]:
    spec = experiment.spec
    backend = spec.backend
    if not isinstance(backend, VertexBackendSpec) or spec.search.algorithm not in VERTEX_ALGORITHMS:
        return []
    problems: list[Problem] = []
    if (message := check_nas_region(backend.region)) is not None:
        problems.append((("spec", "backend", "region"), message))
    if backend.latency is not None:
        problems.append((("spec", "backend", "latency"), (
            "latency-calculator jobs run for nasctl's controllers only; inside a Vertex NasJob each trial measures "
            "its own model: remove backend.latency and set trainer.args.latency")))
    if any(char.isspace() for char in spec.reward.metric):
        problems.append((("spec", "reward", "metric"), (
            f"a Vertex NasJob's metric id must not contain whitespace, got {spec.reward.metric!r}: report the metric "
            "under a name without spaces (e.g. top1_accuracy)")))
    return problems
