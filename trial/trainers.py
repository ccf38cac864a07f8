"""Prebuilt trainers by name → 'module:function' (imported only inside the trial process)."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the trial process must not pay for building the spec models
    from specs.model import NASExperiment, TrainerSpec

PREBUILT_TRAINERS: dict[str, str] = {
    "nb201-tabular": "trainers_jax.nb201_tabular:train",
    "image-classifier": "trainers_jax.image_classifier:train",
}


def check_trainer(spec: TrainerSpec) -> str | None:
    """An error message for an unknown prebuilt trainer, else None."""
    if spec.prebuilt is not None and spec.prebuilt not in PREBUILT_TRAINERS:
        return f"unknown prebuilt trainer {spec.prebuilt!r}; expected one of {sorted(PREBUILT_TRAINERS)}"
    return None


def resolve_trainer(prebuilt: str | None, module: str | None) -> Callable:
    """The trainer function, in the trial process (`apply` checked a user's module before launching it)."""
    module_name, _, function_name = (PREBUILT_TRAINERS[prebuilt] if prebuilt else module).partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def trial_document(experiment: "NASExperiment", trial_id: str, stage: str, arch: Any, dna: list[Any],
                   args: dict[str, Any], seed: int) -> dict[str, Any]:
    """A trial's trial.json: what the runner needs to train it (written by `apply`, or by a NasJob trial)."""
    return {"id": trial_id, "stage": stage, "experiment": experiment.metadata.name, "arch": arch, "dna": dna,
            "args": args, "seed": seed,
            "trainer": experiment.spec.trainer.model_dump(include={"prebuilt", "module", "command"})}
