"""The dense game Jacobian J = d xi / d theta, for games of up to a few thousand parameters.

Row k of J is J^T e_k, one backward pass through the graph of xi (built by
:class:`equilib.Field` with ``create_graph=True``); all rows are taken at once with
``torch.autograd.grad(..., is_grads_batched=True)`` (vmap over J^T v, torch.func's
machinery), in chunks. Parameters are in :meth:`Game.parameters` order (players in
declared order). The module players' buffers (BatchNorm running statistics) and
train/eval modes are restored afterwards, so a diagnostic never changes the game.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from equilib.diagnostics.errors import DiagnosticsError, NonFiniteJacobianError
from equilib.field import Field
from equilib.game import Game

__all__ = ["jacobian", "player_ranges", "preserved", "check_finite", "check_field", "DEFAULT_MAX_BYTES", "dense_size_check"]

DEFAULT_MAX_BYTES = 2**30  # 1 GiB for one dense d x d float64 matrix: d up to about 11,500


def player_ranges(game: Game) -> list[tuple[str, int, int]]:
    """``(player, start, stop)`` of each player's entries in the flattened parameter vector."""
    out, start = [], 0
    for name in game.players:
        n = game.num_parameters(name)
        out.append((name, start, start + n))
        start += n
    return out


def check_finite(game: Game, flat: Tensor, what: str) -> None:
    """Raise :class:`NonFiniteJacobianError` naming the first player whose entries of ``flat`` are not finite.

    ``flat`` is a flattened parameter-space vector (1-D) or a matrix whose rows are indexed
    by the flattened parameters.
    """
    if bool(torch.isfinite(flat).all()):
        return
    for name, lo, hi in player_ranges(game):
        if not bool(torch.isfinite(flat[lo:hi]).all()):
            raise NonFiniteJacobianError(name, what)
    raise NonFiniteJacobianError(game.players[-1], what)  # pragma: no cover - unreachable


def check_field(game: Game, field: Field) -> None:
    """Losses and xi of a Field finite, or :class:`NonFiniteJacobianError` naming the player."""
    for name in game.players:
        if not bool(torch.isfinite(field.losses[name].detach()).all()):
            raise NonFiniteJacobianError(name, "the loss")
    check_finite(game, torch.cat([x.detach().reshape(-1) for x in field.xi]), "the gradient xi")


def dense_size_check(game: Game, n: int, max_bytes: int | None, what: str = "dense Jacobian") -> None:
    """Refuse an n x n float64 matrix larger than ``max_bytes``, saying how large and suggesting k."""
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    need = n * n * 8
    if need > limit:
        raise DiagnosticsError(
            f"a {what} of this game would be {n:,} x {n:,} float64 = {need / 2**30:.2f} GiB, over the "
            f"limit max_bytes={limit:,} ({limit / 2**30:.2f} GiB); ask for a few eigenvalues matrix-free "
            "instead, e.g. eigenvalues(game, k=6) or spectral_radius(solver, dense=False), or raise max_bytes"
        )


@contextlib.contextmanager
def preserved(game: Game, eval_mode: bool = False) -> Iterator[None]:
    """Snapshot the module players' buffers and train/eval flags and restore them on exit.

    With ``eval_mode`` the modules are put in eval mode inside (BatchNorm then uses its
    running statistics: a different, batch-independent function).
    """
    modules = [m for m in game.params.values() if isinstance(m, nn.Module)]
    flags = [[(sub, sub.training) for sub in m.modules()] for m in modules]
    buffers = [b.detach().clone() for b in game.buffers()]
    try:
        if eval_mode:
            for m in modules:
                m.eval()
        yield
    finally:
        with torch.no_grad():
            for b, v in zip(game.buffers(), buffers):
                b.copy_(v)
        for entries in flags:
            for sub, flag in entries:
                sub.train(flag)


