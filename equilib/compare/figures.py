"""The report's figures, one set per game (matplotlib's Agg canvas; pyplot's global state untouched).

- :func:`plot_trajectories` (2-parameter games): one panel per solver, its iterates from the
  start over the streamlines of the field -xi (the direction gradient play moves), shaded by |xi|.
- :func:`plot_distances`: distance to the equilibrium (or |xi|) against steps, against
  gradient evaluations and against backward passes (the cost with Jacobian products), log scale.
- :func:`plot_scan`: predicted spectral radius (lines) and measured contraction (markers)
  against the step size (log x), with rho = 1 marked and values above 1.5 cut.
- :func:`plot_jacobian_eigenvalues`: eigenvalues of the game Jacobian J in the complex plane
  (``equilib.diagnostics.plot_eigenvalues``; all of them up to 2000 parameters, else the top 6).

Each solver keeps one colour in every figure. Each function writes a PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

import equilib as eq
from equilib import diagnostics as dg
from equilib.compare.run import DENSE_MAX, RunResult, set_point

__all__ = ["plot_trajectories", "plot_distances", "plot_scan", "plot_jacobian_eigenvalues", "style"]

_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
            "tab:olive", "tab:cyan", "black", "gold"]
_DASHES = ["-", "--", "-.", ":"]


def style(solver: str) -> dict:
    """A fixed colour and line style per solver (by its place in eq.SOLVERS)."""
    names = list(eq.SOLVERS)
    i = names.index(solver) if solver in names else len(names) + sum(map(ord, solver))
    return {"color": _COLOURS[i % len(_COLOURS)], "ls": _DASHES[(i // 4) % len(_DASHES)]}


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path


def _legend(ax) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def plot_trajectories(spec, star, results: list[RunResult], path, grid: int = 21) -> Path:
    """Iterates of every solver in the plane over the streamlines of -xi (2-parameter games)."""
    runs = [r for r in results if r.points]
    start = np.asarray(runs[0].points[0])
    centre = star.numpy() if star is not None else np.zeros(2)
    half = 1.6 * max(float(np.abs(start - centre).max()), 1e-3)
    xs = np.linspace(centre[0] - half, centre[0] + half, grid)
    ys = np.linspace(centre[1] - half, centre[1] + half, grid)
    game, _ = spec.make()
    U, V = np.zeros((grid, grid)), np.zeros((grid, grid))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            set_point(game, torch.tensor([x, y], dtype=torch.float64))
            xi = torch.cat([g.detach().reshape(-1).double() for g in eq.Field(game).xi])
            U[i, j], V[i, j] = -float(xi[0]), -float(xi[1])
    names = [n for p in game.players for n in [p] * game.num_parameters(p)]
    cols = min(4, len(runs))
    rows = -(-len(runs) // cols)
    fig = Figure(figsize=(3.1 * cols, 3.1 * rows + 0.4))
    speed = np.hypot(U, V)
    # streamlines integrated once (on a scratch canvas) and drawn in every panel as plain segments
    lines = Figure().add_subplot().streamplot(xs, ys, U, V, density=0.7).lines.get_segments()
    mids = np.array([seg.mean(axis=0) for seg in lines])
    ij = np.clip(np.rint((mids - [xs[0], ys[0]]) / [xs[1] - xs[0], ys[1] - ys[0]]).astype(int), 0, grid - 1)
    shade = speed[ij[:, 1], ij[:, 0]]
    norm = Normalize(-0.4 * float(speed.max()), float(speed.max()))
    ax_, ay_ = np.meshgrid(xs[1::4], ys[1::4])
    au, av = U[1::4, 1::4], V[1::4, 1::4]
    length = np.hypot(au, av) + 1e-300
    for k, r in enumerate(runs):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.add_collection(LineCollection(lines, array=shade, cmap="Greys", norm=norm, linewidths=0.6, zorder=1))
        ax.quiver(ax_, ay_, au / length, av / length, color="0.45", scale=28, width=0.006, zorder=2)
        p = np.asarray(r.points)
        ax.plot(p[:, 0], p[:, 1], lw=1.0, marker=".", ms=2, zorder=3, color=style(r.solver)["color"])
        ax.plot(*start, "o", color="k", ms=5, zorder=4)
        if star is not None:
            ax.plot(*centre, "*", color="red", ms=10, zorder=4)
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(f"{r.solver}: {r.status}{' @ %d' % r.diverged_at if r.diverged_at else ''}", fontsize=9)
        ax.tick_params(labelsize=7)
        if k % cols == 0:
            ax.set_ylabel(names[1], fontsize=8)
        if k >= len(runs) - cols:
            ax.set_xlabel(names[0], fontsize=8)
    fig.suptitle(f"{spec.name}: {len(runs[0].points) - 1} steps at lr {runs[0].lr:g} from the black dot; red star: "
                 "equilibrium; grey: streamlines and arrows of -xi (darker: larger |xi|)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_distances(spec, results: list[RunResult], path) -> Path:
    """Distance (or |xi|) against steps, gradient evaluations and backward passes, log y."""
    runs = [r for r in results if len(r.distances) > 1]
    measure = "distance to the equilibrium" if all(r.measure == "distance" for r in runs) else "|xi|"
    fig = Figure(figsize=(15.0, 4.2))
    axes = [fig.add_subplot(1, 3, k + 1) for k in range(3)]
    low = []
    for r in runs:
        d = np.asarray(r.distances, dtype=float)
        d = np.where(d > 0, d, np.nan)  # zeros leave the log axis
        low.append(np.nanmin(d) if np.isfinite(d).any() else 1.0)
        label = f"{r.solver} ({r.status}{' @ %d' % r.diverged_at if r.diverged_at else ''})"
        for ax, x in zip(axes, [np.arange(len(d)), r.evals, r.backwards]):
            ax.plot(np.asarray(x), d, lw=1.3, label=label, **style(r.solver))
    xlabels = ["step", "gradient evaluations (losses and xi), cumulative",
               "backward passes (xi and Jacobian products), cumulative"]
    for ax, xlabel in zip(axes, xlabels):
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(min(low or [1.0]) / 3, 1e-13))
        ax.axhline(1e-6, color="0.4", lw=0.8, ls=":")
        ax.set_xlabel(xlabel, fontsize=9)
        ax.grid(alpha=0.3, which="major")
    axes[0].set_ylabel(measure)
    lr = runs[0].lr if runs else float("nan")
    axes[0].set_title(f"{spec.name}: {measure} per step (lr {lr:g}; dotted: 1e-6)", fontsize=10)
    axes[1].set_title("... per gradient evaluation", fontsize=10)
    axes[2].set_title("... per backward pass (cost)", fontsize=10)
    _legend(axes[2])
    fig.tight_layout()
    return _save(fig, path)


def plot_scan(scan, path) -> Path:
    """Predicted rho (lines) and measured contraction (markers) against the step size."""
    fig = Figure(figsize=(7.6, 4.6))
    ax = fig.add_subplot()
    shown = []
    for name in list(scan.measured) or list(scan.predicted):
        st = style(name)
        if name in scan.predicted:
            ax.plot(scan.lrs, scan.predicted[name], lw=1.4, color=st["color"], ls=st["ls"], label=name)
        pts = [(lr, c) for lr, c, status in scan.measured.get(name, []) if c is not None]
        if pts:
            lr, c = zip(*pts)
            ax.plot(lr, c, "o", ms=4, color=st["color"], label=None if name in scan.predicted else f"{name} (measured)")
            shown += list(c)
    values = shown + [v for r in scan.predicted.values() for v in r if np.isfinite(v)]
    lo = min(values or [0.5])
    bottom = max(0.0, lo - 0.05)
    ax.axhline(1.0, color="k", lw=0.9, ls=":", zorder=1)
    ax.axhspan(bottom, 1.0, color="tab:green", alpha=0.06)
    ax.set_xscale("log")
    ax.set_ylim(bottom, 1.5)
    ax.set_xlabel("step size lr")
    ax.set_ylabel("contraction per step")
    ax.set_title(f"{scan.game}: step-size scan\nlines: rho predicted at the {scan.predicted_at}; dots: measured "
                 "contraction; green: converges", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    _legend(ax)
    return _save(fig, path)


def plot_jacobian_eigenvalues(spec, star, path) -> Path:
    """Eigenvalues of J at the equilibrium (at the start point when the game has none)."""
    game, _ = spec.make()
    where = "equilibrium"
    if star is not None:
        set_point(game, star)
    else:
        where = "start point"
    d = game.num_parameters()
    if d <= DENSE_MAX:
        values, which = dg.eigenvalues(game), "eigenvalues"
    else:  # matrix-free: the 6 of largest magnitude (Arnoldi)
        values, which = dg.eigenvalues(game, k=6), f"top-6 of {d} eigenvalues"
    return dg.plot_eigenvalues(values, path, title=f"{spec.name}: {which} of J at the {where}")
