"""RandAugment applied in the input workers: N operations drawn per image, each at magnitude M (0–30).

A policy is what ``search_spaces.augmentation`` materialises: ``{"num_ops", "magnitude", "operations"}``
(``operations`` names an operation set: ``geometric``, ``color`` or ``all``). Magnitude 30 is each
operation's strongest setting; geometric and enhancement operations take a random sign, as in the
RandAugment paper. Operations work on PIL images (grey or RGB) and draw their randomness from the
generator they are given, so a record's augmentation depends only on the loader's seed and position.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from search_spaces.augmentation import MAX_MAGNITUDE, OPERATION_SETS

Operation = Callable[[Image.Image, float], Image.Image]  # (image, signed strength in [-1, 1]) → image


def _affine(image: Image.Image, matrix: tuple[float, ...]) -> Image.Image:
    return image.transform(image.size, Image.AFFINE, matrix, resample=Image.BILINEAR)


def _enhance(enhancer: Any) -> Operation:
    return lambda image, s: enhancer(image).enhance(1.0 + 0.9 * s)


OPERATIONS: dict[str, Operation] = {
    "rotate": lambda image, s: image.rotate(30.0 * s, resample=Image.BILINEAR),
    "shear_x": lambda image, s: _affine(image, (1, 0.3 * s, 0, 0, 1, 0)),
    "shear_y": lambda image, s: _affine(image, (1, 0, 0, 0.3 * s, 1, 0)),
    "translate_x": lambda image, s: _affine(image, (1, 0, 0.45 * s * image.size[0], 0, 1, 0)),
    "translate_y": lambda image, s: _affine(image, (1, 0, 0, 0, 1, 0.45 * s * image.size[1])),
    "auto_contrast": lambda image, s: ImageOps.autocontrast(image),
    "equalize": lambda image, s: ImageOps.equalize(image),
    "solarize": lambda image, s: ImageOps.solarize(image, int(256 - 256 * abs(s))),
    "posterize": lambda image, s: ImageOps.posterize(image, max(1, 8 - int(round(4 * abs(s))))),
    "contrast": _enhance(ImageEnhance.Contrast),
    "color": _enhance(ImageEnhance.Color),
    "brightness": _enhance(ImageEnhance.Brightness),
    "sharpness": _enhance(ImageEnhance.Sharpness),
}
SIGNED = {"rotate", "shear_x", "shear_y", "translate_x", "translate_y",
          "contrast", "color", "brightness", "sharpness"}


class PolicyError(ValueError):
    """An augmentation policy that names unknown operations or magnitudes out of range."""


@dataclass(frozen=True)
class RandAugment:
    num_ops: int
    magnitude: int
    operations: tuple[str, ...]

    @classmethod
    def from_policy(cls, policy: dict[str, Any]) -> "RandAugment":
        try:
            num_ops, magnitude, names = int(policy["num_ops"]), int(policy["magnitude"]), policy["operations"]
        except (KeyError, TypeError, ValueError):
            raise PolicyError(f"an augmentation policy needs num_ops, magnitude and operations, got {policy!r}") from None
        operations = OPERATION_SETS.get(names, names) if isinstance(names, str) else tuple(names)
        unknown = sorted(set(operations) - set(OPERATIONS)) if not isinstance(operations, str) else [operations]
        if unknown or not operations:
            raise PolicyError(f"unknown augmentation operations {unknown}; known: {sorted(OPERATIONS)} "
                              f"or the sets {sorted(OPERATION_SETS)}")
        if num_ops < 0 or not 0 <= magnitude <= MAX_MAGNITUDE:
            raise PolicyError(f"num_ops must be ≥ 0 and magnitude within [0, {MAX_MAGNITUDE}], got {num_ops}, {magnitude}")
        return cls(num_ops, magnitude, tuple(operations))

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        strength = self.magnitude / MAX_MAGNITUDE
        for index in rng.integers(0, len(self.operations), self.num_ops):
            name = self.operations[int(index)]
            sign = -1.0 if name in SIGNED and rng.random() < 0.5 else 1.0
            image = OPERATIONS[name](image, sign * strength)
        return image
