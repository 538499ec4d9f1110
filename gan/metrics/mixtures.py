"""Metrics of samples of Gaussian mixtures: mode coverage (VEEGAN, PacGAN) and kernel density estimates.

* :func:`mixture_metrics`: the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
  2018) on the ring and grid: modes captured, high-quality fraction, KL from uniform.
* :func:`kde`: Gaussian kernel density estimates (1-D and 2-D) for plots of data vs generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gan.metrics._tensors import _as_tensor
from gan.metrics.modes import kl_from_uniform

__all__ = ["mixture_metrics", "kde"]


def mixture_metrics(samples, means, std: float, threshold: float = 3.0) -> dict:
    """Mode coverage of ``samples`` (n x d) on a mixture with ``means`` (k x d) and one ``std``.

    A sample is *high quality* when its distance to the nearest mean is at most
    ``threshold * std``. A mode is *captured* when at least one high-quality sample has it
    as nearest mean. With c_j the number of high-quality samples nearest to mode j and
    p_j = c_j / sum_i c_i (the captured-mode histogram of the high-quality samples):

        kl = KL(p || U_k) = sum_{j: p_j > 0} p_j log(k p_j)       (natural log; 0 log 0 = 0)

    against the uniform distribution over all k modes, as PacGAN reports it. One captured
    mode gives log k; all modes equally often 0. With no high-quality sample p is undefined
    and ``kl`` is ``inf``.

    Returns ``{"modes": int, "high_quality": fraction in [0, 1], "kl": float}``.
    """
    x = _as_tensor(samples)
    mu = _as_tensor(means)
    if x.dim() == 1:
        x = x[:, None]
    if mu.dim() != 2 or x.dim() != 2 or x.shape[1] != mu.shape[1] or x.shape[0] == 0:
        raise ValueError(f"samples must be (n, d) with n >= 1 and means (k, d) of the same d; "
                         f"got samples {tuple(x.shape)}, means {tuple(mu.shape)}")
    if not (std > 0 and threshold > 0):
        raise ValueError(f"std and threshold must be > 0, got std={std!r}, threshold={threshold!r}")
    dist = torch.cdist(x, mu)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= threshold * std
    k = mu.shape[0]
    counts = torch.bincount(nearest[good], minlength=k)
    return {"modes": int((counts > 0).sum()), "high_quality": float(good.double().mean()),
            "kl": kl_from_uniform(counts)}


def kde(samples, points, bandwidth: float | None = None) -> Tensor:
    """Gaussian kernel density estimate of ``samples`` (n or n x d, d = 1 or 2) at ``points``.

    p(y) = 1/n sum_i N(y; x_i, H). Default H: Scott's rule H = n^(-2/(d+4)) Cov(x) (the sample
    covariance with n - 1, as scipy.stats.gaussian_kde); ``bandwidth=h`` gives H = h^2 I.
    """
    x = _as_tensor(samples)
    y = _as_tensor(points)
    if x.dim() == 1:
        x = x[:, None]
    if y.dim() == 1:
        y = y[:, None] if x.shape[1] == 1 else y[None, :]
    n, d = x.shape
    if d not in (1, 2) or y.shape[1] != d or n < 2:
        raise ValueError(f"kde takes n >= 2 samples of dimension 1 or 2 and points of the same dimension; "
                         f"got samples {tuple(x.shape)}, points {tuple(y.shape)}")
    if bandwidth is None:
        cov = torch.atleast_2d(torch.cov(x.T)) * n ** (-2.0 / (d + 4))
    else:
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
        cov = torch.eye(d, dtype=torch.float64) * bandwidth ** 2
    chol = torch.linalg.cholesky(cov)
    diff = (y[:, None, :] - x[None, :, :]).reshape(-1, d)                       # (m * n, d)
    white = torch.linalg.solve_triangular(chol, diff.T, upper=False).T.reshape(y.shape[0], n, d)
    log_k = -0.5 * white.pow(2).sum(-1) - 0.5 * d * math.log(2 * math.pi) - torch.log(torch.diagonal(chol)).sum()
    return torch.exp(torch.logsumexp(log_k, dim=1) - math.log(n))
