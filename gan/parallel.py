"""Data-parallel GAN training under ``torchrun``: one process per device, each on its share of every batch.

Every rank draws the same global batch (data indices and latent noise, from the run's seeded
streams) and keeps its slice ``[rank * B / N, (rank + 1) * B / N)``, so N ranks with batch B
take exactly the steps of one process with batch B (equilib's solvers average xi and every
Jacobian product over the ranks), and a checkpoint resumes on any number of ranks. Rank 0
alone writes metrics, plots and checkpoints. Backends: NCCL on CUDA, gloo on the CPU.

Batch norm: by default each rank normalizes over its own slice (what DistributedDataParallel
does); :class:`GlobalBatchNorm` (model option ``sync_batchnorm``) normalizes over the global batch,
on the CPU and on CUDA, differentiably to any order, so N ranks equal one process then too.
"""

from __future__ import annotations

import datetime
import os

import torch
from torch import Tensor, nn

import equilib as eq

__all__ = ["ParallelError", "setup", "local_device", "world", "rank", "is_writer", "share", "share_args",
           "check_split", "agree", "barrier", "shutdown", "GlobalBatchNorm", "convert_batchnorm"]


class ParallelError(ValueError):
    """A data-parallel run that cannot start as asked (batch, data set or device against the world size)."""


def setup(device: str, timeout_minutes: float = 30.0) -> bool:
    """Join the process group ``torchrun`` describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR...);
    True if this call started it. Without those variables (a plain ``python -m gan train``) nothing
    happens. The timeout bounds how long a rank waits in a collective, e.g. while rank 0 evaluates."""
    import torch.distributed as dist
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    cuda = str(device).startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise ParallelError(f"--device {device}: CUDA is not available on this machine; use --device cpu (gloo)")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=timeout_minutes))
    return True


def local_device(device: str) -> str:
    """The device of this rank: ``cuda:LOCAL_RANK`` for ``cuda`` under torchrun, else ``device`` itself."""
    if world() > 1 and str(device) == "cuda":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def agree(fn, *args):
    """Run ``fn(*args)`` on every rank; if it raised on any rank, raise on every rank (the first rank's
    error, naming that rank), so no rank goes on alone into a collective that would never complete."""
    error: BaseException | None = None
    result = None
    try:
        result = fn(*args)
    except Exception as e:  # noqa: BLE001 - re-raised below on every rank
        error = e
    if world() <= 1:
        if error is not None:
            raise error
        return result
    import torch.distributed as dist
    everyone: list = [None] * world()
    dist.all_gather_object(everyone, None if error is None else (type(error).__name__, str(error)))
    failed = [(r, e) for r, e in enumerate(everyone) if e is not None]
    if error is not None:
        raise error
    if failed:
        r, (kind, text) = failed[0]
        raise ParallelError(f"rank {r} stopped before training ({kind}: {text})")
    return result


def world() -> int:
    return eq.distributed.world_size()


def rank() -> int:
    return eq.distributed.rank()


def is_writer() -> bool:
    """Whether this process writes the run folder (rank 0, or the only process)."""
    return rank() == 0


def check_split(batch_size: int, dataset_size: int | None = None) -> None:
    """Refuse a batch that does not divide among the ranks, or more ranks than data (before training)."""
    n = world()
    if n <= 1:
        return
    if batch_size % n:
        raise ParallelError(f"--batch-size {batch_size} does not divide among {n} ranks: use a multiple of {n} "
                            f"(each rank takes batch_size / {n} of every batch)")
    if dataset_size is not None and dataset_size < n:
        raise ParallelError(f"the data set has {dataset_size} samples, fewer than the {n} ranks")


def share(batch: Tensor) -> Tensor:
    """This rank's slice of a global batch (the whole batch on one process)."""
    n, r = world(), rank()
    if n <= 1:
        return batch
    size = len(batch) // n
    return batch[r * size:(r + 1) * size]


def share_args(args: tuple) -> tuple:
    """:func:`share` applied to every tensor (and every tensor of a dict) of a step's arguments."""
    if world() <= 1:
        return args
    return tuple({k: share(v) for k, v in a.items()} if isinstance(a, dict) else share(a) for a in args)


def barrier() -> None:
    if world() > 1:
        import torch.distributed as dist
        dist.barrier()


def shutdown() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class GlobalBatchNorm(nn.BatchNorm2d):
    """Batch norm over the global batch of all ranks: mean and E[x^2] per channel averaged over the ranks
    (equal per-rank batches), var = E[x^2] - mean^2, y = (x - mean) / sqrt(var + eps) * weight + bias
    (Ioffe & Szegedy 2015, with the statistics of the batch every rank shares). One process: plain batch norm."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and eq.distributed.active()):
            return super().forward(x)
        dims = [0, 2, 3]
        mean, square = eq.distributed.average_differentiable([x.mean(dims), (x * x).mean(dims)])
        var = square - mean * mean
        if self.track_running_stats and self.running_mean is not None:
            count = x.numel() // x.shape[1] * eq.distributed.world_size()
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * count / max(count - 1, 1), alpha=m)
        shape = (1, -1, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` in ``module`` by a :class:`GlobalBatchNorm` with the same state."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, GlobalBatchNorm):
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats, device=child.weight.device if child.affine else None,
                                  dtype=child.weight.dtype if child.affine else None)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_batchnorm(child)
    return module
