"""A small real model saved in a trial directory (random weights: latency needs no training)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from search_spaces.mnasnet import block
from trainers_jax.models import ModelConfig, build_model
from trainers_jax.saved_model import save_model
from trainers_jax.training import init_variables

SMALL_ARCH = {"stem": 8, "head": 32, "blocks": [block(1, "mbconv", 1, 3, 0.0, 8, 1), block(1, "mbconv", 3, 3, 0.0, 16, 2)]}


def save_random_model(trial_dir: Path, arch: dict = SMALL_ARCH, image_size: int = 16, width: float = 1.0) -> ModelConfig:
    config = ModelConfig(arch, num_classes=10, image_size=image_size, channels=1, width=width)
    variables = init_variables(build_model(config), np.zeros((1, image_size, image_size, 1), np.float32), seed=0)
    trial_dir.mkdir(parents=True, exist_ok=True)
    save_model(trial_dir, config, variables)
    return config