def batched_rows(outputs: Sequence[Tensor], inputs: Sequence[Tensor], chunk: int | None = None) -> Tensor:
    """The dense matrix d(outputs)/d(inputs), row k = grad of output entry k, flattened.

    ``outputs`` must carry a graph (``create_graph=True``). Rows are computed with
    ``is_grads_batched`` in chunks of ``chunk`` rows; if vmap cannot batch an operation
    the rows are computed one by one.
    """
    sizes = [t.numel() for t in outputs]
    n_out = sum(sizes)
    n_in = sum(t.numel() for t in inputs)
    like = inputs[0] if inputs else outputs[0]
    result = torch.zeros(n_out, n_in, dtype=like.dtype, device=like.device)
    keep = [k for k, t in enumerate(outputs) if t.requires_grad]
    if not keep:
        return result
    offsets = [0]
    for s in sizes:
        offsets.append(offsets[-1] + s)
    rows = torch.cat([torch.arange(offsets[k], offsets[k + 1]) for k in keep])
    chunk = int(chunk or max(1, min(len(rows), 128)))

    def grads(block: Tensor, batched: bool) -> Tensor:
        m = len(block)
        gouts = []
        for k in keep:
            t = outputs[k]
            g = torch.zeros(m, t.numel(), dtype=t.dtype, device=t.device)
            inside = (block >= offsets[k]) & (block < offsets[k + 1])
            idx = torch.nonzero(inside).flatten()
            g[idx, block[idx] - offsets[k]] = 1.0
            gouts.append(g.reshape(m, *t.shape) if batched else g.reshape(t.shape))
        out = torch.autograd.grad([outputs[k] for k in keep], list(inputs), gouts, retain_graph=True,
                                  allow_unused=True, materialize_grads=True, is_grads_batched=batched)
        return torch.cat([o.reshape(m if batched else 1, -1) for o in out], dim=1)

    # vmap is usually faster than a loop of backward passes, but not for every graph (a
    # batched matrix-vector product can become a slow bmm): after one warm-up chunk, time
    # one chunk of each and keep the faster.
    def run_batched(block: Tensor) -> bool:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*performance drop.*")
                result[block] = grads(block, True)
            return True
        except (RuntimeError, NotImplementedError):  # an operation vmap cannot batch
            return False

    def run_loop(block: Tensor) -> None:
        for r in block.tolist():
            result[r] = grads(torch.tensor([r]), False)[0]

    lo, plan = 0, ["warm-up", "batched", "loop"]
    timing = {"batched": float("inf"), "loop": float("inf")}
    while lo < len(rows):
        step = plan.pop(0) if plan else min(timing, key=timing.get)
        size = min(chunk, 16) if step == "loop" else chunk
        block = rows[lo:lo + size]
        start = time.perf_counter()
        if step == "loop" or not run_batched(block):
            if step != "loop":
                plan, timing["batched"] = [], float("inf")
                timing["loop"] = 0.0
            run_loop(block)
        if step in timing and timing[step] == float("inf"):
            timing[step] = (time.perf_counter() - start) / len(block)
        lo += len(block)
    return result


def jacobian(game: Game, *args, eval_mode: bool = False, max_bytes: int | None = None,
             chunk: int | None = None) -> Tensor:
    """The dense game Jacobian J = d xi / d theta at the current parameters.

    ``J[k, l] = d xi_k / d theta_l`` over the flattened :meth:`Game.parameters` (players in
    declared order), in the parameters' dtype. ``args`` go to the losses (e.g. a fixed batch).
    Raises :class:`DiagnosticsError` if the d x d matrix would exceed ``max_bytes`` (default
    1 GiB in float64) and :class:`NonFiniteJacobianError` (naming the player) on NaN/Inf.
    """
    d = game.num_parameters()
    dense_size_check(game, d, max_bytes)
    with preserved(game, eval_mode):
        field = Field(game, args, create_graph=True)
        check_field(game, field)
        J = batched_rows(field.xi, field.inputs, chunk)
    check_finite(game, J, "the Jacobian J (rows)")
    return J
