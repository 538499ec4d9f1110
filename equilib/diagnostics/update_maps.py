"""The Jacobian M of a solver's one-step map and its spectral radius (below 1: locally convergent).

Each solver owns its map (``solver.update_map(products)``, :mod:`equilib.solvers.linear_map`): a solver
that moves once per step writes the Jacobian L of its direction (J and the Hessians H_i frozen at the
point) and the base step is linearised by differentiating the functional base step itself, so
plain SGD gives M = I - D L, heavy ball [[I - D L, -D beta], [L, beta]] on (theta, b), and Adam,
RMSprop or Adagrad (``adaptive=True``) the Jacobian on (theta, their state) at their current state.
altgd, extragradient and optimistic write their maps (docs/diagnostics.md lists every M). Here the
maps become dense matrices or matrix-free operators over :class:`Products`, and rho(M) is computed
once, by :func:`map_radius`, for :func:`spectral_radius`, the step-size scan and the recorder.

Every M is the exact Jacobian of the solver's step when xi is affine (quadratic games) and at
equilibria (xi = 0), where the terms with derivatives of J multiply xi and vanish; for unrolled and
lola the terms multiply the cross gradients grad_j L_i (j != i), which also vanish at equilibria of
zero-sum games but not of general-sum non-quadratic ones. Elsewhere M is the linearization with J frozen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from equilib import vec
from equilib.diagnostics.errors import DiagnosticsError
from equilib.diagnostics.jacobian import dense_size_check, preserved
from equilib.diagnostics.products import Products
from equilib.diagnostics.spectrum import _CountingOperator, arnoldi
from equilib.solvers import SOLVERS, Solver
from equilib.solvers.linear_map import NoUpdateMap

__all__ = ["update_map", "spectral_radius", "map_for", "map_radius", "check_solver", "map_size", "NO_MAP",
           "DENSE_AUTO_LIMIT"]

DENSE_AUTO_LIMIT = 2000  # dense=None: dense when the map's state has at most this many entries

Apply = Callable[[Tensor], Tensor]

# the solvers without a map, with the reason each gives
NO_MAP = {name: cls.no_update_map for name, cls in SOLVERS.items() if cls.no_update_map}


def check_solver(solver: Solver, adaptive: bool = False) -> None:
    """Raise :class:`DiagnosticsError` (with the solver's reason) unless ``solver`` has an update map."""
    map_size(solver, adaptive)


def map_size(solver: Solver, adaptive: bool = False) -> int:
    """n, the size of the state ``solver``'s map acts on (d, 2d with heavy ball or optimistic, 3d with Adam)."""
    if not isinstance(solver, Solver):
        raise DiagnosticsError(f"expected an equilib solver (eq.make_solver), got {type(solver).__name__}")
    try:
        return solver.update_map_size(adaptive)
    except NoUpdateMap as e:
        raise DiagnosticsError(str(e)) from None


def map_for(solver: Solver, P: Products, adaptive: bool = False,
            direction: Callable[[], Tensor] | None = None) -> tuple[int, Apply]:
    """The state size n and ``V -> M V`` (on (n, m) float64 matrices) for ``solver`` at P's point.

    ``direction()``, the solver's flat direction at the point, is needed only for adaptive base steps.
    """
    check_solver(solver, adaptive)
    try:
        return solver.update_map(P, adaptive=adaptive, direction=direction)
    except NoUpdateMap as e:
        raise DiagnosticsError(str(e)) from None


def direction_at(solver: Solver, args: tuple, eval_mode: bool = False) -> Callable[[], Tensor]:
    """A callable giving the solver's flat float64 direction at the current point, buffers kept."""
    def compute() -> Tensor:
        with preserved(solver.game, eval_mode):
            return vec.flatten(solver.direction(*args)).to(torch.float64).cpu()
    return compute


def map_operator(n: int, apply: Apply) -> _CountingOperator:
    """M as a float64 scipy ``LinearOperator`` counting its matvecs."""
    return _CountingOperator(n, lambda x: apply(torch.from_numpy(x).reshape(-1, 1))[:, 0].numpy())


def map_radius(n: int, apply: Apply, dense: bool, k: int = 2, tol: float = 0.0, maxiter: int | None = None,
               ncv: int | None = None, seed: int = 0, info: dict | None = None) -> float:
    """rho(M) for the map ``apply`` on n entries: LAPACK on the dense M, or Arnoldi (ARPACK) for the ``k``
    largest-magnitude eigenvalues; ``info`` receives ``matvecs`` (products with M)."""
    if dense:
        if info is not None:
            info["matvecs"] = 0
        return float(torch.linalg.eigvals(apply(torch.eye(n, dtype=torch.float64))).abs().max())
    if not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k < n - 1):
        raise DiagnosticsError(f"k must be an integer with 1 <= k < n - 1 = {n - 1}, got {k!r}")
    op = map_operator(n, apply)
    values = arnoldi(op, k, "LM", tol, maxiter, ncv, seed)
    if info is not None:
        info["matvecs"] = op.matvecs
    return float(np.abs(values).max())


