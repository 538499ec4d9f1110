"""The simultaneous gradient xi and its Jacobian products, matrix-free.

For a game with losses L_i and parameters theta = (theta_1, ..., theta_n):

    xi(theta) = (dL_1/dtheta_1, ..., dL_n/dtheta_n),      J = d xi / d theta.

J is not symmetric in general (it is the Hessian only for potential games).
``J^T v`` is one extra backward pass through the graph of xi; ``J v`` uses the
double-backward identity J v = d/du <J^T u, v> (u a dummy vector), so both work
for every game autograd can differentiate twice, nn.Module players with
buffers included. This module is the one place gradients are computed: the
solvers and the diagnostics only call :class:`Field`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from equilib.errors import GameError, NonFiniteError
from equilib.game import Game

__all__ = ["Field", "check_finite"]

Vector = list[Tensor]


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=True) -> Vector:
    return list(torch.autograd.grad(
        outputs, inputs, grad_outputs=grad_outputs, retain_graph=retain_graph,
        create_graph=create_graph, allow_unused=True, materialize_grads=True,
    ))


class Field:
    """xi at one point of ``game``, with ``jvp(v) = J v`` and ``vjp(v) = J^T v``.

    Args:
        game: the game.
        args: extra arguments for the losses (a batch, noise); the same ones are used
            for every product, so xi, J v and J^T v describe one and the same field.
        tensors: the point (flat list in :meth:`Game.parameters` order); ``None`` is the
            current parameters.
        create_graph: keep the graph of xi, needed for ``jvp`` and ``vjp``.
        players: compute only these players' blocks of xi (the others are zero);
            ``None`` is every player.

    Vectors are lists of tensors shaped like :meth:`Game.parameters`.
    """

    def __init__(self, game: Game, args: Sequence = (), tensors: Vector | None = None,
                 create_graph: bool = False, players: Sequence[str] | None = None):
        self.game = game
        self.create_graph = create_graph
        self.players = tuple(game.players if players is None else players)
        if tensors is not None:  # differentiable inputs: keep graphs (unrolled), make plain tensors leaves
            tensors = [t if t.requires_grad else t.detach().requires_grad_(True) for t in tensors]
        with torch.enable_grad():  # also inside a caller's no_grad block
            self.losses, self.inputs = game.evaluate(tensors, *args)
            xi: Vector = []
            last = [p for p in game.players if p in self.players][-1]
            for name in game.players:
                block = self.inputs[game.slice(name)]
                if name in self.players:
                    # without create_graph nothing differentiates the graph again: free it
                    # on the last backward pass, as a hand-written step would
                    keep = create_graph or name != last
                    xi += _grad(self.losses[name], block, create_graph=create_graph, retain_graph=keep)
                else:
                    xi += [torch.zeros_like(t) for t in block]
        self.xi = xi
        self._dummy: Vector | None = None
        self._jtu: Vector | None = None

    def _need_graph(self) -> None:
        if not self.create_graph:
            raise GameError("Jacobian products need the graph of xi: build the Field with create_graph=True")

    def vjp(self, v: Vector, create_graph: bool = False) -> Vector:
        """J^T v: one backward pass through the graph of xi.

        ``create_graph=True`` keeps the product differentiable (for maps built on it).
        """
        self._need_graph()
        keep = [k for k, x in enumerate(self.xi) if x.requires_grad]
        if not keep:
            return [torch.zeros_like(t) for t in self.inputs]
        return _grad([self.xi[k] for k in keep], self.inputs, [v[k] for k in keep], create_graph)

    def jvp(self, v: Vector, create_graph: bool = False) -> Vector:
        """J v, by double backward: J v = d/du <J^T u, v> at any u."""
        self._need_graph()
        if self._jtu is None:
            keep = [k for k, x in enumerate(self.xi) if x.requires_grad]
            self._dummy = [torch.zeros_like(self.xi[k], requires_grad=True) for k in keep]
            self._keep = keep
            if keep:
                self._jtu = _grad([self.xi[k] for k in keep], self.inputs, self._dummy, create_graph=True)
            else:
                self._jtu = []
        live = [k for k, t in enumerate(self._jtu) if t.requires_grad]
        out = [torch.zeros_like(x) for x in self.xi]
        if live:
            parts = _grad([self._jtu[k] for k in live], self._dummy, [v[k] for k in live], create_graph)
            for k, part in zip(self._keep, parts):
                out[k] = part
        return out

    def gradient(self, player: str, create_graph: bool = False) -> Vector:
        """The gradient of ``player``'s loss with respect to every player's parameters.

        Needs the graph: build the Field with ``create_graph=True``.
        """
        self._need_graph()
        return _grad(self.losses[player], self.inputs, create_graph=create_graph)

    def check_finite(self, step: int) -> None:
        """Raise :class:`NonFiniteError` if a loss or xi is NaN or Inf, naming the player.

        One fused check (a single device sync); the player is looked up only on failure.
        """
        losses = [self.losses[p].detach().reshape(1) for p in self.players]
        blocks = [t.detach() for p in self.players for t in self.xi[self.game.slice(p)]]
        if _all_finite(losses + blocks):
            return
        self.game.check_finite_losses({p: self.losses[p] for p in self.players}, step)
        check_finite(self.game, self.xi, step, "gradient")


def _all_finite(tensors: Vector) -> bool:
    """Whether every entry is finite, in one pass and one device sync: NaN and Inf
    propagate through a sum (Inf - Inf is NaN). A sum of finite entries overflows
    only past the dtype's largest value (3e38 in float32), far beyond any usable gradient."""
    sums = [t.sum() for t in tensors]
    if len({s.dtype for s in sums}) > 1:  # players of different dtypes
        sums = [s.double() for s in sums]
    return bool(torch.isfinite(torch.stack(sums).sum()))


def check_finite(game: Game, vec: Vector, step: int, what: str) -> None:
    """Raise :class:`NonFiniteError` naming the first player whose block of ``vec`` is not finite."""
    if _all_finite([t.detach() for t in vec]):
        return
    for name in game.players:
        if not _all_finite([t.detach() for t in vec[game.slice(name)]]):
            raise NonFiniteError(name, step, what)
