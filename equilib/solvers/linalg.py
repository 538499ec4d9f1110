"""Matrix-free linear solvers on 1-D tensors: conjugate gradient and GMRES."""

from __future__ import annotations

from collections.abc import Callable

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["cg", "gmres"]

MatVec = Callable[[Tensor], Tensor]


def cg(matvec: MatVec, b: Tensor, tol: float = 1e-8, max_iter: int = 100, x0: Tensor | None = None,
       atol: float = 0.0) -> tuple[Tensor, int, float]:
    """Solve A x = b for symmetric positive definite A (Hestenes and Stiefel 1952).

    Starts from ``x0`` (a warm start; default 0) and stops when
    |A x - b| <= max(tol |b|, atol). Returns (x, iterations, relative residual |A x - b| / |b|).
    """
    bnorm = float(torch.linalg.vector_norm(b))
    if bnorm == 0.0:
        return torch.zeros_like(b), 0, 0.0
    bound = max(tol * bnorm, atol)
    if x0 is None:
        x, r = torch.zeros_like(b), b.clone()
    else:
        x, r = x0.clone(), b - matvec(x0)
    rr = torch.dot(r, r)
    rel = float(torch.sqrt(rr)) / bnorm
    if rel * bnorm <= bound:
        return x, 0, rel
    p = r.clone()
    for it in range(1, max_iter + 1):
        ap = matvec(p)
        alpha = rr / torch.dot(p, ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = torch.dot(r, r)
        rel = float(torch.sqrt(rr_new)) / bnorm
        if rel * bnorm <= bound or not math.isfinite(rel):
            return x, it, rel
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, max_iter, rel


def gmres(matvec: MatVec, b: Tensor, tol: float = 1e-8, max_iter: int = 100, x0: Tensor | None = None,
          atol: float = 0.0) -> tuple[Tensor, int, float]:
    """Solve A x = b for a general square A by GMRES (Saad and Schultz 1986), no restart.

    Minimizes |A x - b| over x0 + the Krylov space of the residual (x0 a warm start,
    default 0); stops when it is <= max(tol |b|, atol). Returns (x, iterations,
    relative residual |A x - b| / |b|).
    """
    full = float(torch.linalg.vector_norm(b))
    if full == 0.0:
        return torch.zeros_like(b), 0, 0.0
    if x0 is not None:
        r0 = b - matvec(x0)
        dx, iters, rel = gmres(matvec, r0, tol=0.0, max_iter=max_iter, atol=max(tol * full, atol))
        return x0 + dx, iters, rel * float(torch.linalg.vector_norm(r0)) / full
    bound = max(tol * full, atol)
    bnorm = torch.linalg.vector_norm(b)
    if float(bnorm) <= bound:
        return torch.zeros_like(b), 0, float(bnorm) / full
    basis = [b / bnorm]
    h = torch.zeros(max_iter + 1, max_iter, dtype=b.dtype, device=b.device)
    e1 = torch.zeros(max_iter + 1, dtype=b.dtype, device=b.device)
    e1[0] = bnorm
    y = None
    for j in range(max_iter):
        w = matvec(basis[j])
        for i in range(j + 1):  # modified Gram-Schmidt
            h[i, j] = torch.dot(basis[i], w)
            w = w - h[i, j] * basis[i]
        h[j + 1, j] = torch.linalg.vector_norm(w)
        y, rel = _least_squares(h[: j + 2, : j + 1], e1[: j + 2])
        rel = rel / float(bnorm)
        if rel * float(bnorm) <= bound or float(h[j + 1, j]) == 0.0 or not math.isfinite(rel):
            break
        basis.append(w / h[j + 1, j])
    x = sum(float(c) * v for c, v in zip(y, basis))
    return x, j + 1, rel


def _least_squares(h: Tensor, rhs: Tensor) -> tuple[np.ndarray, float]:
    """min |h y - rhs| for the small Hessenberg matrix, in float64 numpy (deterministic)."""
    H = h.detach().double().cpu().numpy()
    r = rhs.detach().double().cpu().numpy()
    y = np.linalg.lstsq(H, r, rcond=None)[0]
    return y, float(np.linalg.norm(H @ y - r))
