"""The Frechet distance between Gaussian fits of features (FID's formula, Heusel et al. 2017)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from gan.metrics._tensors import _as_tensor

__all__ = ["gaussian_stats", "frechet_distance"]


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance with n - 1) of ``features`` (n x f), in float64."""
    f = np.asarray(_as_tensor(features), dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (n, f) with n >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Frechet / 2-Wasserstein distance squared
    between N(mu1, S1) and N(mu2, S2); Heusel et al. 2017 use it on Inception features as FID).
    The matrix square root is scipy.linalg.sqrtm; its imaginary round-off is dropped."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64)), np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    covmean = _sqrtm(s1 @ s2)
    if covmean is None:  # singular product (e.g. dead features): regularize as the FID reference code does
        eps = 1e-6 * np.eye(s1.shape[0])
        covmean = _sqrtm((s1 + eps) @ (s2 + eps))
        if covmean is None:
            raise ValueError("the matrix square root of S1 S2 failed even after regularization")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _sqrtm(a: np.ndarray) -> np.ndarray | None:
    """Real part of scipy.linalg.sqrtm(a), or None when it is not finite or not a square root."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(a)
    root = np.real(root)
    if not np.isfinite(root).all():
        return None
    scale = max(np.abs(a).max(), 1e-300)
    if np.abs(root @ root - a).max() > 1e-6 * scale:
        return None
    return root
