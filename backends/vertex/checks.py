"""Checks of a Vertex spec that span fields (run by `validate`; no Google SDK imported).

A NasJob runs only in the NAS regions, its metric id has no whitespace, and nothing but the trial itself can measure latency inside
one: Vertex's latency calculator polls a NasJob from outside, which nasctl does for its own
controllers' CustomJobs (``backend.latency``) but not for a NasJob's trials. So with Vertex's
controller a latency or memory term of the reward needs the prebuilt trainer to measure its model
in-process (``trainer.args.latency``), as the trial's last step on its own machine.
"""
from __future__ import annotations

from specs.model import VERTEX_ALGORITHMS, NASExperiment, VertexBackendSpec
from specs.vertex import check_nas_region

Problem = tuple[tuple[str, ...], str]
MEASURING_TRAINERS = ("image-classifier",)  # prebuilt trainers that measure latency with `args.latency`


def _measures_in_process(experiment: NASExperiment) -> bool:
    spec = experiment.spec
    stage_args = [spec.search.trainer_args, *([spec.train.trainer_args] if spec.train else [])]
    return all((spec.trainer.args | args).get("latency") is not None for args in stage_args)


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
    terms = [(name, term) for name, term in (("latency", spec.reward.latency), ("memory", spec.reward.memory)) if term]
    if terms and spec.trainer.prebuilt in MEASURING_TRAINERS and not _measures_in_process(experiment):
        name, term = terms[0]
        problems.append((("spec", "reward", name), (
            f"nothing reports {term.metric!r} inside a Vertex NasJob, so every trial would fail: set "
            "spec.trainer.args.latency (e.g. {runs: 50}) to measure each model on its trial's machine")))
    return problems
