"""Competitive gradient descent (Schaefer and Anandkumar 2019)."""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from equilib import vec
from equilib.errors import NonFiniteError, SolverError
from equilib.field import Field
from equilib.game import ZeroSumGame
from equilib.solvers.base import Solver, check_number
from equilib.solvers.linalg import cg, gmres

__all__ = ["CGD", "KrylovWarning", "bilinear_nash", "check_krylov_options"]


class KrylovWarning(UserWarning):
    """A Krylov solve stopped at ``max_iter`` above its tolerance."""


def check_krylov_options(solver: Solver) -> None:
    """Two players, ``tol`` > 0, ``atol`` >= 0, ``max_iter`` >= 1, ``warm_start`` a bool (cgd and acgd);
    then the solve's state: ``last_info``, the once-only warning flag and the warm start."""
    if len(solver.game.players) != 2:
        raise SolverError(f"{solver.name} takes a two-player game, this one has {len(solver.game.players)} players")
    check_number("tol", solver.options["tol"], above=0)
    check_number("atol", solver.options["atol"], at_least=0)
    check_number("max_iter", solver.options["max_iter"], at_least=1, integer=True)
    if not isinstance(solver.options["warm_start"], bool):
        raise SolverError(f"warm_start must be True or False, got {solver.options['warm_start']!r}")
    solver.last_info = {"iterations": 0, "residual": 0.0, "converged": True}
    solver.warned = False
    solver.previous = None


