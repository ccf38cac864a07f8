"""Per-image preprocessing, run in the input workers: decode, crop or resize, flip, RandAugment, normalise.

The workers hand out 8-bit pixels (H×W×C ``uint8``, a quarter of the bytes of float32 between
processes); the train step normalises them on the device with the set's channel statistics
(:class:`trainers_jax.training.Normalize`). Array records are 8-bit after this step too, as they were
already quantised by the PIL operations below.

Image files (an image folder) get ImageNet-style preprocessing: a random-resized crop (8–100 % of the
area, aspect 3/4–4/3) and a horizontal flip for training, resize-then-centre-crop (87.5 %) for
evaluation. Array records (digits, ``.npz``) are resized to the training size (no crop or flip: a
flipped digit is another digit). Everything random is drawn from the generator passed in, which the loader derives from its seed and the record's
position.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from trainers_jax import storage
from trainers_jax.augment import RandAugment
from trainers_jax.errors import DataError

EVAL_CROP = 0.875
CROP_AREA = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def to_pil(image: Any, scale: float) -> Image.Image:
    """An image file (its location) or encoded bytes → RGB; an H×W×C array of values in [0, scale] → grey or RGB 8-bit."""
    if isinstance(image, (str, bytes)):
        name = image if isinstance(image, str) else "an ArrayRecord record"
        try:
            encoded = io.BytesIO(image) if isinstance(image, bytes) else (
                io.BytesIO(storage.read_bytes(image)) if storage.is_remote(image) else image)
            with Image.open(encoded) as decoded:
                decoded.load()
                return decoded if decoded.mode == "RGB" else decoded.convert("RGB")  # no copy of an RGB image
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"{name}: unreadable image ({exc})") from None
    pixels = np.clip(np.asarray(image, np.float32) * (255.0 / scale), 0, 255).round().astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def random_resized_crop(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """Inception-style crop: a random area and aspect ratio, resized to size×size (whole image after 10 misses)."""
    width, height = image.size
    for _ in range(10):
        area = width * height * rng.uniform(*CROP_AREA)
        ratio = math.exp(rng.uniform(math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])))
        w, h = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
        if 0 < w <= width and 0 < h <= height:
            left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            return image.resize((size, size), Image.BILINEAR, box=(left, top, left + w, top + h))
    return image.resize((size, size), Image.BILINEAR)


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to size / 0.875, then cut the central size×size square."""
    width, height = image.size
    shorter = size / EVAL_CROP
    w, h = max(size, round(width * shorter / min(width, height))), max(size, round(height * shorter / min(width, height)))
    left, top = (w - size) // 2, (h - size) // 2
    return image.resize((w, h), Image.BILINEAR).crop((left, top, left + size, top + size))


@dataclass(frozen=True)
class Preprocess:
    """One record (image, label) → (uint8 H×W×C image, label)."""

    image_size: int
    scale: float = 1.0  # array records: the value of a white pixel (1.0 or 255)
    imagenet: bool = False  # random-resized crop + flip (train) / centre crop (eval)
    train: bool = True
    augment: RandAugment | None = None

    def __call__(self, record: tuple[Any, int], rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.int32]:
        if self.train and rng is None:
            raise ValueError("training preprocessing draws random crops and augmentations: pass a generator")
        image = to_pil(record[0], self.scale)
        if self.imagenet and self.train:
            image = random_resized_crop(image, self.image_size, rng)
            if rng.random() < 0.5:
                image = image.transpose(Image.FLIP_LEFT_RIGHT)
        elif self.imagenet:
            image = centre_crop(image, self.image_size)
        elif image.size != (self.image_size, self.image_size):
            image = image.resize((self.image_size, self.image_size), Image.BILINEAR)
        if self.train and self.augment is not None:
            image = self.augment(image, rng)
        pixels = np.asarray(image, np.uint8)
        return (pixels[..., None] if pixels.ndim == 2 else pixels), np.int32(record[1])
