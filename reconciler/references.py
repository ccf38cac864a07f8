"""The names a spec refers to (prebuilt space and its args, prebuilt trainer and its args, algorithm and its
settings), checked against their registries.

Kept out of ``specs`` so that the API types import nothing of the packages that implement them.
No registry imports PyGlove, JAX or user code to answer.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from backends.vertex.checks import check_vertex
from reconciler.controllers.registry import check_algorithm, check_algorithm_settings
from search_spaces.registry import check_search_space, check_search_space_args
from specs.model import VERTEX_ALGORITHMS, NASExperiment, VertexBackendSpec
from trainers_jax.trainer_args import PREBUILT_TRAINER_ARGS, TrainerArgs
from trial.trainers import check_trainer

FieldPath = tuple[str | int, ...]


def check_references(experiment: NASExperiment) -> list[tuple[FieldPath, str]]:
    """(field path, problem) for each name the spec uses that no registry knows."""
    spec = experiment.spec
    problems = [
        (("spec", "searchSpace", "prebuilt"), check_search_space(spec.search_space)),
        (("spec", "trainer", "prebuilt"), check_trainer(spec.trainer)),
        (("spec", "search", "algorithm"), check_algorithm(spec.search.algorithm)),
    ]
    keyed = [(("spec", "search", "algorithmSettings", *location), message)
             for location, message in check_algorithm_settings(spec.search.algorithm, spec.search.algorithm_settings)]
    keyed += [(("spec", "searchSpace", "args", key), message) for key, message in check_search_space_args(spec.search_space)]
    return [(path, message) for path, message in problems if message] + keyed + check_trainer_args(experiment) + \
        check_vertex(experiment)


def check_trainer_args(experiment: NASExperiment) -> list[tuple[FieldPath, str]]:
    """A prebuilt trainer's args as each stage's trials get them (`trainer.args` under the stage's
    `trainerArgs`), checked by the trainer's own argument model (a problem is reported where the argument
    was set), and the reward's metrics against what the search's and stage 2's trials report."""
    spec = experiment.spec
    model = PREBUILT_TRAINER_ARGS.get(spec.trainer.prebuilt or "")
    if model is None:
        return []
    base: tuple[FieldPath, dict[str, Any]] = (("spec", "trainer", "args"), spec.trainer.args)
    stages = {"search": spec.search, "train": spec.train, "varianceMeasurement": spec.variance_measurement,
              "modelSelection": spec.model_selection}
    per_stage = {name: [base, (("spec", name, "trainerArgs"), stage.trainer_args)]
                 for name, stage in stages.items() if stage is not None}
    layerings = [[base], *per_stage.values()]
    if spec.proxy_task_search is not None:  # candidates go over the model-selection baseline
        baseline = per_stage.get("modelSelection", [base])
        layerings += [[*baseline, (("spec", "proxyTaskSearch", "candidates", index, "trainerArgs"), c.trainer_args)]
                      for index, c in enumerate(spec.proxy_task_search.candidates)]
    problems: dict[FieldPath, str] = {}
    scored = [per_stage[name] for name in ("search", "train") if name in per_stage]  # trials the reward scores
    for layers in scored:
        for path, message in _unreported_reward_metrics(experiment, model, _merged(layers)):
            problems.setdefault(path, message)
    for layers in layerings:
        for location, message in model.problems(_merged(layers)):
            where = next((path for path, args in reversed(layers) if location and location[0] in args), base[0])
            problems.setdefault((*where, *location), message)
    return list(problems.items())


def _merged(layers: list[tuple[FieldPath, dict[str, Any]]]) -> dict[str, Any]:
    return {key: value for _, args in layers for key, value in args.items()}


def _unreported_reward_metrics(experiment: NASExperiment, model: type[TrainerArgs],
                               raw_args: dict[str, Any]) -> list[tuple[FieldPath, str]]:
    """The reward's metrics a trial of the prebuilt trainer with these args would not report: a misspelt name
    would otherwise fail every trial after it trained."""
    try:
        args = model.model_validate(raw_args)
    except ValidationError:
        return []  # reported as bad args
    backend = experiment.spec.backend  # latency-calculator jobs measure the trials of nasctl's own controllers
    measured_outside = isinstance(backend, VertexBackendSpec) and backend.latency is not None and \
        experiment.spec.search.algorithm not in VERTEX_ALGORITHMS
    reward = experiment.spec.reward
    named = [(("spec", "reward", "metric"), reward.metric)] + [
        (("spec", "reward", field, "metric"), term.metric)
        for field, term in (("latency", reward.latency), ("memory", reward.memory)) if term is not None]
    return [(path, problem) for path, metric in named if (problem := args.unreported(metric, measured_outside))]
