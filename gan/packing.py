"""Packing (PacGAN; Lin, Khetan, Fanti and Oh 2018): the discriminator judges m samples at once.

A packed discriminator D_m sees a group of m samples of one kind (all real or all generated),
concatenated along the channels (images) or the features (flat data), and returns one score for
the group. A generator that drops modes makes groups whose samples resemble each other, which
D_m can tell from real groups; PacGAN's Stacked-MNIST DCGAN covers all 1,000 modes with m = 2
(their Table 3). Groups are consecutive samples: ``x[k*m:(k+1)*m]`` is group k, so a batch of n
gives n / m scores, and the batch size must be a multiple of m (on several ranks: each rank's
share). ``pack = 1`` is the plain discriminator.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["PackedDiscriminator", "packed_shape", "check_pack"]


def check_pack(pack) -> int:
    """``pack`` as an integer >= 1, or a ``ValueError`` naming it."""
    if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
        raise ValueError(f"pack must be an integer >= 1 (PacGAN's m; 1 = no packing), got {pack!r}")
    return pack


def packed_shape(sample_shape: Sequence[int], pack: int) -> tuple[int, ...]:
    """The input shape of the discriminator inside: m samples stacked on the first (channel/feature) axis."""
    shape = tuple(sample_shape)
    return (shape[0] * check_pack(pack), *shape[1:])


class PackedDiscriminator(nn.Module):
    """D_m(x_1, ..., x_m) = D([x_1; ...; x_m]) for a ``discriminator`` built for :func:`packed_shape` inputs.

    ``input_shape`` is one sample's shape (what the game checks batches against); ``forward`` takes
    (n, *sample_shape) with n a multiple of ``pack`` and returns n / pack scores.
    """

    def __init__(self, discriminator: nn.Module, sample_shape: Sequence[int], pack: int):
        super().__init__()
        self.pack = check_pack(pack)
        self.input_shape = tuple(sample_shape)
        inner = getattr(discriminator, "input_shape", None)
        if inner is not None and tuple(inner) != packed_shape(self.input_shape, pack):
            raise ValueError(f"the packed discriminator needs an inner discriminator for inputs of shape "
                             f"{packed_shape(self.input_shape, pack)}, got one for {tuple(inner)}")
        self.inner = discriminator

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ValueError(f"a batch of {n} samples does not split into packs of {self.pack} (pack): use a batch "
                             f"size that is a multiple of {self.pack}")
        # (n, C, ...) -> (n/m, m*C, ...): consecutive samples side by side along the channels
        return self.inner(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))
