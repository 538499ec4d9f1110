"""Images held in memory: :class:`ImageDataset` and scikit-learn's bundled 8x8 digits.

Pixels are float32 in [-1, 1], shape (n, channels, size, size); resizing is bilinear
(antialiased when shrinking) and clamped to [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gan.data.errors import DataError

__all__ = ["ImageDataset", "load_digits"]


class ImageDataset:
    """Images (n, channels, size, size) in [-1, 1] held in memory, with optional integer labels."""

    kind = "images"

    def __init__(self, name: str, images: Tensor, labels: Tensor | None = None):
        if images.dim() != 4 or images.shape[0] == 0:
            raise DataError(f"{name}: expected a non-empty (n, channels, h, w) tensor, got {tuple(images.shape)}")
        self.name = name
        self.images = images.float().contiguous()
        self.labels = labels
        self.shape = tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images drawn uniformly with replacement."""
        idx = torch.randint(len(self), (n,), generator=generator)
        return self.images[idx]

    def __repr__(self) -> str:
        return f"ImageDataset({self.name!r}, n={len(self)}, shape={self.shape})"


def _to_unit_range(pixels: np.ndarray, max_value: float) -> Tensor:
    """uint8-like pixels in [0, max_value] -> float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)) * (2.0 / max_value) - 1.0


def _resize(images: Tensor, size: int | None) -> Tensor:
    """Bilinear resize of (n, c, h, w) to size x size (antialiased when shrinking); values stay in [-1, 1]."""
    if size is None or images.shape[-2:] == (size, size):
        return images
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"image_size must be an integer >= 1, got {size!r}")
    shrink = size < max(images.shape[-2:])
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return out.clamp_(-1.0, 1.0)


def load_digits(image_size: int = 16) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; pixels 0..16), resized and in [-1, 1]."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = _to_unit_range(d.images.reshape(-1, 1, 8, 8), 16.0)
    return ImageDataset("digits", _resize(images, image_size), torch.from_numpy(d.target.astype(np.int64)))
