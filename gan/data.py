"""Data sets: Gaussian mixtures (1-D, ring, grid) and images (digits, MNIST, Fashion-MNIST, CIFAR-10, a folder).

``load_dataset(name, ...)`` returns a :class:`GaussianMixture` (``kind == "mixture"``) or an
:class:`ImageDataset` (``kind == "images"``, pixels scaled to [-1, 1], shape
``(channels, size, size)``). Both draw batches with ``.sample(n, generator)`` from a
``torch.Generator``, so a seeded generator gives the same batches on every machine.

Images load offline only. ``digits`` is scikit-learn's bundled 8x8 digits. MNIST,
Fashion-MNIST and CIFAR-10 are read from a local ``root`` holding the files of the
official distributions (built-in readers, no torchvision needed; ``backend="torchvision"``
uses torchvision's data sets with ``download=False``). ``folder`` reads every PNG/JPEG
under ``root`` (sub-folders are classes) with Pillow.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DATASETS", "DataError", "DatasetNotFoundError", "GaussianMixture", "ImageDataset", "load_dataset",
    "ring", "grid", "gaussian1d", "read_idx", "read_mnist", "read_cifar10", "read_image_folder", "load_digits",
    "DEFAULT_IMAGE_SIZE",
]

DATASETS = ("gaussian1d", "ring", "grid", "digits", "mnist", "fashion-mnist", "cifar10", "folder")
DEFAULT_IMAGE_SIZE = {"digits": 16, "mnist": 32, "fashion-mnist": 32, "cifar10": 32, "folder": 64}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


class DataError(ValueError):
    """A data set is asked for wrongly (name, options) or its files are unreadable."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The files of a data set are not where they were looked for."""


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures
# ---------------------------------------------------------------------------------------------

class GaussianMixture:
    """sum_k w_k N(mu_k, std^2 I): ``means`` (k x d, float32), one ``std``, ``weights`` (k, float64, summing to 1)."""

    kind = "mixture"

    def __init__(self, name: str, means: Tensor, std: float, weights: Tensor | None = None):
        means = torch.as_tensor(means, dtype=torch.float32)
        if means.dim() != 2:
            raise DataError(f"means must be a (k, d) tensor, got shape {tuple(means.shape)}")
        if not (isinstance(std, (int, float)) and not isinstance(std, bool) and std > 0 and math.isfinite(std)):
            raise DataError(f"std must be a number > 0, got {std!r}")
        k = means.shape[0]
        if weights is None:
            weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (k,) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
            raise DataError(f"weights must be {k} non-negative numbers with a positive sum, got {weights.tolist()}")
        self.name = name
        self.means = means
        self.std = float(std)
        self.weights = weights / weights.sum()
        self.shape = (means.shape[1],)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples (float32, CPU): a component k ~ weights, then mu_k + std * N(0, I)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.shape[0], generator=generator)
        return self.means[k] + self.std * noise

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) = logsumexp_k [log w_k - |x - mu_k|^2 / (2 std^2)] - d/2 log(2 pi std^2)."""
        x = torch.as_tensor(x, dtype=torch.float64).reshape(-1, self.shape[0])
        means = self.means.double()
        sq = (x[:, None, :] - means[None, :, :]).pow(2).sum(-1)
        d = self.shape[0]
        log_norm = -0.5 * d * math.log(2 * math.pi * self.std ** 2)
        return torch.logsumexp(self.weights.double().log() - sq / (2 * self.std ** 2), dim=1) + log_norm

    def __repr__(self) -> str:
        return f"GaussianMixture({self.name!r}, modes={self.means.shape[0]}, dim={self.shape[0]}, std={self.std})"


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise DataError(f"{name} must be a number > 0 (finite), got {value!r}")
    return float(value)


def _numbers(name: str, values) -> list[float]:
    if isinstance(values, (np.ndarray, Tensor)) and values.ndim == 1:
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values or not all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise DataError(f"{name} must be a non-empty list of finite numbers, got {values!r}")
    return [float(v) for v in values]


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """``modes`` Gaussians at radius * (cos 2 pi k/modes, sin 2 pi k/modes), std 0.01 (Mescheder et al.
    2017; PacGAN). Metz et al. (2017) used radius 2, std 0.02."""
    modes, radius, std = _count("modes", modes), _positive("radius", radius), _positive("std", std)
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture("ring", means.float(), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """side^2 Gaussians on a grid centred at 0: means {-4, -2, 0, 2, 4}^2 and std 0.05 by default
    (VEEGAN; PacGAN)."""
    side, spacing, std = _count("side", side), _positive("spacing", spacing), _positive("std", std)
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1), std)


def gaussian1d(means: Sequence[float] = (-2.0, 2.0), std: float = 0.5,
               weights: Sequence[float] | None = None) -> GaussianMixture:
    """A 1-D mixture; by default 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)."""
    means, std = _numbers("means", means), _positive("std", std)
    if weights is not None:
        weights = _numbers("weights", weights)
        if len(weights) != len(means):
            raise DataError(f"weights must have one entry per mean ({len(means)}), got {len(weights)}")
    return GaussianMixture("gaussian1d", torch.tensor([[m] for m in means]), std,
                           None if weights is None else torch.tensor(weights, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

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


# ---- MNIST idx files ------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (the MNIST format; ``.gz`` allowed): magic 0, 0, type, ndim; big-endian dims; data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read IDX file {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(dims)) if dims else 1
    offset = 4 + 4 * ndim
    if len(raw) < offset + count * dtype.itemsize:
        raise DataError(f"{path} is truncated: the header promises shape {dims} of {dtype}")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(dims)


_MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_MNIST_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_HOW_TO_GET = {
    "mnist": "download them on a connected machine from https://yann.lecun.com/exdb/mnist/ (or a mirror, or "
             "torchvision.datasets.MNIST(root, download=True))",
    "fashion-mnist": "download them on a connected machine from https://github.com/zalandoresearch/fashion-mnist "
                     "(or torchvision.datasets.FashionMNIST(root, download=True))",
    "cifar10": "download cifar-10-python.tar.gz on a connected machine from "
               "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it (or torchvision.datasets.CIFAR10(root, "
               "download=True))",
}


def _find(root: Path, candidates: Sequence[Path]) -> Path | None:
    for c in candidates:
        if (root / c).is_file():
            return root / c
    return None


def read_mnist(root: str | os.PathLike, name: str = "mnist", train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 28, 28), labels) from the IDX files under ``root``, ``root/raw`` or
    ``root/MNIST/raw`` (``FashionMNIST`` for Fashion-MNIST; torchvision's layout), gzipped or not."""
    root = Path(root)
    found = []
    for fname in _MNIST_FILES[train]:
        dirs = [Path("."), Path("raw"), Path(_MNIST_FOLDER[name]) / "raw"]
        cands = [d / (fname + ext) for d in dirs for ext in ("", ".gz")]
        path = _find(root, cands)
        if path is None:
            raise _not_found(name, root, [fname + "[.gz]"], "directly in it, in raw/ or in "
                             f"{_MNIST_FOLDER[name]}/raw/")
        found.append(path)
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataError(f"{found[0]} and {found[1]} do not match: images {images.shape}, labels {labels.shape}")
    return images, labels


