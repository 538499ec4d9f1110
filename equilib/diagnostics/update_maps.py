"""The Jacobian M of each solver's one-step map theta_t -> theta_{t+1}, and its spectral radius.

A solver is locally linearly convergent at a fixed point when rho(M) < 1, and rho(M) is then
its contraction factor per step. With D = diag(eta_i) (per-player step sizes of the SGD base)
and J the game Jacobian at the current point, the maps are:

    simgd          M = I - D J
    altgd          M = prod over players p in order of (I - eta_p P_p J)^{steps_p} (first player rightmost)
    extragradient  M = I - D J + D J D J
    optimistic     M = [[I - 2 D J, D J], [I, 0]] on the state (theta_t, theta_{t-1})
    consensus      M = I - D (J + gamma J^T J)
    hamiltonian    M = I - D J^T J
    sga            M = I - D (J + lam' A^T J), A = (J - J^T)/2, lam' = lam * sign(...) as the solver aligns it
    cgd            M = I + d(dx, dy): dx' = -eta_x N ((J v)_x - eta_y J_xy (J v)_y),
                   N = (I - eta_x eta_y J_xy J_yx)^-1, dy' = -eta_y ((J v)_y + J_yx dx')
    unrolled       first player x, others phi, inner step U: B = I - U J_phiphi, S_k = sum_{j<k} B^j,
                   G = -S_k U J_phix; dphi_k = B^k v_phi + G v_x;
                   d_x' = (J (v_x, dphi_k))_x + G^T (H_1 (v_x, dphi_k))_phi;  d_phi' = (J v)_phi
    lola           d' = J v - H_o D_alpha J v - sum_i P_i J^T ((I - P_i) D_alpha H_i v)
    sos            lola's with the last sum scaled by SOS's p at the point (p held fixed)

(H_i: Hessian of player i's loss; P_i: projection on player i's block; H_o: J without its
diagonal blocks.) With heavy-ball momentum beta (SGD's ``momentum``; for the solvers in
MOMENTUM_SOLVERS) the state is (theta, momentum buffer), see :func:`map_for`.

Every M is the exact Jacobian of the solver's step when xi is affine (quadratic games: J and
H_i constant) and at equilibria (xi = 0), where the terms with
derivatives of J multiply xi and vanish; for unrolled and lola the terms multiply the
cross gradients grad_j L_i (j != i), which also vanish at equilibria of zero-sum games but
not of general-sum non-quadratic ones. Elsewhere M is the linearization with J frozen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from equilib.diagnostics.errors import DiagnosticsError
from equilib.diagnostics.jacobian import dense_size_check
from equilib.diagnostics.products import Products
from equilib.diagnostics.spectrum import _CountingOperator, arnoldi
from equilib.optim import SGD
from equilib.solvers.base import Solver, per_player

__all__ = ["update_map", "spectral_radius", "map_for", "MAPS", "DENSE_AUTO_LIMIT"]

DENSE_AUTO_LIMIT = 2000  # dense=None: dense when the map's state has at most this many entries

Apply = Callable[[Tensor], Tensor]


# solvers refused, with the reason
NO_MAP = {
    "acgd": "its per-coordinate steps are state (running averages v of squared gradients) that keeps changing "
            "even at an equilibrium, where v decays by beta per step and the steps grow towards lr/eps, so no "
            "fixed one-step map predicts its convergence; cgd (per-player lr) has one",
}
MOMENTUM_SOLVERS = ("simgd", "altgd", "consensus", "hamiltonian", "sga", "cgd", "unrolled", "lola", "sos")


def check_base(solver: Solver) -> None:
    """The predictions hold for the plain SGD base (heavy-ball momentum allowed where the state
    is (theta, buffer)); refuse anything else."""
    if not isinstance(solver, Solver):
        raise DiagnosticsError(f"expected an equilib solver (eq.make_solver), got {type(solver).__name__}")
    if solver.name in NO_MAP:
        raise DiagnosticsError(f"no update map for solver {solver.name!r}: {NO_MAP[solver.name]}")
    if solver.name not in MAPS:
        raise DiagnosticsError(f"no update map for solver {solver.name!r}; known: {sorted(MAPS)}")
    for p, opt in solver.optimizers.items():
        if type(opt) is not SGD:
            raise DiagnosticsError(
                f"player {p!r} of solver {solver.name!r} uses base optimizer {type(opt).__name__}; update-map "
                "predictions need the SGD base (optimizer=None or 'sgd')"
            )
        beta = opt.param_groups[0].get("momentum", 0.0)
        if beta != 0.0 and solver.name not in MOMENTUM_SOLVERS:
            raise DiagnosticsError(
                f"player {p!r} uses SGD with momentum={beta}; update maps with momentum are implemented for "
                f"{list(MOMENTUM_SOLVERS)}, not for {solver.name!r} (its step moves the base optimizer twice or "
                "combines two moves); use momentum=0"
            )


def momenta(solver: Solver) -> dict[str, float]:
    """Each player's heavy-ball coefficient beta (0 without momentum)."""
    return {p: float(opt.param_groups[0].get("momentum", 0.0)) for p, opt in solver.optimizers.items()}


