"""Reference games with known equilibria and known Jacobians.

Every game here has ``game.equilibrium`` (``{player: tensor}``) and, where J is
constant or known at the equilibrium, ``game.known_jacobian`` (the dense matrix in
:meth:`Game.parameters` order), so tests and diagnostics have closed forms.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from equilib.errors import GameError
from equilib.game import Game, ZeroSumGame

__all__ = ["xy", "bilinear", "quadratic", "monotone_quadratic", "random_quadratic", "dirac_gan", "cyclic", "tandem"]


def _t(value, dtype, device) -> Tensor:
    return torch.as_tensor(value, dtype=dtype, device=device).clone()


def xy(x: float = 1.0, y: float = 1.0, dtype: torch.dtype | None = None, device=None) -> ZeroSumGame:
    """f(x, y) = x * y, x minimizes, y maximizes; equilibrium (0, 0), J = [[0, 1], [-1, 0]]."""
    return bilinear(torch.ones(1, 1), x0=[x], y0=[y], dtype=dtype, device=device)


def bilinear(A, b=None, c=None, x0=None, y0=None, dtype: torch.dtype | None = None, device=None) -> ZeroSumGame:
    """f(x, y) = x^T A y + b^T x + c^T y (x minimizes, y maximizes).

    xi = (A y + b, -(A^T x + c)); J = [[0, A], [-A^T, 0]], whose eigenvalues are
    +/- i times the singular values of A. For square invertible A the equilibrium
    is x* = -A^{-T} c, y* = -A^{-1} b.
    """
    dtype = dtype or torch.get_default_dtype()
    A = _t(A, dtype, device)
    if A.dim() != 2:
        raise GameError(f"A must be a matrix, got shape {tuple(A.shape)}")
    m, n = A.shape
    b = torch.zeros(m, dtype=dtype, device=device) if b is None else _t(b, dtype, device)
    c = torch.zeros(n, dtype=dtype, device=device) if c is None else _t(c, dtype, device)
    x = torch.ones(m, dtype=dtype, device=device) if x0 is None else _t(x0, dtype, device)
    y = torch.ones(n, dtype=dtype, device=device) if y0 is None else _t(y0, dtype, device)

    def value(p):
        return p["x"] @ A @ p["y"] + b @ p["x"] + c @ p["y"]

    game = ZeroSumGame({"x": x, "y": y}, value=value)
    game.A = A
    zero_mm = torch.zeros(m, m, dtype=dtype, device=device)
    zero_nn = torch.zeros(n, n, dtype=dtype, device=device)
    game.known_jacobian = torch.cat([torch.cat([zero_mm, A], 1), torch.cat([-A.T, zero_nn], 1)], 0)
    if m == n and torch.linalg.matrix_rank(A) == m:
        game.equilibrium = {"x": -torch.linalg.solve(A.T, c), "y": -torch.linalg.solve(A, b)}
    elif not b.any() and not c.any():
        game.equilibrium = {"x": torch.zeros(m, dtype=dtype, device=device),
                            "y": torch.zeros(n, dtype=dtype, device=device)}
    return game


def quadratic(M, b=None, sizes=None, theta0=None, dtype: torch.dtype | None = None, device=None) -> Game:
    """A general-sum quadratic game with constant Jacobian J = M.

    Player i owns the block theta_i (sizes give the blocks) and minimizes
    L_i = 1/2 theta_i^T M_ii theta_i + theta_i^T sum_{j != i} M_ij theta_j + b_i^T theta_i,
    so xi = M theta + b (the diagonal blocks M_ii must be symmetric). The unique
    equilibrium, for invertible M, is theta* = -M^{-1} b. Players are named p0, p1, ...
    """
    dtype = dtype or torch.get_default_dtype()
    M = _t(M, dtype, device)
    d = M.shape[0]
    if M.dim() != 2 or M.shape[1] != d:
        raise GameError(f"M must be a square matrix, got shape {tuple(M.shape)}")
    sizes = list(sizes) if sizes is not None else [d // 2, d - d // 2]
    if sum(sizes) != d or any(s < 1 for s in sizes):
        raise GameError(f"sizes {sizes} must be positive and add up to {d}")
    b = torch.zeros(d, dtype=dtype, device=device) if b is None else _t(b, dtype, device)
    theta = torch.ones(d, dtype=dtype, device=device) if theta0 is None else _t(theta0, dtype, device)
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    blocks = list(zip(bounds[:-1], bounds[1:]))
    for lo, hi in blocks:
        Mii = M[lo:hi, lo:hi]
        if not torch.allclose(Mii, Mii.T):
            raise GameError(f"diagonal block M[{lo}:{hi}, {lo}:{hi}] must be symmetric")
    names = [f"p{i}" for i in range(len(sizes))]
    params = {name: theta[lo:hi].clone() for name, (lo, hi) in zip(names, blocks)}

    def losses(p):
        full = torch.cat([p[name] for name in names])
        out = {}
        for name, (lo, hi) in zip(names, blocks):
            ti = p[name]
            rest = M[lo:hi] @ full - M[lo:hi, lo:hi] @ ti  # sum_{j != i} M_ij theta_j
            out[name] = 0.5 * ti @ M[lo:hi, lo:hi] @ ti + ti @ rest + b[lo:hi] @ ti
        return out

    game = Game(params, losses)
    game.known_jacobian = M
    game.b = b
    if torch.linalg.matrix_rank(M) == d:
        star = -torch.linalg.solve(M, b)
        game.equilibrium = {name: star[lo:hi] for name, (lo, hi) in zip(names, blocks)}
    return game


def monotone_quadratic(m: int = 3, n: int = 3, mu: float = 0.5, seed: int = 0,
                       dtype: torch.dtype | None = None, device=None) -> ZeroSumGame:
    """A strongly monotone zero-sum quadratic game (random, seeded).

    f(x, y) = 1/2 x^T P x + x^T A y - 1/2 y^T Q y + b^T x + c^T y with P, Q >= mu I:
    J = [[P, A], [-A^T, Q]] has every eigenvalue's real part >= mu, and the unique
    equilibrium solves J theta* = -(b, -c).
    """
    dtype = dtype or torch.float64
    g = torch.Generator().manual_seed(seed)

    def spd(k):
        B = torch.randn(k, k, generator=g, dtype=torch.float64)
        return (B @ B.T / k + mu * torch.eye(k, dtype=torch.float64))

    P, Q = spd(m), spd(n)
    A = torch.randn(m, n, generator=g, dtype=torch.float64)
    b = torch.randn(m, generator=g, dtype=torch.float64)
    c = torch.randn(n, generator=g, dtype=torch.float64)
    x0 = torch.randn(m, generator=g, dtype=torch.float64)
    y0 = torch.randn(n, generator=g, dtype=torch.float64)
    P, Q, A, b, c, x0, y0 = (t.to(dtype=dtype, device=device) for t in (P, Q, A, b, c, x0, y0))

    def value(p):
        x, y = p["x"], p["y"]
        return 0.5 * x @ P @ x + x @ A @ y - 0.5 * y @ Q @ y + b @ x + c @ y

    game = ZeroSumGame({"x": x0, "y": y0}, value=value)
    J = torch.cat([torch.cat([P, A], 1), torch.cat([-A.T, Q], 1)], 0)
    star = -torch.linalg.solve(J, torch.cat([b, -c]))
    game.known_jacobian = J
    game.equilibrium = {"x": star[:m], "y": star[m:]}
    return game


def random_quadratic(sizes=(3, 3), mu: float = 0.5, seed: int = 0,
                     dtype: torch.dtype | None = None, device=None) -> Game:
    """A random general-sum quadratic game (see :func:`quadratic`), seeded.

    J = M has diagonal blocks B B^T + mu I (each player's own loss is strongly convex)
    and Gaussian couplings of scale 1/sqrt(d) between players; the equilibrium is
    theta* = -M^{-1} b.
    """
    dtype = dtype or torch.float64
    g = torch.Generator().manual_seed(seed)
    d = sum(sizes)
    M = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    lo = 0
    for s in sizes:
        B = M[lo:lo + s, lo:lo + s]
        M[lo:lo + s, lo:lo + s] = B @ B.T + mu * torch.eye(s, dtype=torch.float64)
        lo += s
    b = torch.randn(d, generator=g, dtype=torch.float64)
    theta0 = torch.randn(d, generator=g, dtype=torch.float64)
    return quadratic(M, b, sizes=sizes, theta0=theta0, dtype=dtype, device=device)


def dirac_gan(theta: float = 1.0, psi: float = 1.0, gamma: float = 0.0,
              dtype: torch.dtype | None = None, device=None) -> Game:
    """Dirac-GAN (Mescheder, Geiger, Nowozin 2018).

    Data delta_0, generator delta_theta, discriminator D(x) = psi x;
    L(theta, psi) = f(psi theta) + f(0), f(t) = -log(1 + exp(-t)). The generator
    ("G", theta) minimizes L; the discriminator ("D", psi) minimizes
    -L + gamma/2 psi^2, the zero-centred gradient penalty with the paper's gamma/2
    convention (R1 = |d D / d x|^2 = psi^2). Equilibrium (0, 0), where
    J = [[0, f'(0)], [-f'(0), gamma]], f'(0) = 1/2: eigenvalues
    gamma/2 +/- sqrt(gamma^2/4 - 1/4) (the paper's -gamma/2 +/- ... for the field -xi).
    """
    dtype = dtype or torch.get_default_dtype()

    def f(t):
        return -torch.nn.functional.softplus(-t)

    def losses(p):
        th, ps = p["G"], p["D"]
        value = (f(ps * th) + f(torch.zeros_like(th))).sum()
        return {"G": value, "D": -value + 0.5 * gamma * (ps * ps).sum()}

    game = Game({"G": _t([theta], dtype, device), "D": _t([psi], dtype, device)}, losses)
    game.gamma = gamma
    game.equilibrium = {"G": torch.zeros(1, dtype=dtype, device=device),
                        "D": torch.zeros(1, dtype=dtype, device=device)}
    game.known_jacobian = torch.tensor([[0.0, 0.5], [-0.5, gamma]], dtype=dtype, device=device)
    return game


def cyclic(n: int = 3, mu: float = 0.1, x0=None, dtype: torch.dtype | None = None, device=None) -> Game:
    """An n-player cyclic game: player i owns scalar x_i and minimizes
    L_i = mu/2 x_i^2 + x_i (x_{i+1} - x_{i-1}) (indices mod n).

    xi = (mu I + K) x with K antisymmetric circulant, so J = mu I + K has
    eigenvalues mu + 2i sin(2 pi k / n); unique equilibrium 0 for mu > 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise GameError(f"n must be an integer >= 3, got {n!r}")
    dtype = dtype or torch.get_default_dtype()
    x0 = [1.0] * n if x0 is None else x0
    names = [f"p{i}" for i in range(n)]
    params = {name: _t([v], dtype, device) for name, v in zip(names, x0)}

    def losses(p):
        out = {}
        for i, name in enumerate(names):
            xi_, nxt, prv = p[name], p[names[(i + 1) % n]], p[names[(i - 1) % n]]
            out[name] = (0.5 * mu * xi_ * xi_ + xi_ * (nxt - prv)).sum()
        return out

    game = Game(params, losses)
    K = torch.zeros(n, n, dtype=dtype, device=device)
    for i in range(n):
        K[i, (i + 1) % n] += 1.0
        K[i, (i - 1) % n] -= 1.0
    game.known_jacobian = mu * torch.eye(n, dtype=dtype, device=device) + K
    game.equilibrium = {name: torch.zeros(1, dtype=dtype, device=device) for name in names}
    return game


def tandem(x: float = 0.0, y: float = 0.0, dtype: torch.dtype | None = None, device=None) -> Game:
    """Tandem (Letcher et al. 2019): L_x = (x + y)^2 - 2x, L_y = (x + y)^2 - 2y.

    xi = (2(x + y) - 2, 2(x + y) - 2): every point of the line x + y = 1 is a fixed
    point, J = [[2, 2], [2, 2]]. LOLA's shaping term is 4 alpha there, so LOLA moves
    off the fixed points; look-ahead and SOS do not.
    """
    dtype = dtype or torch.get_default_dtype()

    def losses(p):
        s = (p["x"] + p["y"]).sum()
        return {"x": s * s - 2 * p["x"].sum(), "y": s * s - 2 * p["y"].sum()}

    game = Game({"x": _t([x], dtype, device), "y": _t([y], dtype, device)}, losses)
    game.known_jacobian = torch.tensor([[2.0, 2.0], [2.0, 2.0]], dtype=dtype, device=device)
    return game
