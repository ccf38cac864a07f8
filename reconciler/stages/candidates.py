"""Proxy-task candidates: the spec's, then those a user generator returns for the baseline args."""
from __future__ import annotations

from typing import Any
from dataclasses import dataclass, field

from specs.model import NASExperiment, ProxyTaskCandidateSpec
from adaptors.user_code import UserCodeRefused, import_reference


@dataclass
class Candidates:
    """The proxy-task candidates (the spec's, then the generator's), or why there are none."""

    found: list[ProxyTaskCandidateSpec] = field(default_factory=list)
    error: str | None = None
    deferred: str | None = None  # a generator not run by this command (`diff`): its candidates are unknown


def baseline_args(experiment: NASExperiment) -> dict[str, Any]:
    """The full training the reference models had: what candidates modify."""
    return {**experiment.spec.trainer.args, **experiment.spec.model_selection.trainer_args}


def load_candidates(experiment: NASExperiment) -> Candidates:
    """The spec's candidates, then the generator's (called with the baseline args); or why there are none."""
    spec = experiment.spec.proxy_task_search
    found = list(spec.candidates)
    if spec.generator is not None:
        try:
            generator = import_reference(spec.generator)
        except UserCodeRefused as exc:
            return Candidates(found, deferred=str(exc))
        try:
            generated = generator(dict(baseline_args(experiment)))
            found += [item if isinstance(item, ProxyTaskCandidateSpec) else ProxyTaskCandidateSpec.model_validate(item)
                      for item in generated]
        except Exception as exc:  # noqa: BLE001 - a user's generator: report it, never crash apply
            return Candidates([], f"generator {spec.generator} failed: {type(exc).__name__}: {exc}")
    names = [c.name for c in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return Candidates([], f"candidate names must be unique (repeated: {repeated})")
    return Candidates(found)
