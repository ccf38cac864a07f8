"""A trained model saved in its trial directory: ``model.json`` (how to rebuild it) + ``model.msgpack``.

The latency calculator and the on-prem latency worker rebuild the model from these two files; checking
whether a trial has one needs no JAX.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainers_jax.models import ModelConfig
from state.files import write_json_atomic

MODEL_CONFIG_FILE = "model.json"
MODEL_WEIGHTS_FILE = "model.msgpack"


def has_saved_model(trial_dir: str | Path) -> bool:
    return (Path(trial_dir) / MODEL_WEIGHTS_FILE).is_file() and (Path(trial_dir) / MODEL_CONFIG_FILE).is_file()


def save_model(trial_dir: str | Path, config: ModelConfig, variables: Any) -> None:
    """Weights first, then the config: a config present means the weights are complete."""
    from flax import serialization  # noqa: PLC0415

    directory = Path(trial_dir)
    tmp = directory / f".{MODEL_WEIGHTS_FILE}.tmp"
    tmp.write_bytes(serialization.msgpack_serialize(_to_numpy(variables)))
    tmp.replace(directory / MODEL_WEIGHTS_FILE)
    write_json_atomic(directory / MODEL_CONFIG_FILE, config.to_json())


def load_model(trial_dir: str | Path) -> tuple[ModelConfig, Any]:
    """(config, variables) of the model saved in `trial_dir`."""
    from flax import serialization  # noqa: PLC0415

    directory = Path(trial_dir)
    if not has_saved_model(directory):
        raise FileNotFoundError(f"{directory}: no saved model ({MODEL_CONFIG_FILE} + {MODEL_WEIGHTS_FILE})")
    config = ModelConfig.from_json(json.loads((directory / MODEL_CONFIG_FILE).read_text(encoding="utf-8")))
    return config, serialization.msgpack_restore((directory / MODEL_WEIGHTS_FILE).read_bytes())


def _to_numpy(tree: Any) -> Any:
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    return jax.tree_util.tree_map(np.asarray, tree)
