"""Matrix-free linear solvers on 1-D tensors: conjugate gradient and GMRES."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["cg", "gmres"]

MatVec = Callable[[Tensor], Tensor]


def cg(matvec: MatVec, b: Tensor, tol: float = 1e-8, max_iter: int = 100) -> tuple[Tensor, int, float]:
    """Solve A x = b for symmetric positive definite A (Hestenes and Stiefel 1952).

    Stops when |A x - b| <= tol * |b|. Returns (x, iterations, relative residual).
    """
    x = torch.zeros_like(b)
    bnorm = torch.linalg.vector_norm(b)
    if float(bnorm) == 0.0:
        return x, 0, 0.0
    r = b.clone()
    p = r.clone()
    rr = torch.dot(r, r)
    for it in range(1, max_iter + 1):
        ap = matvec(p)
        alpha = rr / torch.dot(p, ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = torch.dot(r, r)
        rel = float(torch.sqrt(rr_new) / bnorm)
        if rel <= tol:
            return x, it, rel
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, max_iter, rel


def gmres(matvec: MatVec, b: Tensor, tol: float = 1e-8, max_iter: int = 100) -> tuple[Tensor, int, float]:
    """Solve A x = b for a general square A by GMRES (Saad and Schultz 1986), no restart.

    Minimizes |A x - b| over the Krylov space; stops when it is <= tol * |b|.
    Returns (x, iterations, relative residual).
    """
    bnorm = torch.linalg.vector_norm(b)
    if float(bnorm) == 0.0:
        return torch.zeros_like(b), 0, 0.0
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
        if rel <= tol or float(h[j + 1, j]) == 0.0:
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
