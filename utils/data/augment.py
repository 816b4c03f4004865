"""Augmented views of training photos (torchvision transforms v2), deterministic per image and view.

A view is a random resized crop (224 px), maybe flipped, with a light colour jitter, drawn from the
decoded photo. View ``v`` of an image is always the same for a given seed and settings (its random
draws are seeded from the seed, the image's sha256 and ``v``), so views are cached like features,
and a change of settings gives other cache keys. Views exist for training rows only: nothing here
is ever applied to validation or test rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Augmentation:
    """The augmentation settings (notebook parameters); ``key`` goes into cache names."""

    views: int = 4  # augmented views per training image
    size: int = 224
    scale: tuple[float, float] = (0.6, 1.0)  # RandomResizedCrop area range
    flip: float = 0.5  # horizontal flip probability
    jitter: float = 0.2  # ColorJitter brightness / contrast / saturation
    seed: int = 0

    @property
    def key(self) -> str:
        settings = {
            k: v for k, v in asdict(self).items() if k != "views"
        }  # more views reuse the first ones
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]

    def transform(self):
        from torchvision.transforms import v2

        return v2.Compose(
            [
                v2.RandomResizedCrop(self.size, scale=tuple(self.scale), antialias=True),
                v2.RandomHorizontalFlip(self.flip),
                v2.ColorJitter(
                    brightness=self.jitter, contrast=self.jitter, saturation=self.jitter
                ),
            ]
        )


def view_seed(aug: Augmentation, sha256: str, view: int) -> int:
    digest = hashlib.sha256(f"{aug.seed}|{aug.key}|{sha256}|{view}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def make_view(image: Image.Image, aug: Augmentation, sha256: str, view: int) -> np.ndarray:
    """View ``view`` (1, 2, ...) of ``image``: a ``size`` x ``size`` uint8 RGB array."""
    if view < 1:
        raise ValueError(
            "view 0 is the photo itself (the model's own resize and crop); augmented views start "
            "at 1"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(view_seed(aug, sha256, view))
        out = aug.transform()(image)
    return np.array(out, dtype=np.uint8)
