"""Image data sets read from local files, never downloaded: MNIST / Fashion-MNIST (IDX), CIFAR-10
(python pickles), a folder of PNG/JPEG files, or the same through torchvision (``download=False``).
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan.data.errors import DataError, DatasetNotFoundError
from gan.data.images import ImageDataset, _resize, _to_unit_range

__all__ = ["IMAGE_EXTENSIONS", "read_idx", "read_mnist", "read_cifar10", "read_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")

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
