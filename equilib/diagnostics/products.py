"""Second-order products at one point, on blocks of columns: dense matrices or Field products.

:class:`Products` gives ``J V``, ``J^T V`` and ``H_i V`` (H_i the Hessian of player i's
loss over all parameters) for a (d, m) float64 matrix V, either from dense matrices
(small games: built once with batched backward passes) or column by column from
:class:`equilib.Field` products (matrix-free: J v by double backward, J^T v by one
backward, H_i v by differentiating ``Field.gradient(i, create_graph=True)`` again).
The solvers' update maps (``Solver.update_map``, :mod:`equilib.solvers.linear_map`) are written once on top of it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as sla
import torch
from torch import Tensor

from equilib import vec
from equilib.diagnostics.jacobian import batched_rows, check_field, check_finite, player_ranges, preserved
from equilib.field import Field
from equilib.game import Game

__all__ = ["Products"]


class Products:
    """``J(V)``, ``JT(V)``, ``H(player, V)`` and ``solve`` at the current point of ``game``.

    ``xi`` is the flattened simultaneous gradient (float64). ``dense=True`` builds J (and
    each H_i when first needed) as matrices; otherwise every product is a Field call.
    ``calls`` counts Field products (Jacobian- or Hessian-vector products) made.
    """

    def __init__(self, game: Game, args: tuple = (), dense: bool = True, eval_mode: bool = False):
        self.game, self.dense = game, dense
        with preserved(game, eval_mode):
            self.field = Field(game, args, create_graph=True)
        check_field(game, self.field)
        xi = vec.detach(self.field.xi)
        self.like = xi
        self.xi = vec.flatten(xi).to(torch.float64)
        self.d = self.xi.numel()
        self.ranges = player_ranges(game)
        self.calls = 0
        self._J: Tensor | None = None
        self._H: dict[str, Tensor] = {}
        self._g: dict[str, list[Tensor]] = {}
        if dense:
            self._J = batched_rows(self.field.xi, self.field.inputs).to(torch.float64)
            check_finite(game, self._J, "the Jacobian J (rows)")

    # ---- helpers on flat vectors -------------------------------------------
    def per_player(self, values: dict[str, float]) -> Tensor:
        """The diagonal of diag(values[player]) over the flattened parameters."""
        out = torch.zeros(self.d, dtype=torch.float64)
        for name, lo, hi in self.ranges:
            out[lo:hi] = float(values[name])
        return out

    def mask(self, players) -> Tensor:
        """1 on the entries of ``players``, 0 elsewhere (the projection P as a diagonal)."""
        return self.per_player({p: 1.0 if p in players else 0.0 for p in self.game.players})

    # ---- products ------------------------------------------------------------
    @property
    def matrix(self) -> Tensor:
        """The dense J (dense mode only)."""
        return self._J

    def _columns(self, V: Tensor, product) -> Tensor:
        out = torch.empty(V.shape[0], V.shape[1], dtype=torch.float64)
        for c in range(V.shape[1]):
            col = V[:, c]
            if not bool(col.any()):
                out[:, c] = 0.0
                continue
            v = vec.unflatten(col.to(dtype=self.like[0].dtype, device=self.like[0].device), self.like)
            self.calls += 1
            out[:, c] = vec.flatten(vec.detach(product(v))).to(torch.float64).cpu()
        check_finite(self.game, out, "a second-derivative product")
        return out

    def J(self, V: Tensor) -> Tensor:
        """J V."""
        if self.dense:
            return self._J @ V
        return self._columns(V, self.field.jvp)

    def JT(self, V: Tensor) -> Tensor:
        """J^T V."""
        if self.dense:
            return self._J.T @ V
        return self._columns(V, self.field.vjp)

    def _gradient(self, player: str) -> list[Tensor]:
        if player not in self._g:
            self._g[player] = self.field.gradient(player, create_graph=True)
        return self._g[player]

    def H(self, player: str, V: Tensor) -> Tensor:
        """H_i V, H_i = the Hessian of ``player``'s loss over all parameters (symmetric)."""
        g = self._gradient(player)
        if self.dense:
            if player not in self._H:
                Hm = batched_rows(g, self.field.inputs).to(torch.float64)
                check_finite(self.game, Hm, f"the Hessian of player {player!r}'s loss")
                self._H[player] = Hm
            return self._H[player] @ V
        keep = [k for k, t in enumerate(g) if t.requires_grad]

        def hvp(v):
            if not keep:
                return [torch.zeros_like(t) for t in self.field.inputs]
            return list(torch.autograd.grad([g[k] for k in keep], self.field.inputs, [v[k] for k in keep],
                                            retain_graph=True, allow_unused=True, materialize_grads=True))
        return self._columns(V, hvp)

    def solve(self, apply, B: Tensor, lo: int, hi: int) -> Tensor:
        """Solve A Z = B on the entries lo:hi, A given by ``apply`` on (d, m) matrices supported on lo:hi.

        Dense: A is built column by column and solved by LU; matrix-free: GMRES to 1e-12 per column.
        """
        n = hi - lo

        def embed(X: Tensor) -> Tensor:
            full = torch.zeros(self.d, X.shape[1], dtype=torch.float64)
            full[lo:hi] = X
            return full

        if self.dense:
            A = apply(embed(torch.eye(n, dtype=torch.float64)))[lo:hi]
            return embed(torch.linalg.solve(A, B[lo:hi]))
        op = sla.LinearOperator((n, n), dtype=np.float64,
                                matvec=lambda x: apply(embed(torch.from_numpy(np.asarray(x).reshape(-1, 1))))[lo:hi, 0].numpy())
        out = torch.zeros(n, B.shape[1], dtype=torch.float64)
        for c in range(B.shape[1]):
            x, _ = sla.gmres(op, B[lo:hi, c].numpy(), rtol=1e-12, atol=0.0, restart=min(n, 100), maxiter=50)
            out[:, c] = torch.from_numpy(x)
        return embed(out)
