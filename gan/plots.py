"""Pictures of a run, written as PNG with matplotlib's Agg backend (no display needed).

- :func:`mixture_plot`: 2-D samples as a scatter over a kernel density estimate
  (Gaussian KDE, Scott's bandwidth) with the mixture's means marked; 1-D samples as
  the generator's KDE against the data's KDE (and the true mixture density if given).
- :func:`image_grid`: a grid of images in [-1, 1] (N, C, H, W).
- :func:`interpolation_strip`: rows of images generated along straight lines in
  latent space, G((1 - t) z_0 + t z_1) for t in [0, 1].
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import gaussian_kde  # noqa: E402

__all__ = ["mixture_plot", "image_grid", "interpolation_strip", "tile_images", "mixture_density_1d"]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def mixture_density_1d(grid: np.ndarray, means: Sequence[float], std: float) -> np.ndarray:
    """Density of the equal-weight mixture sum_k N(mean_k, std^2) / K on ``grid``."""
    means = np.asarray(means, dtype=np.float64).reshape(-1)
    z = (grid[:, None] - means[None, :]) / std
    return np.exp(-0.5 * z ** 2).sum(1) / (len(means) * std * math.sqrt(2 * math.pi))


def _kde(values: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    if values.shape[-1] < 2 or not np.all(np.isfinite(values)) or np.ptp(values, axis=-1).min() == 0:
        return None
    try:
        return gaussian_kde(values)(grid)
    except np.linalg.LinAlgError:  # degenerate (collapsed) samples
        return None


def mixture_plot(samples, path: str | os.PathLike, data=None, means=None, std: float | None = None,
                 title: str = "") -> str:
    """Save a plot of generated ``samples`` (n, 1) or (n, 2) against the data; returns the path."""
    x = _np(samples)
    if x.ndim == 1:
        x = x[:, None]
    dim = x.shape[1]
    fig, ax = plt.subplots(figsize=(5, 5) if dim == 2 else (6, 3.5))
    try:
        if dim == 1:
            ref = _np(data).reshape(-1) if data is not None else None
            lo_hi = np.concatenate([x[:, 0], ref if ref is not None else x[:, 0]])
            lo_hi = lo_hi[np.isfinite(lo_hi)]
            pad = 3 * (std or 0.1)
            grid = np.linspace(lo_hi.min() - pad, lo_hi.max() + pad, 600) if lo_hi.size else np.linspace(-1, 1, 600)
            g = _kde(x[:, 0][None, :], grid[None, :])
            if g is not None:
                ax.plot(grid, g, label="generator (KDE)")
            if ref is not None:
                d = _kde(ref[None, :], grid[None, :])
                if d is not None:
                    ax.plot(grid, d, label="data (KDE)", linestyle="--")
            if means is not None and std:
                ax.plot(grid, mixture_density_1d(grid, _np(means), std), label="true density", linestyle=":")
            ax.set_xlabel("x")
            ax.set_ylabel("density")
            ax.legend(loc="upper right", fontsize=8)
        elif dim == 2:
            pts = x[np.all(np.isfinite(x), axis=1)]
            if means is not None:
                m = _np(means)
                span = np.abs(m).max() * 1.25 + 3 * (std or 0.0) + 0.1
            else:
                span = float(np.abs(pts).max()) * 1.1 + 0.1 if pts.size else 1.0
            xs = np.linspace(-span, span, 120)
            gx, gy = np.meshgrid(xs, xs)
            sub = pts[:: max(1, len(pts) // 1000)]  # the KDE of <= ~1000 points is plenty for a picture
            dens = _kde(sub.T, np.vstack([gx.ravel(), gy.ravel()])) if len(sub) > 2 else None
            if dens is not None:
                ax.contourf(gx, gy, dens.reshape(gx.shape), levels=20, cmap="Blues")
            ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:orange", alpha=0.5, label="generator")
            if means is not None:
                ax.scatter(m[:, 0], m[:, 1], marker="x", c="k", s=30, label="modes")
            ax.set_xlim(-span, span)
            ax.set_ylim(-span, span)
            ax.set_aspect("equal")
            ax.legend(loc="upper right", fontsize=8)
        else:
            raise ValueError(f"mixture_plot needs 1-D or 2-D samples, got shape {x.shape}")
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return str(path)


def tile_images(images, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (rows*H, cols*W[, 3]) array in [0, 1]."""
    x = _np(images)
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {x.shape}")
    n, c, h, w = x.shape
    if c not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {c}")
    x = np.clip((x + 1.0) / 2.0, 0.0, 1.0)
    cols = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c))
    for i in range(n):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = \
            x[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


def image_grid(images, path: str | os.PathLike, nrow: int | None = None, min_cell: int = 48) -> str:
    """Save (N, C, H, W) images in [-1, 1] as one PNG grid; returns the path.

    Small images are enlarged by an integer factor (nearest neighbour) so that each is at
    least ``min_cell`` pixels high (0 or 1: no enlarging).
    """
    tiled = tile_images(images, nrow)
    h = _np(images).shape[2]
    factor = max(1, int(min_cell) // h) if min_cell else 1
    if factor > 1:
        tiled = tiled.repeat(factor, axis=0).repeat(factor, axis=1)
    plt.imsave(path, tiled, cmap="gray" if tiled.ndim == 2 else None, vmin=0.0, vmax=1.0)
    return str(path)


def interpolation_strip(generator, latents_from, latents_to, path: str | os.PathLike, steps: int = 8,
                        min_cell: int = 48) -> str:
    """Save rows G((1 - t) z0 + t z1), t = 0..1 in ``steps`` points, one row per pair (z0, z1)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    z0, z1 = latents_from, latents_to
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype, device=z0.device)
    shape = (1, steps) + (1,) * (z0.dim() - 1)
    z = (z0.unsqueeze(1) * (1 - t).view(shape) + z1.unsqueeze(1) * t.view(shape))
    z = z.reshape(-1, *z0.shape[1:])
    with torch.no_grad():
        images = generator(z)
    return image_grid(images, path, nrow=steps, min_cell=min_cell)