def step_sizes(solver: Solver) -> dict[str, float]:
    """The step size each player's base SGD actually uses."""
    return {p: float(opt.param_groups[0]["lr"]) for p, opt in solver.optimizers.items()}


# ---- the maps: (solver, products) -> (state size, V -> M V) ------------------------------

def _simgd(solver, P: Products):
    D = P.per_player(step_sizes(solver))[:, None]
    return P.d, lambda V: V - D * P.J(V)


def _altgd(solver, P):
    eta = step_sizes(solver)
    factors = []
    for p in solver.game.players:
        Dp = (P.per_player(eta) * P.mask([p]))[:, None]
        factors += [Dp] * solver.inner_steps[p]

    def apply(V):
        for Dp in factors:
            V = V - Dp * P.J(V)
        return V
    return P.d, apply


def _extragradient(solver, P):
    D = P.per_player(step_sizes(solver))[:, None]

    def apply(V):
        W = V - D * P.J(V)
        return V - D * P.J(W)
    return P.d, apply


def _optimistic(solver, P):
    D = P.per_player(step_sizes(solver))[:, None]
    d = P.d

    def apply(V):
        X, Y = V[:d], V[d:]
        JXY = P.J(torch.cat([X, Y], dim=1))
        JX, JY = JXY[:, :X.shape[1]], JXY[:, X.shape[1]:]
        return torch.cat([X - 2 * D * JX + D * JY, X], dim=0)
    return 2 * d, apply


def _consensus(solver, P):
    D = P.per_player(step_sizes(solver))[:, None]
    gamma = float(solver.options["gamma"])

    def apply(V):
        JV = P.J(V)
        return V - D * (JV + gamma * P.JT(JV))
    return P.d, apply


def _hamiltonian(solver, P):
    D = P.per_player(step_sizes(solver))[:, None]
    return P.d, lambda V: V - D * P.JT(P.J(V))


def sga_lambda(solver, P: Products) -> float:
    """lam, or lam * sign(<xi, J^T xi> <A^T xi, J^T xi> / d + eps) with alignment, as the solver computes it."""
    lam = float(solver.options["lam"])
    if not solver.options["align"]:
        return lam
    xi = P.xi[:, None]
    jt, jx = P.JT(xi), P.J(xi)
    at = (jt - jx) / 2
    s = float((xi * jt).sum()) * float((at * jt).sum()) / P.d + float(solver.options["eps"])
    return lam * float(np.sign(s))


def _sga(solver, P):
    D = P.per_player(step_sizes(solver))[:, None]
    lam = sga_lambda(solver, P)

    def apply(V):
        JV = P.J(V)
        return V - D * (JV + lam * (P.JT(JV) - P.J(JV)) / 2)
    return P.d, apply


