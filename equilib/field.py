"""The simultaneous gradient xi and its Jacobian products, matrix-free.

For a game with losses L_i and parameters theta = (theta_1, ..., theta_n):

    xi(theta) = (dL_1/dtheta_1, ..., dL_n/dtheta_n),      J = d xi / d theta.

J is not symmetric in general (it is the Hessian only for potential games). Every
product with J or one of its blocks is one reverse pass restricted to the inputs it
needs (see :class:`Field`), for every game autograd can differentiate twice,
nn.Module players with buffers included. This module is the one place gradients are
computed: the solvers and the diagnostics only call :class:`Field`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from equilib import distributed
from equilib.errors import GameError, NonFiniteError
from equilib.game import Game, ZeroSumGame

__all__ = ["Field", "check_finite"]

Vector = list[Tensor]


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=True) -> Vector:
    """torch.autograd.grad, with zeros for inputs the outputs do not depend on."""
    grads = list(torch.autograd.grad(outputs, inputs, grad_outputs=grad_outputs, retain_graph=retain_graph,
                                     create_graph=create_graph, allow_unused=True))
    for k, g in enumerate(grads):
        if g is None:
            grads[k] = torch.zeros_like(inputs[k])
    return grads


class Field:
    """xi at one point of ``game``, with the products of its Jacobian J, matrix-free.

    Args:
        game: the game.
        args: extra arguments for the losses (a batch, noise); the same ones are used
            for every product, so xi and the products describe one and the same field.
        tensors: the point (flat list in :meth:`Game.parameters` order); ``None`` is the
            current parameters.
        create_graph: keep the graph of xi, needed for every product.
        players: compute only these players' blocks of xi (the others are zero, and so
            are their rows of J); ``None`` is every player.

    Vectors are lists of tensors shaped like :meth:`Game.parameters`; a player's block
    is its slice (:meth:`Game.slice`). Every product is reverse mode restricted to the
    inputs it needs, at the cost of one backward pass (Schaefer and Anandkumar 2019 do
    the same for CGD):

    - ``J_ij^T w = grad_j <xi_i, w>`` (through the graph of xi_i);
    - ``J_ii v = J_ii^T v`` (a Hessian block is symmetric);
    - ``J_ij v = grad_i <grad_j L_i, v>`` for i != j, through the cross gradient
      grad_j L_i (one extra backward per player, made once per Field when first
      needed); in a :class:`ZeroSumGame` grad_j L_i = -xi_j, so no extra pass and
      ``J_ij = -J_ji^T``.

    The full ``vjp`` is one backward pass; the full ``jvp`` is one in a ZeroSumGame and
    one per product after a first one otherwise (double backward; see :meth:`jvp`).
    """

    def __init__(self, game: Game, args: Sequence = (), tensors: Vector | None = None,
                 create_graph: bool = False, players: Sequence[str] | None = None):
        self.game = game
        self.create_graph = create_graph
        self.players = tuple(game.players if players is None else players)
        self.zero_sum = isinstance(game, ZeroSumGame)
        self.args = tuple(args)
        if tensors is not None:  # differentiable inputs: keep graphs (unrolled), make plain tensors leaves
            tensors = [t if t.requires_grad else t.detach().requires_grad_(True) for t in tensors]
        if torch.is_grad_enabled():
            self.losses, self.inputs = game.evaluate(tensors, *args)
            self.xi = self._simultaneous_gradient()
        else:
            with torch.enable_grad():  # also inside a caller's no_grad block
                self.losses, self.inputs = game.evaluate(tensors, *args)
                self.xi = self._simultaneous_gradient()
        self._local_xi = self.xi  # this rank's xi, with its graph: what products differentiate
        self._distributed = distributed.active()
        if self._distributed:
            self._average()
        self._cross: dict[str, Vector] = {}
        self._jtu: Vector | None = None

    def _average(self) -> None:
        """xi and the losses, averaged over the ranks in one all-reduce (see :mod:`equilib.distributed`);
        differentiable when the graph is kept, so solvers can differentiate through the global xi."""
        keep = [k for p in self.players for k in range(*self.game.slice(p).indices(len(self.xi)))]
        parts = [self.xi[k] for k in keep] + [self.losses[p].reshape(1) for p in self.players]
        same_dtype = len({t.dtype for t in parts}) == 1
        if self.create_graph and same_dtype:
            with torch.enable_grad():
                parts = distributed.average_differentiable(parts)
        else:
            parts = distributed.average(parts)
        xi = list(self.xi)
        for k, t in zip(keep, parts):
            xi[k] = t
        self.xi = xi
        self.losses = {**self.losses, **{p: t.reshape(()) for p, t in zip(self.players, parts[len(keep):])}}
    def _simultaneous_gradient(self) -> Vector:
        game, cg = self.game, self.create_graph
        for name in self.players:
            if not self.losses[name].requires_grad:
                raise GameError(f"loss of player {name!r} is not connected to any parameter (it has no graph: "
                                "computed through .item(), .detach(), numpy or under torch.no_grad?)")
        if self.zero_sum and len(self.players) == 2:
            # xi = (grad_x V, -grad_y V) from one backward pass over V
            g = _grad(self.losses[game.players[0]], self.inputs, create_graph=cg, retain_graph=cg)
            sy = game.slice(game.players[1])
            if not cg:  # fresh gradients, owned here: negate in place
                torch._foreach_neg_(g[sy])
                return g
            return g[:sy.start] + _neg(g[sy])
        xi: Vector = []
        last = [p for p in game.players if p in self.players][-1]
        for name in game.players:
            block = self.inputs[game.slice(name)]
            if name in self.players:
                # without create_graph nothing differentiates the graph again: free it
                # on the last backward pass, as a hand-written step would
                keep = cg or name != last
                xi += _grad(self.losses[name], block, create_graph=cg, retain_graph=keep)
            else:
                xi += [torch.zeros_like(t) for t in block]
        return xi

    def _need_graph(self) -> None:
        if not self.create_graph:
            raise GameError("Jacobian products need the graph of xi: build the Field with create_graph=True")

    # ---- the one primitive: a reverse pass restricted to some inputs ---------
    def backward(self, outputs: Vector, cotangents: Vector, player: str | None = None,
                 create_graph: bool = False) -> Vector:
        """grad <outputs, cotangents> with respect to ``player``'s inputs (all if ``None``).

        ``outputs`` are tensors of this Field's graph (blocks of xi, cross gradients);
        outputs without a graph contribute zero. Under torch.distributed the result is
        averaged over the ranks.
        """
        self._need_graph()
        inputs = self.inputs if player is None else self.inputs[self.game.slice(player)]
        pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
        if not pairs:
            out = [torch.zeros_like(t) for t in inputs]
        else:
            out = _grad([o for o, _ in pairs], inputs, [c for _, c in pairs], create_graph)
        return self._global(out, create_graph)

    def _global(self, product: Vector, create_graph: bool = False) -> Vector:
        """A product of this rank's J, averaged over the ranks (the global J's product)."""
        if not self._distributed:
            return product
        if create_graph:
            return distributed.average_differentiable(product)
        return distributed.average(product)

    def block(self, vector: Vector, player: str) -> Vector:
        """``player``'s block of ``vector``."""
        return vector[self.game.slice(player)]

    def gradient(self, player: str, create_graph: bool = False) -> Vector:
        """grad L_i: the gradient of ``player``'s loss with respect to every player's parameters.

        Its own block is xi_i; the others (the cross gradients) are made once, with
        their graph, when first asked for. Needs ``create_graph=True`` on the Field.
        Under torch.distributed, ``create_graph=False`` gives the global (rank-averaged)
        values, ``create_graph=True`` this rank's tensors with their graph.
        """
        self._need_graph()
        if player not in self.players:
            raise GameError(f"player {player!r}'s gradient was not computed in this Field "
                            f"(players {list(self.players)})")
        if player not in self._cross:
            game, own = self.game, self.game.slice(player)
            others = [n for n in game.players if n != player]
            if self.zero_sum:  # L_i = -L_j: grad_j L_i = -xi_j
                j = others[0]
                if j not in self.players:
                    raise GameError(f"the cross gradient of {player!r} needs xi of {j!r}")
                cross = {j: _neg(self.block(self._local_xi, j))}
            else:
                flat = [t for n in others for t in self.inputs[game.slice(n)]]
                with torch.enable_grad():
                    parts = _grad(self.losses[player], flat, create_graph=True)
                cross, k = {}, 0
                for n in others:
                    size = len(game.parameters(n))
                    cross[n] = parts[k:k + size]
                    k += size
            full: Vector = []
            for n in game.players:
                full += self._local_xi[own] if n == player else cross[n]
            self._cross[player] = full
        full = self._cross[player]
        if create_graph:
            return full  # this rank's, with its graph (to differentiate again)
        return distributed.average(full) if self._distributed else [t.detach() for t in full]

    # ---- products with blocks of J ------------------------------------------
    def block_vjp(self, i: str, j: str, w: Vector, create_graph: bool = False) -> Vector:
        """J_ij^T w_i = grad_j <xi_i, w_i>, a vector over player j's parameters."""
        return self.backward(self.block(self._local_xi, i), w, j, create_graph)

    def block_jvp(self, i: str, j: str, v: Vector, create_graph: bool = False) -> Vector:
        """J_ij v_j = d xi_i / d theta_j v_j, a vector over player i's parameters."""
        if i == j:
            return self.block_vjp(i, i, v, create_graph)
        if self.zero_sum:
            return _neg(self.block_vjp(j, i, v, create_graph))
        cross = self.block(self.gradient(i, create_graph=True), j)
        return self.backward(cross, v, i, create_graph)

    # ---- products with the whole J --------------------------------------------
    def vjp(self, v: Vector, create_graph: bool = False) -> Vector:
        """J^T v = grad <xi, v>: one backward pass.

        ``create_graph=True`` keeps the product differentiable (for maps built on it).
        """
        return self.backward(self._local_xi, v, None, create_graph)

    def jvp(self, v: Vector, create_graph: bool = False) -> Vector:
        """J v.

        In a ZeroSumGame with losses (V, -V), s = <grad V, v> gives J v = (grad_x s, -grad_y s):
        one backward pass. Otherwise by double backward, J v = d/du <J^T u, v> at a dummy u:
        the pass that builds J^T u is made once per Field, then one pass per product; measured
        cheaper per product than the restricted row blocks grad_i <grad L_i, v> (one pass per
        player) and than forward over reverse (docs/performance.md).
        """
        self._need_graph()
        game = self.game
        if self.zero_sum and len(self.players) == 2:
            sy = game.slice(game.players[1])
            g = self.backward(self._local_xi, v[:sy.start] + _neg(v[sy]), None, create_graph)
            return g[:sy.start] + _neg(g[sy])
        xi = self._local_xi
        if self._jtu is None:
            self._live = [k for k, x in enumerate(xi) if x.requires_grad]
            self._dummy = [torch.zeros_like(xi[k], requires_grad=True) for k in self._live]
            self._jtu = _grad([xi[k] for k in self._live], self.inputs, self._dummy, create_graph=True) \
                if self._live else []
        out = [torch.zeros_like(x) for x in self.xi]
        live = [k for k, t in enumerate(self._jtu) if t.requires_grad]
        if live:
            parts = _grad([self._jtu[k] for k in live], self._dummy, [v[k] for k in live], create_graph)
            for k, part in zip(self._live, parts):
                out[k] = part
        return self._global(out, create_graph)

    def jvp_forward(self, v: Vector) -> Vector:
        """J v by forward over reverse (torch.autograd.forward_ad): the losses and xi evaluated again
        with dual parameters whose tangents are v; J v is the tangent of xi.

        It pays its own forward and backward pass (module buffers untouched), and nothing of this
        Field's graph: for one product of a general-sum game it is cheaper than the double backward
        of :meth:`jvp` (docs/performance.md). Does not differentiate through the result.
        """
        import torch.autograd.forward_ad as fwad
        game = self.game
        point = [t.detach().requires_grad_(True) for t in self.inputs]
        with torch.enable_grad(), fwad.dual_level():
            duals = [fwad.make_dual(t, u.detach().to(t.dtype)) for t, u in zip(point, v)]
            losses, inputs = game.evaluate(duals, *self.args)
            out: Vector = []
            for name in game.players:
                block = inputs[game.slice(name)]
                if name not in self.players:
                    out += [torch.zeros_like(t) for t in point[game.slice(name)]]
                    continue
                grads = torch.autograd.grad(losses[name], block, retain_graph=True, allow_unused=True)
                for t, g in zip(point[game.slice(name)], grads):
                    tangent = None if g is None else fwad.unpack_dual(g).tangent
                    out.append(torch.zeros_like(t) if tangent is None else tangent.detach())
        return self._global(out)

    def check_finite(self, step: int) -> None:
        """Raise :class:`NonFiniteError` if a loss or xi is NaN or Inf, naming the player.

        One fused check (a single device sync); the player is looked up only on failure.
        """
        losses = [self.losses[p].detach().reshape(1) for p in self.players]
        if not self.create_graph:  # xi is fresh and has no graph: the one-kernel check may write it (unchanged)
            blocks = [t for p in self.players for t in self.xi[self.game.slice(p)]]
            if _all_finite_fresh([t.clone() for t in losses] + blocks):
                return
        elif _all_finite(losses + [t.detach() for p in self.players for t in self.xi[self.game.slice(p)]]):
            return
        self.game.check_finite_losses({p: self.losses[p] for p in self.players}, step)
        check_finite(self.game, self.xi, step, "gradient")


