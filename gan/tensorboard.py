"""TensorBoard event files of a run (``gan train --tensorboard``), in ``RUN/tensorboard/`` beside metrics.jsonl.

What is written, with ``torch.utils.tensorboard.SummaryWriter`` (tags in brackets):

- every ``tensorboard_every`` steps and at every evaluation: each player's loss (``loss/G``), learning
  rate (``lr/G``) and the non-finite steps skipped and rolled back so far (``nonfinite/skip``);
- at every evaluation: the record the Evaluation callback appended to metrics.jsonl, i.e. the metrics of
  every generator (``metrics/ema/modes``), and a sample figure of the sampling generator (``samples/ema``:
  a scatter of G(z) over the mixture's means, or an 8 x 8 image grid);
- at every diagnostics step (``diagnostics_every``): the :class:`equilib.diagnostics.Recorder` row, i.e.
  each player's gradient norm ||xi_i|| (``grad_norm/G``), the update map's spectral radius, the distance
  moved, the eigenvalues of J as scalars (``diagnostics/eig0_re``) and as a scatter in the complex plane.

Gradient norms come only from what was already computed (the Recorder's xi): the solvers keep no xi
after a step, and this callback adds no backward pass. Only rank 0 writes. A resumed run opens the same
folder with ``purge_step`` = its first new step, so TensorBoard hides whatever a stopped session wrote
after the checkpoint it resumes from (SessionLog.START), and no step appears twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gan import parallel
from gan.building import Built, seeds
from gan.callbacks import Session, nonfinite_counts
from gan.config_checks import ConfigError
from gan.evaluation import generate, latents

__all__ = ["TensorBoard", "require", "FOLDER", "INSTALL"]

FOLDER = "tensorboard"
INSTALL = "pip install 'equilib[tensorboard]'"


def require():
    """``torch.utils.tensorboard.SummaryWriter``, or :class:`ConfigError` saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(f"tensorboard needs the tensorboard package, which is not installed: {INSTALL}") from None
    return SummaryWriter


class TensorBoard:
    """The loop's callback ``fn(built, step, losses)`` writing ``RUN/tensorboard/`` (rank 0 only).

    ``diagnostics`` is the loop's :class:`gan.callbacks.Diagnostics` (or None); its Recorder's last row is
    read at the steps it records, so this callback runs after it and after the Evaluation callback.
    """

    def __init__(self, b: Built, session: Session, start: int, diagnostics=None):
        self.session, self.diagnostics = session, diagnostics
        self.writer = None
        if parallel.is_writer():
            SummaryWriter = require()
            self.writer = SummaryWriter(str(Path(session.run) / FOLDER), purge_step=start + 1 if start > 0 else None)

    def __call__(self, b: Built, step: int, losses) -> None:
        if self.writer is None:
            return
        cfg = b.config
        history = self.session.history
        record = history[-1] if history and history[-1]["step"] == step else None
        if record is not None or step % cfg.tensorboard_every == 0:
            self._step_scalars(b, step, losses)
        if record is not None:
            self._evaluation(b, step, record)
        row = self._diagnostics_row(step)
        if row is not None:
            self._diagnostics(row, step)
        if record is not None or step % cfg.checkpoint_every == 0 or step == cfg.steps:
            self.writer.flush()  # on disk before the checkpoint of this step is written

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # ---- what is written ---------------------------------------------------------------------
    def _step_scalars(self, b: Built, step: int, losses) -> None:
        add = self.writer.add_scalar
        for player, loss in losses.items():
            add(f"loss/{player}", float(loss), step)
        for player, lr in b.solver.lr.items():
            add(f"lr/{player}", lr, step)
        for action, count in nonfinite_counts(b).items():
            add(f"nonfinite/{action}", count, step)

    def _evaluation(self, b: Built, step: int, record: dict[str, Any]) -> None:
        for name in b.generators():
            for metric, value in record.get(name, {}).items():
                number = scalar(value)
                if number is not None:
                    self.writer.add_scalar(f"metrics/{name}/{metric}", number, step)
        self._samples(b, step)

    def _samples(self, b: Built, step: int) -> None:
        """G(z) of the sampling generator on the evaluation's own latent batch (its first samples)."""
        from gan import plots

        cfg = b.config
        name = next(n for n, g in b.generators().items() if g is b.sampler())
        z = latents(cfg.eval_samples, cfg.latent_dim, seeds(cfg.seed)[3])
        if b.data.kind == "mixture" and b.data.shape[0] <= 2:
            x = generate(b.sampler(), z[:2000], b.device).numpy()
            if np.isfinite(x).all():
                self.writer.add_figure(f"samples/{name}", mixture_figure(x, b.data.means, f"{cfg.data} step {step}"),
                                       step)
        elif b.data.kind == "images":
            x = generate(b.sampler(), z[:64], b.device)
            if bool(x.isfinite().all()):
                factor = max(1, 48 // x.shape[-2])  # small images enlarged, as in the plots folder
                tiled = plots.tile_images(x, nrow=8).repeat(factor, axis=0).repeat(factor, axis=1)
                self.writer.add_image(f"samples/{name}", tiled, step, dataformats="HW" if tiled.ndim == 2 else "HWC")

    def _diagnostics_row(self, step: int) -> dict[str, Any] | None:
        rows = self.diagnostics.recorder.rows if self.diagnostics is not None else []
        return rows[-1] if rows and rows[-1]["step"] == step else None

    def _diagnostics(self, row: dict[str, Any], step: int) -> None:
        add = self.writer.add_scalar
        for key, value in row.items():
            if key.startswith("grad_norm_"):
                add(f"grad_norm/{key[len('grad_norm_'):]}", value, step)
            elif key in ("spectral_radius", "distance"):
                add(f"diagnostics/{key}", value, step)
        eigenvalues = [complex(z) for z in row.get("eigenvalues", [])]
        for i, z in enumerate(eigenvalues):
            add(f"diagnostics/eig{i}_re", z.real, step)
            add(f"diagnostics/eig{i}_im", z.imag, step)
        if eigenvalues:
            self.writer.add_figure("diagnostics/eigenvalues", eigenvalue_figure(eigenvalues, step), step)


def scalar(value: Any) -> float | None:
    """A metric as a float (booleans as 0/1, the texts "nan"/"inf" of metrics.jsonl as floats); None otherwise."""
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def mixture_figure(x: np.ndarray, means, title: str):
    """Generated samples (n, 2) as a scatter over the mixture's means, or (n, 1) as a histogram."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    means = np.asarray(means.cpu() if hasattr(means, "cpu") else means, dtype=float).reshape(-1, x.shape[1])
    if x.shape[1] == 2:
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, label="G(z)")
        ax.scatter(means[:, 0], means[:, 1], marker="x", c="red", label="means")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        ax.hist(x[:, 0], bins=100, density=True, alpha=0.6, label="G(z)")
        for m in means[:, 0]:
            ax.axvline(m, c="red", lw=0.8)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    return fig


def eigenvalue_figure(eigenvalues: list[complex], step: int):
    """The recorded eigenvalues of the game Jacobian J in the complex plane."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    ax.axhline(0.0, c="gray", lw=0.5)
    ax.axvline(0.0, c="gray", lw=0.5)
    ax.scatter([z.real for z in eigenvalues], [z.imag for z in eigenvalues], marker="o")
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.set_title(f"eigenvalues of J, step {step}")
    return fig
