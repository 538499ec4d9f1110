"""Data parallelism over ``torch.distributed``: every rank holds the whole game and its share of the batch.

With losses that are means over equally sized per-rank batches, the global loss is the mean of
the ranks' losses, so the global xi is the mean of the ranks' xi and the global J is the mean of
the ranks' J: every Jacobian product of a vector that is the same on every rank averages exactly
(J v = mean_r J_r v). :class:`equilib.Field` therefore averages xi (and the losses) with one
flattened all-reduce per evaluation, and every product with one more; solvers apply products to
vectors that are already global (consensus's J^T xi uses the averaged xi). Where a solver
differentiates through xi itself (unrolled's inner steps), the average is the differentiable
``torch.distributed.nn.functional.all_reduce``.

Nothing here does anything unless a process group is initialized with more than one rank.
:data:`traffic` counts the collectives and the bytes each rank sends into them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["DistributedError", "active", "world_size", "rank", "average", "average_differentiable", "broadcast", "all_same",
           "traffic"]

traffic = {"collectives": 0, "bytes": 0}


class DistributedError(RuntimeError):
    """A collective failed: another rank died, timed out or left."""


def _collective(fn, *args) -> None:
    """Run one collective, turning a failure (a dead or stuck peer) into one clear error."""
    import torch.distributed as dist
    try:
        fn(*args)
    except (RuntimeError, ValueError) as e:
        raise DistributedError(
            f"rank {dist.get_rank()} of {dist.get_world_size()}: a collective failed, so another rank has "
            f"probably died or stopped ({str(e).splitlines()[0][:200]}); stopping this rank too") from e


def active() -> bool:
    """Whether a process group with more than one rank is initialized."""
    import torch.distributed as dist
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    import torch.distributed as dist
    return dist.get_world_size() if active() else 1


def rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if active() else 0


def _flat(tensors: Sequence[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _split(flat: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    out, i = [], 0
    for t in like:
        out.append(flat[i:i + t.numel()].view_as(t))
        i += t.numel()
    return out


def _count(flat: Tensor) -> None:
    traffic["collectives"] += 1
    traffic["bytes"] += flat.numel() * flat.element_size()


def average(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The mean over ranks of each tensor (detached), in one flattened all-reduce per dtype."""
    import torch.distributed as dist
    tensors = [t.detach() for t in tensors]
    if not active() or not tensors:
        return tensors
    out: list[Tensor | None] = [None] * len(tensors)
    for dtype in dict.fromkeys(t.dtype for t in tensors):
        idx = [k for k, t in enumerate(tensors) if t.dtype == dtype]
        flat = _flat([tensors[k] for k in idx])
        _count(flat)
        _collective(dist.all_reduce, flat)
        flat /= dist.get_world_size()
        for k, part in zip(idx, _split(flat, [tensors[k] for k in idx])):
            out[k] = part
    return out


class _Mean(torch.autograd.Function):
    """y = mean over ranks of x; the backward is the same mean of the incoming gradients
    (d/dx_s sum_r L_r(y) = mean_r dL_r/dy). The mean is linear and self-adjoint, so the backward
    is itself a ``_Mean``: differentiable to any order (double backward, Jacobian products)."""

    @staticmethod
    def forward(ctx, flat):
        import torch.distributed as dist
        out = flat.detach().clone()
        _collective(dist.all_reduce, out)
        return out / dist.get_world_size()

    @staticmethod
    def backward(ctx, grad):
        _count(grad)
        return _Mean.apply(grad)


def average_differentiable(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The mean over ranks, differentiable (one dtype): a rank's gradient through it is the
    mean over ranks of what flows in, one more all-reduce in the backward pass."""
    if not active() or not tensors:
        return list(tensors)
    flat = _flat(tensors)
    _count(flat)
    return _split(_Mean.apply(flat), tensors)


def broadcast(tensors: Sequence[Tensor], src: int = 0) -> None:
    """Copy ``tensors`` of rank ``src`` into every rank's (one flattened broadcast per dtype)."""
    import torch.distributed as dist
    if not active() or not tensors:
        return
    for dtype in dict.fromkeys(t.dtype for t in tensors):
        group = [t for t in tensors if t.dtype == dtype]
        flat = _flat([t.detach() for t in group])
        _count(flat)
        _collective(dist.broadcast, flat, src)
        with torch.no_grad():
            for t, part in zip(group, _split(flat, group)):
                t.copy_(part)


def all_same(description: dict) -> dict:
    """Compare ``description`` (picklable, e.g. solver name, options, shapes) across ranks.

    Returns ``{key: {rank: value}}`` for every key whose value differs between ranks (empty when
    all agree), the same on every rank.
    """
    import torch.distributed as dist
    if not active():
        return {}
    everyone: list = [None] * dist.get_world_size()
    _collective(dist.all_gather_object, everyone, description)
    keys = dict.fromkeys(k for d in everyone for k in d)
    return {k: {r: d.get(k) for r, d in enumerate(everyone)} for k in keys
            if any(d.get(k) != everyone[0].get(k) for d in everyone)}
