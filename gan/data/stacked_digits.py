"""Stacked digits: three bundled 8x8 digits stacked as the colour channels of one image, 10^3 = 1,000 modes.

The offline analogue of Stacked MNIST (Metz et al. 2017, Unrolled GANs; Srivastava et al. 2017,
VEEGAN; Lin et al. 2018, PacGAN), built from scikit-learn's bundled digits instead of MNIST: sample
i takes three digits d_0, d_1, d_2 drawn independently and uniformly with replacement from the
1,797 bundled digits (channel j holds d_j) and is labelled with its mode 100 a + 10 b + c, where
a, b, c are the classes of d_0, d_1, d_2.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan.data.errors import DataError
from gan.data.images import ImageDataset, load_digits

__all__ = ["StackedDigits", "load_stacked_digits", "STACKED_DIGITS_MODES"]

#: Number of modes: one per 3-digit number 000..999.
STACKED_DIGITS_MODES = 1000


class StackedDigits(ImageDataset):
    """``samples`` stacked images (3, s, s) in [-1, 1], labels 100 a + 10 b + c (see the module).

    Stored as the 1,797 digits (``digits``, (1797, 1, s, s)) and an index (``index``, (samples, 3))
    of the digit in each channel, so 50,000 samples at 32x32 take 1.2 MB instead of 600 MB;
    :meth:`sample` assembles only the batch it draws, and ``images`` assembles all of them.
    """

    def __init__(self, digits: ImageDataset, index: Tensor):
        if digits.labels is None or tuple(digits.shape[:1]) != (1,):
            raise DataError(f"stacked digits need labelled 1-channel digits, got {digits!r}")
        if index.dim() != 2 or index.shape[1] != 3 or index.shape[0] == 0:
            raise DataError(f"index must be a non-empty (samples, 3) tensor, got shape {tuple(index.shape)}")
        self.name = "stacked-digits"
        self.digits = digits.images
        self.digit_labels = digits.labels
        self.index = index.long()
        classes = self.digit_labels[self.index]                           # (samples, 3): a, b, c
        self.labels = classes[:, 0] * 100 + classes[:, 1] * 10 + classes[:, 2]
        self.shape = (3, *self.digits.shape[2:])

    @property
    def images(self) -> Tensor:
        """All samples, (samples, 3, s, s) float32 (assembled on every access)."""
        return self._stack(self.index)

    def __len__(self) -> int:
        return self.index.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n stacked images drawn uniformly with replacement from the ``samples`` (as ImageDataset)."""
        idx = torch.randint(len(self), (n,), generator=generator)
        return self._stack(self.index[idx])

    def _stack(self, index: Tensor) -> Tensor:
        return self.digits[index.reshape(-1), 0].reshape(index.shape[0], 3, *self.shape[1:])

    def __repr__(self) -> str:
        return f"StackedDigits(samples={len(self)}, shape={self.shape}, modes={STACKED_DIGITS_MODES})"


def load_stacked_digits(image_size: int = 16, samples: int = 50_000, seed: int = 0) -> StackedDigits:
    """``samples`` stacked digits at ``image_size`` (default 16; DCGAN takes 16 or 32), fixed by ``seed``:
    the digit indices are ``torch.randint(1797, (samples, 3))`` from ``torch.Generator().manual_seed(seed)``,
    so one seed gives the same data set on every machine."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise DataError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise DataError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be an integer >= 1, got {image_size!r}")
    digits = load_digits(image_size)
    index = torch.randint(len(digits), (samples, 3), generator=torch.Generator().manual_seed(seed))
    return StackedDigits(digits, index)
