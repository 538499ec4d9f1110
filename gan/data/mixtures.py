"""Gaussian mixtures: the 1-D mixture, the ring and the grid of VEEGAN / PacGAN.

A :class:`GaussianMixture` is sum_k w_k N(mu_k, std^2 I); ``sample(n, generator)`` draws from a
seeded ``torch.Generator`` and ``log_prob`` is the exact log density (float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from gan.data.errors import DataError

__all__ = ["GaussianMixture", "ring", "grid", "gaussian1d"]


class GaussianMixture:
    """sum_k w_k N(mu_k, std^2 I): ``means`` (k x d, float32), one ``std``, ``weights`` (k, float64, summing to 1)."""

    kind = "mixture"

    def __init__(self, name: str, means: Tensor, std: float, weights: Tensor | None = None):
        means = torch.as_tensor(means, dtype=torch.float32)
        if means.dim() != 2:
            raise DataError(f"means must be a (k, d) tensor, got shape {tuple(means.shape)}")
        if not (isinstance(std, (int, float)) and not isinstance(std, bool) and std > 0 and math.isfinite(std)):
            raise DataError(f"std must be a number > 0, got {std!r}")
        k = means.shape[0]
        if weights is None:
            weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (k,) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
            raise DataError(f"weights must be {k} non-negative numbers with a positive sum, got {weights.tolist()}")
        self.name = name
        self.means = means
        self.std = float(std)
        self.weights = weights / weights.sum()
        self.shape = (means.shape[1],)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples (float32, CPU): a component k ~ weights, then mu_k + std * N(0, I)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.shape[0], generator=generator)
        return self.means[k] + self.std * noise

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) = logsumexp_k [log w_k - |x - mu_k|^2 / (2 std^2)] - d/2 log(2 pi std^2)."""
        x = torch.as_tensor(x, dtype=torch.float64).reshape(-1, self.shape[0])
        means = self.means.double()
        sq = (x[:, None, :] - means[None, :, :]).pow(2).sum(-1)
        d = self.shape[0]
        log_norm = -0.5 * d * math.log(2 * math.pi * self.std ** 2)
        return torch.logsumexp(self.weights.double().log() - sq / (2 * self.std ** 2), dim=1) + log_norm

    def __repr__(self) -> str:
        return f"GaussianMixture({self.name!r}, modes={self.means.shape[0]}, dim={self.shape[0]}, std={self.std})"


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise DataError(f"{name} must be a number > 0 (finite), got {value!r}")
    return float(value)


def _numbers(name: str, values) -> list[float]:
    if isinstance(values, (np.ndarray, Tensor)) and values.ndim == 1:
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values or not all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise DataError(f"{name} must be a non-empty list of finite numbers, got {values!r}")
    return [float(v) for v in values]


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """``modes`` Gaussians at radius * (cos 2 pi k/modes, sin 2 pi k/modes), std 0.01 (Mescheder et al.
    2017; PacGAN). Metz et al. (2017) used radius 2, std 0.02."""
    modes, radius, std = _count("modes", modes), _positive("radius", radius), _positive("std", std)
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture("ring", means.float(), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """side^2 Gaussians on a grid centred at 0: means {-4, -2, 0, 2, 4}^2 and std 0.05 by default
    (VEEGAN; PacGAN)."""
    side, spacing, std = _count("side", side), _positive("spacing", spacing), _positive("std", std)
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1), std)


def gaussian1d(means: Sequence[float] = (-2.0, 2.0), std: float = 0.5,
               weights: Sequence[float] | None = None) -> GaussianMixture:
    """A 1-D mixture; by default 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)."""
    means, std = _numbers("means", means), _positive("std", std)
    if weights is not None:
        weights = _numbers("weights", weights)
        if len(weights) != len(means):
            raise DataError(f"weights must have one entry per mean ({len(means)}), got {len(weights)}")
    return GaussianMixture("gaussian1d", torch.tensor([[m] for m in means]), std,
                           None if weights is None else torch.tensor(weights, dtype=torch.float64))
