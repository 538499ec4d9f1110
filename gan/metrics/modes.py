"""Mode histograms, whatever assigns the modes (nearest mean, a classifier): coverage and KL from uniform.

With c_j the number of samples assigned to mode j of k and p_j = c_j / sum_i c_i:

    modes              = #{j : c_j > 0}                                (VEEGAN; PacGAN; Unrolled GANs)
    modes_min_fraction = #{j : p_j >= min_fraction, c_j > 0}
    kl                 = KL(p || U_k) = sum_{j : p_j > 0} p_j log(k p_j)     (natural log; PacGAN, Table 3)

One mode gives kl = log k, m equally filled modes log(k / m), all k equally filled 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["mode_coverage", "kl_from_uniform"]


def kl_from_uniform(counts) -> float:
    """KL(p || U_k) = sum_{p_j > 0} p_j log(k p_j) for p = counts / sum(counts), k = len(counts); ``inf``
    when every count is 0 (p undefined)."""
    c = torch.as_tensor(counts).detach().cpu().double().reshape(-1)
    if c.numel() == 0 or bool((c < 0).any()) or not bool(torch.isfinite(c).all()):
        raise ValueError(f"counts must be a non-empty list of finite counts >= 0, got {c.tolist()}")
    total = c.sum()
    if total <= 0:
        return math.inf
    p = c / total
    nz = p > 0
    return float((p[nz] * torch.log(c.numel() * p[nz])).sum())


def mode_coverage(assignments, k: int, min_fraction: float = 0.0) -> dict:
    """Coverage of ``k`` modes by ``assignments`` (n mode indices in 0..k-1; see the module docstring).

    Returns ``{"modes": int, "modes_min_fraction": int, "kl": float, "counts": Tensor (k,) int64}``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (the number of modes), got {k!r}")
    if isinstance(min_fraction, bool) or not isinstance(min_fraction, (int, float)) or not 0 <= min_fraction <= 1:
        raise ValueError(f"min_fraction must be a number in [0, 1], got {min_fraction!r}")
    a = torch.as_tensor(assignments).detach().cpu()
    if a.dim() != 1 or a.numel() == 0 or a.is_floating_point() or a.is_complex() or a.dtype == torch.bool:
        raise ValueError(f"assignments must be a non-empty 1-D tensor of integer mode indices, "
                         f"got dtype {a.dtype}, shape {tuple(a.shape)}")
    if bool((a < 0).any()) or bool((a >= k).any()):
        raise ValueError(f"assignments must be mode indices in 0..{k - 1}, got values in "
                         f"{int(a.min())}..{int(a.max())}")
    counts: Tensor = torch.bincount(a.long(), minlength=k)
    p = counts.double() / a.numel()
    return {"modes": int((counts > 0).sum()), "modes_min_fraction": int(((p >= min_fraction) & (counts > 0)).sum()),
            "kl": kl_from_uniform(counts), "counts": counts}