def _cgd(solver, P):
    px, py = solver.game.players
    eta = step_sizes(solver)
    ex, ey = eta[px], eta[py]
    mx, my = P.mask([px])[:, None], P.mask([py])[:, None]
    (_, lo, hi) = P.ranges[0]

    def jxy(W):  # J_xy w_y, as a full-d vector supported on x
        return mx * P.J(my * W)

    def jyx(W):
        return my * P.J(mx * W)

    def schur(Z):  # (I - ex ey J_xy J_yx) z on x
        return Z - ex * ey * jxy(jyx(Z))

    def apply(V):
        JV = P.J(V)
        r = mx * JV - ey * jxy(JV)
        dx = -ex * P.solve(schur, r, lo, hi)
        dy = -ey * (my * JV + jyx(dx))
        return V + dx + dy
    return P.d, apply


def _unrolled(solver, P):
    if solver.options.get("unroll_optimizer") == "same" and any(
            float(g.get("momentum", 0.0)) != 0.0 for o in solver.optimizers.values() for g in o.param_groups):
        raise DiagnosticsError("the update map of unrolled whose inner steps copy a momentum base step "
                               "(unroll_optimizer='same') is not derived; use unroll_optimizer='sgd'")
    game = solver.game
    first, others = game.players[0], game.players[1:]
    k = int(solver.options["unroll_steps"])
    D = P.per_player(step_sizes(solver))[:, None]
    if k == 0:
        return P.d, lambda V: V - D * P.J(V)
    unroll = per_player(solver.options["unroll_lr"] or solver.lr, game.players, "unroll_lr")  # as the solver
    mh, mo = P.mask([first])[:, None], P.mask(others)[:, None]
    U = P.per_player(unroll)[:, None] * mo

    def B(W):  # (I - U J_phiphi) w on phi
        return W - U * P.J(mo * W)

    def BT(W):  # (I - J_phiphi^T U) w
        return W - mo * P.JT(U * W)

    def S(W, op):  # sum_{j<k} op^j w (Horner)
        s = W
        for _ in range(k - 1):
            s = W + op(s)
        return s

    def G(X):  # G x = -S_k U J_phix x
        return -S(U * P.J(mh * X), B)

    def GT(Z):  # G^T z = -J_phix^T U S_k^T z
        return -mh * P.JT(U * S(mo * Z, BT))

    def apply(V):
        vx, vphi = mh * V, mo * V
        dphi = vphi
        for _ in range(k):
            dphi = B(dphi)
        dphi = dphi + G(vx)
        Y = vx + dphi
        ddx = mh * P.J(Y) + GT(mo * P.H(first, Y))
        ddphi = mo * P.J(V)
        return V - D * (ddx + ddphi)
    return P.d, apply


def _lola(solver, P, shaping: float = 1.0):
    game = solver.game
    eta = step_sizes(solver)
    D = P.per_player(eta)[:, None]
    alpha = per_player(solver.options["alpha"] if solver.options["alpha"] is not None else solver.lr,
                       game.players, "alpha")
    Da = P.per_player(alpha)[:, None]
    masks = {p: P.mask([p])[:, None] for p in game.players}

    def H_o(W):  # J with its diagonal blocks removed
        out = P.J(W)
        for m in masks.values():
            out = out - m * P.J(m * W)
        return out

    def apply(V):
        JV = P.J(V)
        direction = JV - H_o(Da * JV)
        if shaping:
            for p, m in masks.items():
                direction = direction - shaping * m * P.JT((1 - m) * Da * P.H(p, V))
        return V - D * direction
    return P.d, apply


def _sos(solver, P):
    """SOS: lola's map with the shaping term scaled by the solver's p at this point, held
    fixed. Exact at fixed points (p = |xi|^2 and its gradient vanish with xi, leaving
    look-ahead's map) and where p is locally constant."""
    xi, lookahead, chi = solver.terms(P.field)
    return _lola(solver, P, shaping=solver.shaping_scale(xi, lookahead, chi))


MAPS = {
    "simgd": _simgd, "altgd": _altgd, "extragradient": _extragradient, "optimistic": _optimistic,
    "consensus": _consensus, "hamiltonian": _hamiltonian, "sga": _sga, "cgd": _cgd,
    "unrolled": _unrolled, "lola": _lola, "sos": _sos,
}


