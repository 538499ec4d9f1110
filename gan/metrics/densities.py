"""1-D: the optimal discriminator D* = p_data / (p_data + p_g), the Jensen-Shannon divergence and
V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Goodfellow et al. 2014, Theorem 1), on a grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from gan.metrics._tensors import _as_tensor

__all__ = ["optimal_discriminator", "jsd", "gan_value"]


def _log_density(x: Tensor, f) -> Tensor:
    return _as_tensor(f(x) if callable(f) else f).reshape(-1)


def optimal_discriminator(x, log_p_data, log_p_g) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data - log p_g) (Goodfellow et al. 2014,
    Prop. 1). ``log_p_data``, ``log_p_g``: callables of x or the log densities at x."""
    x = _as_tensor(x)
    return torch.sigmoid(_log_density(x, log_p_data) - _log_density(x, log_p_g))


def _trapezoid(values: Tensor, x: Tensor) -> float:
    return float(torch.trapezoid(values, x))


def _weighted(log_w: Tensor, f: Tensor) -> Tensor:
    """exp(log_w) * f, taken as 0 where the weight is 0 (so 0 * log 0 = 0)."""
    w = log_w.exp()
    return torch.where(w > 0, w * f, torch.zeros_like(f))


def jsd(x, log_p, log_q) -> float:
    """JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2, by the trapezoid rule on the
    sorted 1-D grid ``x`` (which must cover both supports). In nats; 0 <= JSD <= log 2."""
    x = _as_tensor(x).reshape(-1)
    lp, lq = _log_density(x, log_p), _log_density(x, log_q)
    lm = torch.logaddexp(lp, lq) - math.log(2.0)
    return _trapezoid(0.5 * _weighted(lp, lp - lm) + 0.5 * _weighted(lq, lq - lm), x)


def gan_value(x, log_p_data, log_p_g, discriminator: Callable | None = None) -> float:
    """V(G, D) = E_{p_data} log D + E_{p_g} log(1 - D) by the trapezoid rule on the 1-D grid ``x``;
    D is a callable giving D(x) in (0, 1), by default the optimal D* (then in log space:
    log D* = log p_data - log(p_data + p_g))."""
    x = _as_tensor(x).reshape(-1)
    lp, lq = _log_density(x, log_p_data), _log_density(x, log_p_g)
    if discriminator is None:
        ls = torch.logaddexp(lp, lq)
        log_d, log_1md = lp - ls, lq - ls
    else:
        d = _as_tensor(discriminator(x)).reshape(-1)
        log_d, log_1md = torch.log(d), torch.log1p(-d)
    return _trapezoid(_weighted(lp, log_d) + _weighted(lq, log_1md), x)