def _neg(tensors: Vector) -> Vector:
    """[-t for t in tensors], in one fused call."""
    return list(torch._foreach_neg(tensors)) if tensors else []


def _all_finite(tensors: Vector) -> bool:
    """Whether every entry is finite, in one pass and one device sync: NaN and Inf
    propagate through a sum (Inf - Inf is NaN). A sum of finite entries overflows
    only past the dtype's largest value (3e38 in float32), far beyond any usable gradient.
    (The foreach max-norm would be one call, but on CPU it is about 9x slower.)"""
    sums = [t.sum() for t in tensors]
    if len({s.dtype for s in sums}) > 1:  # players of different dtypes
        sums = [s.double() for s in sums]
    return bool(torch.isfinite(torch.stack(sums).sum()))


def _all_finite_fresh(tensors: Vector) -> bool:
    """:func:`_all_finite` in one fused kernel, for tensors that nothing else reads through a graph: torch's
    mixed-precision check (``_amp_foreach_non_finite_check_and_unscale_``, GradScaler's) flags any NaN or Inf
    and multiplies every entry by 1 in place, which leaves it bit for bit as it was. No sum, so no overflow.
    Where the kernel does not apply (several devices, overlapping views, non-float dtypes), the sums."""
    found = torch.zeros(1, device=tensors[0].device)
    try:
        torch._amp_foreach_non_finite_check_and_unscale_(tensors, found, torch.ones(1, device=found.device))
    except RuntimeError:
        return _all_finite(tensors)
    return not bool(found)


def check_finite(game: Game, vec: Vector, step: int, what: str) -> None:
    """Raise :class:`NonFiniteError` naming the first player whose block of ``vec`` is not finite."""
    if _all_finite([t.detach() for t in vec]):
        return
    for name in game.players:
        if not _all_finite([t.detach() for t in vec[game.slice(name)]]):
            raise NonFiniteError(name, step, what)
