"""PNG plots of the diagnostics (matplotlib's Agg canvas; pyplot's global state is not touched).

Each function takes data and a path, writes a PNG there and returns the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from equilib.diagnostics.errors import DiagnosticsError

__all__ = ["plot_eigenvalues", "plot_step_size_scan", "plot_trajectory"]


def _complex(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().to(torch.complex128).numpy()
    return np.asarray(values, dtype=np.complex128).reshape(-1)


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_eigenvalues(values, path, unit_circle: bool = False, title: str | None = None,
                     groups: Mapping[str, object] | None = None) -> Path:
    """Eigenvalues in the complex plane.

    ``values``: a complex tensor/array; or ``groups`` ``{label: values}`` for several sets
    (``values`` may then be None). ``unit_circle``: draw |z| = 1 (for update maps: inside
    means contracting); otherwise the imaginary axis is emphasised (left of it: unstable
    directions of gradient play).
    """
    sets = dict(groups or {})
    if values is not None:
        sets = {"eigenvalues": values, **sets}
    if not sets:
        raise DiagnosticsError("plot_eigenvalues needs values or groups")
    fig = Figure(figsize=(5.2, 5.0))
    ax = fig.add_subplot()
    markers = "oxs^vD+*"
    for i, (label, vals) in enumerate(sets.items()):
        z = _complex(vals)
        ax.scatter(z.real, z.imag, s=28, marker=markers[i % len(markers)], label=f"{label} ({len(z)})", zorder=3)
    if unit_circle:
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="0.4", lw=1, ls="--", label="|z| = 1")
    radius = max(float(np.abs(_complex(v)).max()) if len(_complex(v)) else 0.0 for v in sets.values())
    radius = 1.15 * max(radius, 1.0 if unit_circle else 1e-12)
    ax.set_xlim(-radius, radius)  # a square box around 0: angles (rotation) read true
    ax.set_ylim(-radius, radius)
    ax.set_aspect("equal", adjustable="box")
    ax.axhline(0, color="0.75", lw=0.8, zorder=1)
    ax.axvline(0, color="0.5" if not unit_circle else "0.75", lw=1.2 if not unit_circle else 0.8, zorder=1)
    if not unit_circle:
        ax.axvspan(-radius, 0, color="tab:red", alpha=0.06, label="Re < 0: unstable for gradient flow")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.set_title(title or ("update-map eigenvalues" if unit_circle else "game Jacobian eigenvalues"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return _save(fig, path)


def plot_step_size_scan(scan, path, title: str | None = None, log_y: bool = False, max_rho: float = 2.0) -> Path:
    """Predicted contraction factor rho(eta) per solver (a :class:`ScanResult`), with rho = 1 marked.

    The y axis is cut at ``max_rho`` (diverging curves leave the plot); ``log_y`` for a log axis.
    """
    if not getattr(scan, "rho", None):
        raise DiagnosticsError("plot_step_size_scan needs a ScanResult with at least one solver")
    fig = Figure(figsize=(6.8, 4.2))
    ax = fig.add_subplot()
    styles = ["-", "--", "-.", ":"]
    for i, (label, rho) in enumerate(scan.rho.items()):
        ax.plot(scan.etas, rho, ls=styles[(i // 10) % len(styles)], lw=1.6, label=label)
    ax.axhline(1.0, color="k", lw=0.9, ls=":", label="rho = 1", zorder=1)
    lo = min(float(np.nanmin(r)) for r in scan.rho.values())
    bottom = max(lo * 0.8, 1e-3) if log_y else max(0.0, lo - 0.05)
    ax.axhspan(bottom, 1.0, color="tab:green", alpha=0.07, label="converges")
    if log_y:
        ax.set_yscale("log")
    ax.set_ylim(bottom, max_rho)
    ax.set_xlim(float(scan.etas.min()), float(scan.etas.max()))
    ax.set_xlabel("step size eta")
    ax.set_ylabel("predicted contraction per step rho(eta)")
    ax.set_title(title or "step-size scan")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return _save(fig, path)


def plot_trajectory(recorder_or_rows, path, title: str | None = None) -> Path:
    """Eigenvalue trajectory over training: real and imaginary parts of the recorded top-k
    eigenvalues of J, and the update map's spectral radius, against the step."""
    rows = recorder_or_rows.rows if hasattr(recorder_or_rows, "rows") else list(recorder_or_rows)
    if not rows:
        raise DiagnosticsError("plot_trajectory needs at least one recorded row")
    steps = np.array([r["step"] for r in rows])
    k = max(len(r["eigenvalues"]) for r in rows)
    ev = np.full((len(rows), k), np.nan + 0j)
    for i, r in enumerate(rows):
        ev[i, :len(r["eigenvalues"])] = [complex(*z) if isinstance(z, (list, tuple)) else complex(z)
                                        for z in r["eigenvalues"]]
    radius = np.array([r.get("spectral_radius", np.nan) for r in rows], dtype=float)
    panels = 3 if np.isfinite(radius).any() else 2
    fig = Figure(figsize=(7.0, 2.4 * panels))
    axes = [fig.add_subplot(panels, 1, i + 1) for i in range(panels)]
    for j in range(k):
        # points, not lines: the k-th largest eigenvalue is not the same one from record to record
        axes[0].plot(steps, ev[:, j].real, marker="o", ms=3, ls="none", color="tab:blue")
        axes[1].plot(steps, ev[:, j].imag, marker="o", ms=3, ls="none", color="tab:purple")
    axes[0].axhline(0, color="k", lw=0.8, ls="--")
    axes[0].set_ylabel("Re(eigenvalue)")
    axes[1].set_ylabel("Im(eigenvalue)")
    if panels == 3:
        axes[2].plot(steps, radius, color="tab:red", marker=".")
        axes[2].axhline(1.0, color="k", lw=0.8, ls="--")
        axes[2].set_ylabel("update-map rho")
    axes[-1].set_xlabel("step")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_title(title or f"top-{k} eigenvalues of J over training")
    fig.tight_layout()
    return _save(fig, path)
