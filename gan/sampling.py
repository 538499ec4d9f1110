"""Samples of a trained run: ``gan sample`` and :func:`gan.sample`."""

from __future__ import annotations

import os

import numpy as np

from gan import runs
from gan.config import ConfigError
from gan.evaluation import generate, latents
from gan.run_state import load_run

__all__ = ["sample"]


def sample(run: str | os.PathLike, n: int, seed: int = 0, out: str | os.PathLike | None = None,
           which: str | None = None) -> np.ndarray:
    """``n`` samples from the run's generator (the EMA one when the run used EMA).

    The latent batch is drawn from ``torch.Generator().manual_seed(seed)``, so the
    same seed gives the same samples. ``which`` is ``"G"``, ``"ema"`` or ``"uniform"``.
    Writes exactly the file ``out`` (which must end in ``.npy``) when it is given.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if which is not None and which not in ("G", "ema", "uniform"):
        raise ConfigError(f"which must be 'G', 'ema' or 'uniform', got {which!r}")
    if out is not None:
        out = runs.check_sample_out(out)
    b, _, _ = load_run(run)
    gens = b.generators()
    if b.uniform is not None:
        gens["uniform"] = b.uniform.module
    if which is None:
        g = b.sampler()
    elif which in gens:
        g = gens[which]
    else:
        raise ConfigError(f"which={which!r} is not a generator of this run; it has {sorted(gens)}")
    x = generate(g, latents(n, b.config.latent_dim, seed), b.device).numpy()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:  # a file object: numpy adds no suffix
                np.save(fh, x)
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                tmp.unlink()
    return x
