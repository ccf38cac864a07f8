"""Prebuilt trainers by name → 'module:function' (imported only inside the trial process)."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the trial process must not pay for building the spec models
    from specs.model import TrainerSpec

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
