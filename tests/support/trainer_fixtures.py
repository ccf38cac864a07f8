"""Shared constants of the trainer tests: a tiny MnasNet-space architecture and fast digits settings."""
from __future__ import annotations

from search_spaces.mnasnet import block

TINY_ARCH = {"stem": 8, "head": 32, "blocks": [
    block(1, "mbconv", 1, 3, 0.0, 8, 1),
    block(1, "mbconv", 3, 3, 0.25, 16, 2),
    block(1, "conv", 1, 3, 0.0, 16, 1),
]}
# Small, fast settings for digits: 16×16 images, a short schedule.
FAST_ARGS = {"imageSize": 16, "steps": 80, "evalEvery": 20, "batchSize": 64, "learningRate": 0.2}
