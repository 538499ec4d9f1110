"""Data sets: Gaussian mixtures (1-D, ring, grid) and images (digits, stacked digits, MNIST, Fashion-MNIST,
CIFAR-10, a folder).

``load_dataset(name, ...)`` returns a :class:`GaussianMixture` (``kind == "mixture"``) or an
:class:`ImageDataset` (``kind == "images"``, pixels scaled to [-1, 1], shape
``(channels, size, size)``). Both draw batches with ``.sample(n, generator)`` from a
``torch.Generator``, so a seeded generator gives the same batches on every machine.

Images load offline only. ``digits`` is scikit-learn's bundled 8x8 digits; ``stacked-digits``
stacks three of them as colour channels (1,000 modes, the offline analogue of Stacked MNIST).
MNIST, Fashion-MNIST and CIFAR-10 are read from a local ``root`` holding the files of the
official distributions (built-in readers, no torchvision needed; ``backend="torchvision"``
uses torchvision's data sets with ``download=False``). ``folder`` reads every PNG/JPEG under
``root`` (sub-folders are classes) with Pillow.

Modules: :mod:`gan.data.mixtures`, :mod:`gan.data.images` (in-memory images, digits),
:mod:`gan.data.stacked_digits`, :mod:`gan.data.image_files` (readers of local files),
:mod:`gan.data.loading` (:func:`load_dataset`); every public name is importable from ``gan.data``.
"""

from gan.data.errors import DataError, DatasetNotFoundError
from gan.data.image_files import IMAGE_EXTENSIONS, read_cifar10, read_idx, read_image_folder, read_mnist
from gan.data.images import ImageDataset, load_digits
from gan.data.loading import DATASETS, DEFAULT_IMAGE_SIZE, load_dataset
from gan.data.mixtures import GaussianMixture, gaussian1d, grid, ring
from gan.data.stacked_digits import STACKED_DIGITS_MODES, StackedDigits, load_stacked_digits

__all__ = [
    "DATASETS", "DataError", "DatasetNotFoundError", "GaussianMixture", "ImageDataset", "load_dataset",
    "ring", "grid", "gaussian1d", "read_idx", "read_mnist", "read_cifar10", "read_image_folder", "load_digits",
    "DEFAULT_IMAGE_SIZE", "IMAGE_EXTENSIONS", "StackedDigits", "load_stacked_digits", "STACKED_DIGITS_MODES",
]