def read_cifar10(root: str | os.PathLike, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 3, 32, 32), labels) from the python pickle batches
    ``cifar-10-batches-py/data_batch_1..5`` (or ``test_batch``) under ``root`` (or in ``root`` itself)."""
    root = Path(root)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    base = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    missing = [n for n in names if not (base / n).is_file()]
    if missing:
        raise _not_found("cifar10", root, [f"cifar-10-batches-py/{n}" for n in names], "")
    images, labels = [], []
    for n in names:
        try:
            with open(base / n, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            lab = np.asarray(batch[b"labels"], dtype=np.int64)
        except Exception as e:  # noqa: BLE001 - any unreadable batch is the same user problem
            raise DataError(f"cannot read CIFAR-10 batch {base / n}: {e}") from e
        if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != lab.shape[0]:
            raise DataError(f"{base / n}: expected data (n, 3072) and n labels, got {data.shape}, {lab.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def read_image_folder(root: str | os.PathLike, image_size: int, channels: int = 3) -> tuple[Tensor, Tensor]:
    """Every PNG/JPEG under ``root`` (recursively, sorted), centre-cropped to a square, resized to
    ``image_size`` (bicubic) and in [-1, 1]; labels index the first-level sub-folders (0 for files in root)."""
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow comes with matplotlib
        raise DataError("reading an image folder needs Pillow: pip install pillow") from e
    root = Path(root)
    if not root.is_dir():
        raise _not_found("folder", root, [f"*{e}" for e in IMAGE_EXTENSIONS], "")
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise _not_found("folder", root, [f"*{e}" for e in IMAGE_EXTENSIONS], "")
    classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    index = {c: i for i, c in enumerate(classes)}
    arrays, labels = [], []
    for p in files:
        try:
            with Image.open(p) as im:
                im = im.convert("L" if channels == 1 else "RGB")
                w, h = im.size
                s = min(w, h)
                im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
                im = im.resize((image_size, image_size), Image.BICUBIC)
                a = np.asarray(im, dtype=np.uint8)
        except OSError as e:
            raise DataError(f"cannot read image {p}: {e}") from e
        arrays.append(a.reshape(image_size, image_size, channels).transpose(2, 0, 1))
        parts = p.relative_to(root).parts
        labels.append(index[parts[0]] if len(parts) > 1 else 0)
    return _to_unit_range(np.stack(arrays), 255.0), torch.tensor(labels, dtype=torch.int64)


def _not_found(name: str, root: Path, expected: Sequence[str], where: str) -> DatasetNotFoundError:
    how = _HOW_TO_GET.get(name, "put the images (PNG or JPEG, optionally in one sub-folder per class) there")
    return DatasetNotFoundError(
        f"data set {name!r}: expected {', '.join(expected)} under {root}"
        f"{' (' + where + ')' if where else ''}, but they are not there. "
        f"This library never downloads data: {how}, then copy them to {root} and pass root={str(root)!r}."
    )


def _torchvision():
    try:
        import torchvision  # noqa: F401
    except ImportError as e:
        tv = _matching_torchvision()
        raise DataError(
            "backend='torchvision' needs torchvision, which is not installed (it is an optional extra): "
            f"pip install torch=={torch.__version__.split('+')[0]} torchvision=={tv} "
            "(torchvision must match your torch version); or use backend='builtin', which reads the same "
            "files without it"
        ) from e
    return torchvision


def _matching_torchvision() -> str:
    """torchvision's version for this torch: torch 2.x pairs with torchvision 0.(x + 15)."""
    major, minor = (int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
    return f"0.{minor + 15}" if major == 2 else "<the release matching your torch>"


def _load_with_torchvision(name: str, root: Path, train: bool, image_size: int, channels: int) -> ImageDataset:
    tv = _torchvision()
    if name == "folder":
        ds = tv.datasets.ImageFolder(str(root))
    else:
        cls = {"mnist": tv.datasets.MNIST, "fashion-mnist": tv.datasets.FashionMNIST,
               "cifar10": tv.datasets.CIFAR10}[name]
        try:
            ds = cls(str(root), train=train, download=False)
        except RuntimeError as e:
            raise _not_found(name, root, [str(e)], "torchvision layout") from e
    if name in ("mnist", "fashion-mnist"):
        return ImageDataset(name, _resize(_to_unit_range(ds.data.numpy()[:, None], 255.0), image_size),
                            ds.targets.clone())
    if name == "cifar10":
        return ImageDataset(name, _resize(_to_unit_range(ds.data.transpose(0, 3, 1, 2), 255.0), image_size),
                            torch.tensor(ds.targets))
    mode = "L" if channels == 1 else "RGB"
    tf = tv.transforms.Compose([tv.transforms.Grayscale() if channels == 1 else tv.transforms.Lambda(
        lambda im: im.convert(mode)), tv.transforms.Resize(image_size), tv.transforms.CenterCrop(image_size),
        tv.transforms.PILToTensor()])
    ds.transform = tf
    images = torch.stack([ds[i][0] for i in range(len(ds))]).float() * (2.0 / 255.0) - 1.0
    return ImageDataset(name, images, torch.tensor(ds.targets))


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

_MIXTURE_OPTIONS = {"ring": {"modes", "radius", "std"}, "grid": {"side", "spacing", "std"},
                    "gaussian1d": {"means", "std", "weights"}}
_IMAGE_OPTIONS = {"digits": set(), "mnist": {"train", "backend"}, "fashion-mnist": {"train", "backend"},
                  "cifar10": {"train", "backend"}, "folder": {"channels", "backend"}}


def load_dataset(name: str, root: str | os.PathLike | None = None, image_size: int | None = None,
                 **options) -> GaussianMixture | ImageDataset:
    """The data set called ``name`` (one of :data:`DATASETS`).

    Mixtures: ``ring`` (options ``modes=8, radius=1.0, std=0.01``), ``grid`` (``side=5, spacing=2.0,
    std=0.05``), ``gaussian1d`` (``means=(-2, 2), std=0.5, weights=None``).
    Images (``image_size`` defaults: digits 16, mnist/fashion-mnist/cifar10 32, folder 64):
    ``digits`` (bundled), ``mnist``/``fashion-mnist``/``cifar10`` (``root`` required; ``train=True``;
    ``backend="builtin"`` or ``"torchvision"``), ``folder`` (``root`` required; ``channels=3``).
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