def bilinear_nash(f: Field, ex: float | Tensor, ey: float | Tensor, solver: Solver,
                  x0: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The Nash equilibrium (dx, dy) of CGD's local bilinear game at ``f``, flat.

    (I - ex J_xy ey J_yx) dx = -ex (xi_x - J_xy (ey xi_y)),  dy = -ey (xi_y + J_yx dx),
    with J_xy = D_xy f, J_yx = D_yx g block products of ``f`` (one restricted backward
    pass each, two per Krylov iteration) and ex, ey the step sizes: scalars, or flat
    per-coordinate tensors (ACGD). Conjugate gradient for a ZeroSumGame (the matrix is
    I + ex J_xy ey J_xy^T; with per-coordinate ex it is solved for z = dx / sqrt(ex),
    (I + sqrt(ex) J_xy ey J_xy^T sqrt(ex)) z = rhs / sqrt(ex), symmetric positive
    definite, as in the CGDs package), GMRES otherwise. ``x0`` warm-starts the solve
    (in dx's units). Options ``tol``, ``atol`` and ``max_iter`` come from ``solver``,
    which receives ``last_info``; the tolerances apply to the system solved.
    """
    px, py = f.game.players
    x_like, y_like = vec.detach(f.block(f.xi, px)), vec.detach(f.block(f.xi, py))
    xi_x, xi_y = vec.flatten(x_like), vec.flatten(y_like)

    def jxy(v):  # J_xy v, v over y
        return vec.flatten(f.block_jvp(px, py, vec.unflatten(v, y_like)))

    def jyx(u):  # J_yx u, u over x
        return vec.flatten(f.block_jvp(py, px, vec.unflatten(u, x_like)))

    def matvec(u):
        return u - ex * jxy(ey * jyx(u))

    def scaled(z):  # the matrix in z = dx / sqrt(ex), symmetric in a zero-sum game
        return z - scale * jxy(ey * jyx(scale * z))

    zero_sum = isinstance(f.game, ZeroSumGame)
    scale = ex.sqrt() if zero_sum and isinstance(ex, Tensor) else None
    if scale is None:
        op, rhs = matvec, -ex * (xi_x - jxy(ey * xi_y))
    else:
        op, rhs = scaled, -scale * (xi_x - jxy(ey * xi_y))
        x0 = None if x0 is None else x0 / scale
    solve = cg if zero_sum and (scale is not None or not isinstance(ey, Tensor)) else gmres
    opts = solver.options
    dx, iters, res = solve(op, rhs, tol=opts["tol"], max_iter=opts["max_iter"], x0=x0, atol=opts["atol"])
    if not math.isfinite(res):
        raise NonFiniteError(px, solver.steps, "Krylov residual", res)
    bnorm = float(torch.linalg.vector_norm(rhs))
    converged = res * bnorm <= max(opts["tol"] * bnorm, opts["atol"])
    solver.last_info = {"iterations": iters, "residual": res, "converged": converged}
    if not converged and not solver.warned:
        solver.warned = True
        warnings.warn(f"{solver.name}: the Krylov solve stopped at max_iter={opts['max_iter']} with relative "
                      f"residual {res:.3g} above tol={opts['tol']:g} (step {solver.steps}); raise max_iter or "
                      "tol (warned once per solver; last_info has every step's figures)", KrylovWarning, stacklevel=4)
    if scale is not None:
        dx = scale * dx
    dy = -ey * (xi_y + jyx(dx))
    return dx, dy


class CGD(Solver):
    """Competitive gradient descent, two players x (loss f) and y (loss g).

    Each step is the Nash equilibrium of the local bilinear game with step sizes
    eta_x, eta_y (:func:`bilinear_nash`):
      (I - eta_x eta_y D_xy f D_yx g) dx = -eta_x (grad_x f - eta_y D_xy f grad_y g),
      dy = -eta_y (grad_y g + D_yx g dx).
    Solved matrix-free, two restricted backward passes per Krylov iteration:
    conjugate gradient for a ZeroSumGame, GMRES otherwise, warm-started from the
    previous step's dx (``warm_start``). The solve stops when the residual is
    <= max(``tol`` * |rhs|, ``atol``) or after ``max_iter`` iterations (then a
    :class:`KrylovWarning`, once). The defaults are the CGDs package's BCGD defaults
    (T=1e-12, A=1e-20 on squared norms, i.e. tol=sqrt(T), atol=sqrt(A) here), as acgd's. The base optimizer steps with
    d = -(dx / eta_x, dy / eta_y), so plain SGD moves by exactly (dx, dy). On a
    bilinear zero-sum game this is the proximal point step: rate 1/sqrt(1 + eta^2 s^2).
    ``last_info`` holds the iterations, relative residual and convergence of the last solve.
    """

    name = "cgd"
    second_order = True
    defaults = {"tol": 1e-6, "atol": 1e-10, "max_iter": 100, "warm_start": True}

    def _check_options(self):
        check_krylov_options(self)

    def _solve(self, args):
        """(field, dx, direction d = -(dx / eta_x, dy / eta_y)) at the current point."""
        px, py = self.game.players
        ex, ey = self.lr[px], self.lr[py]
        f = self.field(args, create_graph=True)
        x0 = self.previous if self.options["warm_start"] else None
        dx, dy = bilinear_nash(f, ex, ey, self, x0)
        like = vec.detach(f.xi)
        return f, dx, (vec.unflatten(dx / -ex, like[self.game.slice(px)])
                       + vec.unflatten(dy / -ey, like[self.game.slice(py)]))

    def _direction(self, args):
        f, _, direction = self._solve(args)
        return f.losses, direction

    def _step(self, args):
        f, dx, direction = self._solve(args)
        self.apply(direction)
        self.previous = dx.detach()
        return f.losses

    def direction_map(self, P):
        """L v = -(dx' / eta_x, dy' / eta_y), the linearised local Nash move: with r = (J v)_x - eta_y J_xy (J v)_y,
        dx' = -eta_x N r, N = (I - eta_x eta_y J_xy J_yx)^-1, dy' = -eta_y ((J v)_y + J_yx dx')."""
        px, py = self.game.players
        ex, ey = self.lr[px], self.lr[py]
        mx, my = P.mask([px])[:, None], P.mask([py])[:, None]
        (_, lo, hi) = P.ranges[0]

        def jxy(W):  # J_xy w_y, as a full-d vector supported on x
            return mx * P.J(my * W)

        def jyx(W):
            return my * P.J(mx * W)

        def L(V):
            JV = P.J(V)
            nx = P.solve(lambda Z: Z - ex * ey * jxy(jyx(Z)), mx * JV - ey * jxy(JV), lo, hi)
            return nx + my * JV + jyx(-ex * nx)
        return L

    def _extra_state(self):
        return {"previous": self.previous}

    def _load_extra_state(self, state):
        prev = state.get("previous")
        t = self.game.parameters()[0]
        self.previous = None if prev is None else prev.to(device=t.device, dtype=t.dtype).clone()
