"""Pictures of a GAN comparison: the final samples of every run side by side, and the curves.

- :func:`samples_grid`: one panel per run (methods in rows, seeds in columns); mixtures as a
  scatter of 1,000 samples over the true modes, images as a tile of 36 samples.
- :func:`curves`: every metric of the evaluations against the training step, mean over the
  seeds of each method, with the range over seeds shaded; the losses likewise.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .runs import Run, flatten  # noqa: E402
from .table import Row, metric_names  # noqa: E402

__all__ = ["samples_grid", "curves"]


def _means(run: Run):
    import gan
    cfg = run.config
    try:
        data = gan.load_dataset(cfg["data"], **(cfg.get("data_options") or {}))
    except Exception:  # noqa: BLE001 - the modes are decoration; the samples are drawn without them
        return None
    means = getattr(data, "means", None)
    return None if means is None else np.asarray(means)


def _panel(ax, run: Run, n_points: int, seed: int) -> None:
    import gan
    from gan.plots import tile_images
    x = gan.sample(str(run.path), n_points, seed=seed)
    if x.ndim == 2 and x.shape[1] == 2:
        means = _means(run)
        if means is not None:  # the true modes as open circles under the samples
            ax.scatter(means[:, 0], means[:, 1], s=60, facecolors="none", edgecolors="tab:red", linewidths=0.8)
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="tab:blue", linewidths=0)
        ax.set_aspect("equal")
    elif x.ndim == 4:
        tile = tile_images(x[:36], nrow=6)
        ax.imshow(tile.squeeze(), cmap="gray" if tile.ndim == 2 or tile.shape[-1] == 1 else None)
    else:
        ax.hist(x.reshape(len(x), -1)[:, 0], bins=60, color="tab:blue")
    ax.set_xticks([])
    ax.set_yticks([])


def samples_grid(table: list[Row], path: Path, seed: int = 0) -> Path:
    """Final samples of every run (from its checkpoint, the generator its evaluations score by default)."""
    cols = max(len(row.runs) for row in table)
    fig, axes = plt.subplots(len(table), cols, figsize=(2.2 * cols, 2.2 * len(table)), squeeze=False)
    for i, row in enumerate(table):
        for j in range(cols):
            ax = axes[i][j]
            if j >= len(row.runs):
                ax.axis("off")
                continue
            run = row.runs[j]
            try:
                _panel(ax, run, 1000, seed)
            except Exception as e:  # noqa: BLE001 - a run without a checkpoint: say so in its panel
                ax.text(0.5, 0.5, f"no samples:\n{str(e)[:60]}", ha="center", va="center", fontsize=6,
                        transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(f"seed {run.seed}", fontsize=7)
            if j == 0:
                ax.set_ylabel(row.label, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _series(row: Row, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    per_run = {}
    for r in row.runs:
        for e in r.evaluations:
            v = flatten(e).get(metric)
            if v is not None:
                per_run.setdefault(int(e["step"]), []).append(v)
    if not per_run:
        return None
    steps = np.array(sorted(per_run))
    vals = [np.array(per_run[s]) for s in steps]
    return (steps, np.array([v.mean() for v in vals]), np.array([v.min() for v in vals]),
            np.array([v.max() for v in vals]))


def curves(table: list[Row], path: Path) -> Path:
    """Each metric (and each loss) against the step: mean over seeds, shaded from min to max."""
    metrics = metric_names(table) + sorted({k for row in table for r in row.runs for e in r.evaluations
                                            for k in flatten(e) if k.startswith("losses.")})
    cols = min(3, max(1, len(metrics)))
    nrows = max(1, -(-len(metrics) // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for k, metric in enumerate(metrics):
        ax = axes[k // cols][k % cols]
        for row in table:
            s = _series(row, metric)
            if s is None:
                continue
            steps, mean, lo, hi = s
            (line,) = ax.plot(steps, mean, marker=".", label=row.label)
            ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.15)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("step")
        if metric.endswith(("kl", "frechet")):
            ax.set_yscale("symlog", linthresh=1e-3)
    for k in range(len(metrics), nrows * cols):
        axes[k // cols][k % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
