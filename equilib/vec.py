"""Vectors in parameter space: lists of tensors shaped like ``Game.parameters()``."""

from __future__ import annotations

import torch
from torch import Tensor

Vector = list[Tensor]

__all__ = ["Vector", "add", "scale", "dot", "norm", "zeros_like", "restrict", "detach"]


def add(a: Vector, b: Vector, alpha: float = 1.0) -> Vector:
    """a + alpha * b."""
    return [x.add(y, alpha=alpha) for x, y in zip(a, b)]


def scale(a: Vector, c: float) -> Vector:
    """c * a."""
    return [x * c for x in a]


def dot(a: Vector, b: Vector) -> Tensor:
    """<a, b> as a 0-dim tensor."""
    return sum((torch.vdot(x.reshape(-1), y.reshape(-1)) for x, y in zip(a, b)), torch.zeros((), dtype=a[0].dtype, device=a[0].device))


def norm(a: Vector) -> Tensor:
    """Euclidean norm."""
    return torch.sqrt(dot(a, a))


def zeros_like(a: Vector) -> Vector:
    return [torch.zeros_like(x) for x in a]


def detach(a: Vector) -> Vector:
    return [x.detach() for x in a]


def restrict(a: Vector, keep: slice) -> Vector:
    """The vector with every block outside ``keep`` (a player's slice) set to zero."""
    return [x if keep.start <= k < keep.stop else torch.zeros_like(x) for k, x in enumerate(a)]


def flatten(a: Vector) -> Tensor:
    """One 1-D tensor."""
    return torch.cat([x.reshape(-1) for x in a])


def unflatten(flat: Tensor, like: Vector) -> Vector:
    """Split a 1-D tensor back into tensors shaped like ``like``."""
    out, i = [], 0
    for x in like:
        n = x.numel()
        out.append(flat[i:i + n].view_as(x))
        i += n
    return out