def map_for(solver: Solver, P: Products) -> tuple[int, Apply]:
    """The state size n and ``V -> M V`` (on (n, m) float64 matrices) for ``solver`` at P's point.

    With heavy-ball momentum beta (SGD: b <- beta b + d; theta <- theta - eta b) the state is
    (theta, b) and, for a solver whose direction d has Jacobian L = D^-1 (I - M_0) (M_0 its map
    without momentum), M = [[I - D L, -D beta], [L, beta]]; altgd applies that per player in order.
    """
    check_base(solver)
    beta = momenta(solver)
    if not any(beta.values()):
        return MAPS[solver.name](solver, P)
    d = P.d
    B = P.per_player(beta)[:, None]
    D = P.per_player(step_sizes(solver))[:, None]
    if solver.name == "altgd":
        stages = [(P.mask([p])[:, None], solver.inner_steps[p]) for p in solver.game.players]

        def apply_alt(V):
            X, Bf = V[:d], V[d:]
            for m, steps in stages:
                for _ in range(steps):
                    Bf = Bf + m * ((B - 1) * Bf + P.J(X))
                    X = X - m * D * Bf
            return torch.cat([X, Bf], 0)
        return 2 * d, apply_alt
    _, base = MAPS[solver.name](solver, P)

    def apply(V):
        X, Bf = V[:d], V[d:]
        LX = (X - base(X)) / D
        Bn = B * Bf + LX
        return torch.cat([X - D * Bn, Bn], 0)
    return 2 * d, apply


def _state_size(solver: Solver) -> int:
    d = solver.game.num_parameters()
    return 2 * d if solver.name == "optimistic" or any(momenta(solver).values()) else d


def update_map(solver: Solver, *args, dense: bool | None = None, eval_mode: bool = False,
               max_bytes: int | None = None):
    """The Jacobian M of ``solver``'s one-step map at the current parameters.

    Dense (a float64 (n, n) tensor; n = d, or 2d for optimistic's state (theta_t, theta_{t-1}))
    or matrix-free (a scipy ``LinearOperator`` whose matvec makes Field products; its
    ``matvecs`` counts them). ``dense=None`` picks dense for n <= 2000. ``args`` are the
    losses' arguments (a fixed batch). Needs the SGD base; with heavy-ball momentum the state
    is (theta, momentum buffer), n = 2d.
    """
    check_base(solver)
    n = _state_size(solver)
    if dense is None:
        dense = n <= DENSE_AUTO_LIMIT
    if dense:
        dense_size_check(solver.game, n, max_bytes, f"dense update map of solver {solver.name!r}")
    P = Products(solver.game, args, dense=dense, eval_mode=eval_mode)
    n, apply = map_for(solver, P)
    if dense:
        return apply(torch.eye(n, dtype=torch.float64))
    op = _CountingOperator(n, lambda x: apply(torch.from_numpy(x).reshape(-1, 1))[:, 0].numpy())
    op.products = P
    return op


def spectral_radius(solver: Solver, *args, dense: bool | None = None, eval_mode: bool = False,
                    max_bytes: int | None = None, k: int = 2, tol: float = 0.0, maxiter: int | None = None,
                    ncv: int | None = None, seed: int = 0, info: dict | None = None) -> float:
    """rho(M): the spectral radius of the Jacobian of ``solver``'s one-step map here.

    Below 1: locally linearly convergent, and rho is the predicted contraction factor per
    step (exact for quadratic games, and at equilibria; see the module docstring). Dense:
    LAPACK on M; matrix-free: Arnoldi for the ``k`` largest-magnitude eigenvalues of M.
    ``info`` (a dict) receives ``matvecs`` (products with M) and ``products`` (Field calls).
    """
    M = update_map(solver, *args, dense=dense, eval_mode=eval_mode, max_bytes=max_bytes)
    if isinstance(M, Tensor):
        if info is not None:
            info.update(matvecs=0, products=0)
        return float(torch.linalg.eigvals(M).abs().max())
    n = M.shape[0]
    if not (isinstance(k, int) and 1 <= k < n - 1):
        raise DiagnosticsError(f"k must be an integer with 1 <= k < n - 1 = {n - 1}, got {k!r}")
    values = arnoldi(M, k, "LM", tol, maxiter, ncv, seed)
    if info is not None:
        info.update(matvecs=M.matvecs, products=M.products.calls)
    return float(np.abs(values).max())
