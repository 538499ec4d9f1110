"""Independent numpy implementations of each solver's update on quadratic games.

A quadratic game (equilib.games.quadratic) has xi(theta) = M theta + b and player
i's loss L_i = 1/2 th_i^T M_ii th_i + th_i^T sum_{j!=i} M_ij th_j + b_i^T th_i,
so J = M and grad_j L_i = M_ij^T th_i for j != i. A zero-sum bilinear game
x^T A y + b^T x + c^T y is the case M = [[0, A], [-A^T, 0]], b = (b, -c), except
that its cross gradients are grad_y L_x = A^T x + c (not M_xy^T x): pass
``cross`` explicitly for those.

Written from the papers' formulas, with numpy only: no equilib code.
"""

from __future__ import annotations

import numpy as np


class Quadratic:
    def __init__(self, M, b, sizes, cross=None):
        self.M = np.asarray(M, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.bounds = np.cumsum([0] + list(sizes))
        self.blocks = [slice(lo, hi) for lo, hi in zip(self.bounds[:-1], self.bounds[1:])]
        self._cross = cross

    def xi(self, th):
        return self.M @ th + self.b

    def mask(self, i):
        P = np.zeros(len(self.b))
        P[self.blocks[i]] = 1.0
        return P

    def cross(self, th, i, j):
        """grad_j L_i."""
        if self._cross is not None:
            return self._cross(th, i, j)
        bi, bj = self.blocks[i], self.blocks[j]
        return self.M[bi, bj].T @ th[bi]


def etas(game, lr):
    return np.concatenate([np.full(s.stop - s.start, lr[i]) for i, s in enumerate(game.blocks)])


def simgd(g, th, lr):
    return th - etas(g, lr) * g.xi(th)


def altgd(g, th, lr, steps):
    th = th.copy()
    for i, s in enumerate(g.blocks):
        for _ in range(steps[i]):
            th[s] = th[s] - lr[i] * g.xi(th)[s]
    return th


def extragradient(g, th, lr):
    e = etas(g, lr)
    half = th - e * g.xi(th)
    return th - e * g.xi(half)


def optimistic(g, th, prev_xi, lr):
    e = etas(g, lr)
    x = g.xi(th)
    prev = x if prev_xi is None else prev_xi
    return th - 2 * e * x + e * prev, x


def consensus(g, th, lr, gamma):
    x = g.xi(th)
    return th - etas(g, lr) * (x + gamma * g.M.T @ x)


def hamiltonian(g, th, lr):
    return th - etas(g, lr) * (g.M.T @ g.xi(th))


def sga(g, th, lr, lam, align=True, eps=0.1):
    x = g.xi(th)
    A = (g.M - g.M.T) / 2
    jt = g.M.T @ x
    if align:
        lam = lam * np.sign((x @ jt) * ((A.T @ x) @ jt) / len(th) + eps)
    return th - etas(g, lr) * (x + lam * A.T @ x)


def unrolled(g, th, lr, k, unroll_lr):
    """First player differentiates L_1(x, phi_k(x)); the inner steps are SGD on the others."""
    s0 = g.blocks[0]
    rest = slice(s0.stop, len(th))
    x, y = th[s0], th[rest]
    e_in = np.concatenate([np.full(s.stop - s.start, unroll_lr[i + 1]) for i, s in enumerate(g.blocks[1:])])
    M, b = g.M, g.b
    phi = y.copy()
    dphi = np.zeros((len(y), len(x)))  # d phi / d x
    for _ in range(k):
        xi_rest = M[rest, s0] @ x + M[rest, rest] @ phi + b[rest]
        dphi = dphi - e_in[:, None] * (M[rest, s0] + M[rest, rest] @ dphi)
        phi = phi - e_in * xi_rest
    point = np.concatenate([x, phi])
    grad_x = g.xi(point)[s0]
    grad_phi_L1 = np.concatenate([g.cross(point, 0, j) for j in range(1, len(g.blocks))])
    d_first = grad_x + dphi.T @ grad_phi_L1
    d = g.xi(th)
    d[s0] = d_first
    return th - etas(g, lr) * d


def cgd(g, th, lr):
    sx, sy = g.blocks
    ex, ey = lr
    x = g.xi(th)
    Dxy_f, Dyx_g = g.M[sx, sy], g.M[sy, sx]
    n = sx.stop - sx.start
    dx = np.linalg.solve(np.eye(n) - ex * ey * Dxy_f @ Dyx_g, -ex * (x[sx] - ey * Dxy_f @ x[sy]))
    dy = -ey * (x[sy] + Dyx_g @ dx)
    return th + np.concatenate([dx, dy])


def acgd(g, th, lr, state, beta, eps):
    """Schaefer, Zheng and Anandkumar 2020: RMSProp averages v (bias-corrected) give diagonal
    steps E; (dx, dy) is the Nash equilibrium of the local game with regularizers
    dx^T E_x^-1 dx / 2 and dy^T E_y^-1 dy / 2, i.e. of its first-order conditions
    [[E_x^-1, D_xy f], [D_yx g, E_y^-1]] (dx, dy) = -(grad_x f, grad_y g), solved as one
    dense system. ``state`` is (v, t), None at the start; returns (theta, state)."""
    x = g.xi(th)
    v, t = (np.zeros_like(th), 0) if state is None else state
    v, t = beta * v + (1 - beta) * x * x, t + 1
    e = etas(g, lr) * np.sqrt(1 - beta ** t) / (np.sqrt(v) + eps)
    sx, sy = g.blocks
    K = np.block([[np.diag(1 / e[sx]), g.M[sx, sy]], [g.M[sy, sx], np.diag(1 / e[sy])]])
    return th + np.linalg.solve(K, -x), (v, t)


def lola(g, th, lr, alpha):
    x = g.xi(th)
    d = x.copy()
    n = len(g.blocks)
    for i, si in enumerate(g.blocks):
        for j, sj in enumerate(g.blocks):
            if i == j:
                continue
            d[si] -= alpha[j] * g.M[si, sj] @ x[sj]
            d[si] -= alpha[j] * g.M[sj, si].T @ g.cross(th, i, j)
    return th - etas(g, lr) * d


def sos(g, th, lr, alpha, a=0.5, b=0.1):
    """Letcher et al. 2019, Algorithm 1, with per-opponent alpha folded into chi."""
    x = g.xi(th)
    xi0 = x.copy()
    chi = np.zeros_like(x)
    for i, si in enumerate(g.blocks):
        for j, sj in enumerate(g.blocks):
            if i == j:
                continue
            xi0[si] -= alpha[j] * g.M[si, sj] @ x[sj]
            chi[si] += alpha[j] * g.M[sj, si].T @ g.cross(th, i, j)
    inner = chi @ xi0
    p1 = 1.0 if inner <= 0 else min(1.0, a * (xi0 @ xi0) / inner)
    p2 = x @ x if np.linalg.norm(x) < b else 1.0
    return th - etas(g, lr) * (xi0 - min(p1, p2) * chi)
