"""Evaluation: every generator (live, EMA, uniform average) scored on one fixed latent batch, and plotted.

The latent batch comes from evaluation's own seed (:func:`gan.building.seeds`), so evaluating
never touches the training streams: a run evaluated more or less often trains the same.
Mixtures are scored by :func:`gan.metrics.mixture_metrics` (modes, high-quality fraction, KL),
image data sets by :func:`gan.metrics.image_metrics` (digits, stacked digits; ``{}`` for the others).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan.building import Built, seeds

__all__ = ["evaluate", "generate", "latents", "eval_mode", "jsonable"]


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module):
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


def latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """z ~ N(0, I) of shape (n, latent_dim) from ``torch.Generator().manual_seed(seed)``."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def generate(generator: torch.nn.Module, z: torch.Tensor, device: torch.device, chunk: int = 1000) -> torch.Tensor:
    """G(z) in eval mode (BatchNorm uses running statistics), in chunks, returned on the CPU as float32."""
    out = []
    with eval_mode(generator):
        for i in range(0, z.shape[0], chunk):
            out.append(generator(z[i:i + chunk].to(device)).float().cpu())
    return torch.cat(out)


def _metrics(b: Built, x: torch.Tensor) -> dict[str, Any]:
    import gan.metrics as gm

    if b.data.kind == "mixture":
        return gm.mixture_metrics(x, b.data.means, b.data.std)
    if b.data.kind == "images":
        return gm.image_metrics(b.config.data, x)
    return {}


def evaluate(b: Built, step: int, plots_dir: Path | None) -> dict[str, Any]:
    """Metrics of every generator (live, EMA, uniform) on a fixed latent batch; plots if asked."""
    from gan import plots

    cfg = b.config
    eval_seed = seeds(cfg.seed)[3]
    z = latents(cfg.eval_samples, cfg.latent_dim, eval_seed)
    results: dict[str, Any] = {}
    for name, g in b.generators().items():
        x = generate(g, z, b.device)
        if not bool(torch.isfinite(x).all()):
            results[name] = {"finite": False}
            continue
        results[name] = {k: jsonable(v) for k, v in _metrics(b, x).items()}
        if plots_dir is not None and g is b.sampler():
            plots_dir.mkdir(parents=True, exist_ok=True)
            tag = f"step{step:07d}-{name}"
            if b.data.kind == "mixture" and b.data.shape[0] <= 2:
                real = b.data.sample(cfg.eval_samples, torch.Generator().manual_seed(0))
                plots.mixture_plot(x, plots_dir / f"{tag}.png", data=real, means=b.data.means, std=b.data.std,
                                   title=f"{cfg.data} {cfg.solver} {name} step {step}")
            elif b.data.kind == "images":
                plots.image_grid(x[:64], plots_dir / f"{tag}-grid.png", nrow=8)
                zi = latents(16, cfg.latent_dim, eval_seed + 1).to(b.device)
                with eval_mode(g):
                    plots.interpolation_strip(g, zi[:8], zi[8:], plots_dir / f"{tag}-interp.png", steps=8)
    return results


def jsonable(v: Any) -> Any:
    """``v`` with tensors, numpy values and non-finite floats made JSON-friendly (non-finite as text)."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        v = v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v
