"""The entry point :func:`load_dataset`: the data set names, their options and default image sizes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gan.data.errors import DataError
from gan.data.image_files import _load_with_torchvision, read_cifar10, read_image_folder, read_mnist
from gan.data.images import ImageDataset, _resize, _to_unit_range, load_digits
from gan.data.mixtures import GaussianMixture, gaussian1d, grid, ring
from gan.data.stacked_digits import load_stacked_digits

__all__ = ["DATASETS", "DEFAULT_IMAGE_SIZE", "load_dataset"]

DATASETS = ("gaussian1d", "ring", "grid", "digits", "stacked-digits", "mnist", "fashion-mnist", "cifar10",
            "folder")
DEFAULT_IMAGE_SIZE = {"digits": 16, "stacked-digits": 16, "mnist": 32, "fashion-mnist": 32, "cifar10": 32,
                      "folder": 64}

_MIXTURE_OPTIONS = {"ring": {"modes", "radius", "std"}, "grid": {"side", "spacing", "std"},
                    "gaussian1d": {"means", "std", "weights"}}
_IMAGE_OPTIONS = {"digits": set(), "stacked-digits": {"samples", "seed"}, "mnist": {"train", "backend"},
                  "fashion-mnist": {"train", "backend"}, "cifar10": {"train", "backend"},
                  "folder": {"channels", "backend"}}


def load_dataset(name: str, root: str | os.PathLike | None = None, image_size: int | None = None,
                 **options) -> GaussianMixture | ImageDataset:
    """The data set called ``name`` (one of :data:`DATASETS`).

    Mixtures: ``ring`` (options ``modes=8, radius=1.0, std=0.01``), ``grid`` (``side=5, spacing=2.0,
    std=0.05``), ``gaussian1d`` (``means=(-2, 2), std=0.5, weights=None``).
    Images (``image_size`` defaults: digits and stacked-digits 16, mnist/fashion-mnist/cifar10 32,
    folder 64): ``digits`` (bundled), ``stacked-digits`` (three bundled digits as the colour channels,
    1,000 modes; ``samples=50000, seed=0``, see :func:`load_stacked_digits`),
    ``mnist``/``fashion-mnist``/``cifar10`` (``root`` required; ``train=True``; ``backend="builtin"`` or
    ``"torchvision"``), ``folder`` (``root`` required; ``channels=3``).
    """
    if not isinstance(name, str) or name.lower() not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known data sets: {list(DATASETS)}")
    name = name.lower()
    allowed = _MIXTURE_OPTIONS.get(name) or _IMAGE_OPTIONS[name]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise DataError(f"data set {name!r} does not take option(s) {unknown}; its options: {sorted(allowed)}")
    if name in _MIXTURE_OPTIONS:
        if image_size is not None:
            raise DataError(f"image_size is for image data sets; {name!r} is a Gaussian mixture")
        return {"ring": ring, "grid": grid, "gaussian1d": gaussian1d}[name](**options)
    size = DEFAULT_IMAGE_SIZE[name] if image_size is None else image_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"image_size must be an integer >= 1, got {size!r}")
    if name == "digits":
        return load_digits(size)
    if name == "stacked-digits":
        return load_stacked_digits(size, **options)
    if root is None:
        raise DataError(f"data set {name!r} is read from local files: pass root=<the folder holding them> "
                        f"(this library never downloads data)")
    root = Path(root).expanduser()
    backend = options.get("backend", "builtin")
    if backend not in ("builtin", "torchvision"):
        raise DataError(f"backend must be 'builtin' or 'torchvision', got {backend!r}")
    from gan.config import ConfigError, flag

    try:
        train = flag("train", options.get("train", True))
    except ConfigError as e:
        raise DataError(str(e)) from None
    channels = options.get("channels", 3)
    if isinstance(channels, bool) or channels not in (1, 3):
        raise DataError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    if backend == "torchvision":
        return _load_with_torchvision(name, root, train, size, channels)
    if name in ("mnist", "fashion-mnist"):
        images, labels = read_mnist(root, name, train)
        return ImageDataset(name, _resize(_to_unit_range(images[:, None], 255.0), size),
                            torch.from_numpy(labels.astype(np.int64)))
    if name == "cifar10":
        images, labels = read_cifar10(root, train)
        return ImageDataset(name, _resize(_to_unit_range(images, 255.0), size), torch.from_numpy(labels))
    images, labels = read_image_folder(root, size, channels)
    return ImageDataset(name, images, labels)
