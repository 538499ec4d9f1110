"""The report's figures, one set per game (matplotlib's Agg canvas; pyplot's global state untouched).

- :func:`plot_trajectories` (2-parameter games): the field -xi (the direction gradient play
  moves) as streamlines, coloured by |xi|, with every solver's iterates from the start.
- :func:`plot_distances`: distance to the equilibrium (or |xi|) against steps and against
  gradient evaluations, log scale.
- :func:`plot_scan`: predicted spectral radius (lines) and measured contraction (markers)
  against the step size, log-log, with rho = 1 marked.
- :func:`plot_jacobian_eigenvalues`: eigenvalues of the game Jacobian J in the complex plane
  (``equilib.diagnostics.plot_eigenvalues``).

Each solver keeps one colour in every figure. Each function writes a PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import equilib as eq
from equilib import diagnostics as dg
from equilib.compare.run import RunResult, set_point

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
    fig = Figure(figsize=(7.6, 5.6))
    ax = fig.add_subplot()
    speed = np.hypot(U, V)
    ax.streamplot(xs, ys, U, V, color=speed, cmap="Greys", density=1.0, linewidth=0.7, arrowsize=0.8, zorder=1)
    for r in runs:
        p = np.asarray(r.points)
        label = f"{r.solver} ({r.status}{' @ %d' % r.diverged_at if r.diverged_at else ''})"
        ax.plot(p[:, 0], p[:, 1], lw=1.2, marker=".", ms=2, label=label, zorder=3, **style(r.solver))
    ax.plot(*start, "o", color="k", ms=6, zorder=4, label="start")
    if star is not None:
        ax.plot(*centre, "*", color="red", ms=13, zorder=4, label="equilibrium")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"{names[0]} (minimizes its loss)")
    ax.set_ylabel(f"{names[1]}")
    ax.set_title(f"{spec.name}: iterates over the field -xi (grey: |xi|), lr {runs[0].lr:g}", fontsize=10)
    _legend(ax)
    return _save(fig, path)


def plot_distances(spec, results: list[RunResult], path) -> Path:
    """Distance (or |xi|) against steps and against gradient evaluations, log y."""
    runs = [r for r in results if len(r.distances) > 1]
    measure = "distance to the equilibrium" if all(r.measure == "distance" for r in runs) else "|xi|"
    fig = Figure(figsize=(11.0, 4.2))
    axes = [fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)]
    for r in runs:
        d = np.asarray(r.distances, dtype=float)
        d = np.where(d > 0, d, np.nan)  # zeros leave the log axis
        label = f"{r.solver} ({r.status}{' @ %d' % r.diverged_at if r.diverged_at else ''})"
        axes[0].plot(np.arange(len(d)), d, lw=1.3, label=label, **style(r.solver))
        axes[1].plot(np.asarray(r.evals), d, lw=1.3, label=label, **style(r.solver))
    for ax, xlabel in zip(axes, ["step", "gradient evaluations (cumulative)"]):
        ax.set_yscale("log")
        ax.axhline(1e-6, color="0.4", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(measure)
        ax.grid(alpha=0.3, which="major")
    lr = runs[0].lr if runs else float("nan")
    axes[0].set_title(f"{spec.name}: {measure} per step (lr {lr:g}; dotted: 1e-6)", fontsize=10)
    axes[1].set_title("... per gradient evaluation (cost)", fontsize=10)
    _legend(axes[1])
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
    lo = min([v for v in values if v > 0] or [0.5])
    ax.axhline(1.0, color="k", lw=0.9, ls=":", zorder=1)
    ax.axhspan(max(lo * 0.9, 1e-3), 1.0, color="tab:green", alpha=0.06)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(max(lo * 0.9, 1e-3), 2.0)
    ax.set_xlabel("step size lr")
    ax.set_ylabel("contraction per step")
    ax.set_title(f"{scan.game}: predicted rho at the {scan.predicted_at} (lines), measured (dots); "
                 "green: converges", fontsize=9)
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
    values = dg.eigenvalues(game)
    return dg.plot_eigenvalues(values, path, title=f"{spec.name}: eigenvalues of J at the {where}")