def _prepared(solver: Solver, args: tuple, dense: bool | None, eval_mode: bool, max_bytes: int | None,
              adaptive: bool) -> tuple[Products, int, Apply, bool]:
    n = map_size(solver, adaptive)
    if dense is None:
        dense = n <= DENSE_AUTO_LIMIT
    if dense:
        dense_size_check(solver.game, n, max_bytes, f"dense update map of solver {solver.name!r}")
    P = Products(solver.game, args, dense=dense, eval_mode=eval_mode)
    n, apply = map_for(solver, P, adaptive, direction_at(solver, args, eval_mode))
    return P, n, apply, dense


def update_map(solver: Solver, *args, dense: bool | None = None, eval_mode: bool = False,
               max_bytes: int | None = None, adaptive: bool = False):
    """The Jacobian M of ``solver``'s one-step map at the current parameters.

    Dense (a float64 (n, n) tensor) or matrix-free (a scipy ``LinearOperator`` whose matvec makes
    Field products; its ``matvecs`` counts them). The state is theta (n = d), with the base steps'
    state after it (heavy ball: (theta, b), n = 2d; Adam: (theta, m, v)) and optimistic's
    (theta_t, theta_{t-1}). ``dense=None`` picks dense for n <= 2000. ``args`` are the losses'
    arguments (a fixed batch). ``adaptive=True`` linearises Adam, RMSprop and Adagrad bases at their
    current state (their map changes as their state does).
    """
    P, n, apply, dense = _prepared(solver, args, dense, eval_mode, max_bytes, adaptive)
    if dense:
        return apply(torch.eye(n, dtype=torch.float64))
    op = map_operator(n, apply)
    op.products = P
    return op


def spectral_radius(solver: Solver, *args, dense: bool | None = None, eval_mode: bool = False,
                    max_bytes: int | None = None, k: int = 2, tol: float = 0.0, maxiter: int | None = None,
                    ncv: int | None = None, seed: int = 0, info: dict | None = None,
                    adaptive: bool = False) -> float:
    """rho(M): the spectral radius of the Jacobian of ``solver``'s one-step map here.

    Below 1: locally linearly convergent, and rho is the predicted contraction factor per
    step (exact for quadratic games, and at equilibria; see the module docstring). Dense:
    LAPACK on M; matrix-free: Arnoldi for the ``k`` largest-magnitude eigenvalues of M.
    ``info`` (a dict) receives ``matvecs`` (products with M) and ``products`` (Field calls).
    ``adaptive``: as in :func:`update_map`.
    """
    P, n, apply, dense = _prepared(solver, args, dense, eval_mode, max_bytes, adaptive)
    rho = map_radius(n, apply, dense, k, tol, maxiter, ncv, seed, info)
    if info is not None:
        info["products"] = 0 if dense else P.calls
    return rho
