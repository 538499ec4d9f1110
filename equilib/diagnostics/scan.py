"""Predicted contraction factor as a function of the step size, per solver, without running them.

For each solver and each step size eta (all players, or eta times a per-player ratio), the
spectral radius of the solver's update map M(eta) (see :mod:`equilib.diagnostics.update_maps`)
is computed from second-order information taken once at the current point: the dense J (and
the players' Hessians for unrolled and lola). rho < 1 means the solver converges locally at
that step size, with rho the factor per step.

From a spectrum alone (e.g. the top eigenvalues of a network's J), the maps of simgd,
extragradient and optimistic are polynomials in J, so their eigenvalues are functions of
J's eigenvalues mu (Gidel et al. 2019):
    simgd 1 - eta mu;  extragradient 1 - eta mu + eta^2 mu^2;
    optimistic the roots of lambda^2 - (1 - 2 eta mu) lambda - eta mu = 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from equilib.diagnostics.errors import DiagnosticsError
from equilib.diagnostics.jacobian import dense_size_check
from equilib.diagnostics.products import Products
from equilib.diagnostics.update_maps import map_for, map_radius, map_size
from equilib.game import Game
from equilib.solvers import SOLVERS, make_solver

__all__ = ["step_size_scan", "ScanResult", "SPECTRAL_SOLVERS", "spectral_rho"]

SPECTRAL_SOLVERS = ("simgd", "extragradient", "optimistic")


@dataclass
class ScanResult:
    """``rho[label]`` is the predicted contraction factor at each of ``etas``."""

    etas: np.ndarray
    rho: dict[str, np.ndarray] = field(default_factory=dict)

    def best(self, label: str) -> tuple[float, float]:
        """(eta, rho) with the smallest predicted contraction factor for ``label``."""
        if label not in self.rho:
            raise DiagnosticsError(f"unknown solver label {label!r}; scanned: {list(self.rho)}")
        i = int(np.argmin(self.rho[label]))
        return float(self.etas[i]), float(self.rho[label][i])

    def converging(self, label: str, margin: float = 1e-9) -> np.ndarray:
        """The scanned step sizes at which ``label`` is predicted to converge (rho < 1 - margin;
        the margin keeps rho = 1 up to rounding, e.g. altgd's cycles, out)."""
        if label not in self.rho:
            raise DiagnosticsError(f"unknown solver label {label!r}; scanned: {list(self.rho)}")
        return self.etas[self.rho[label] < 1.0 - margin]

    def rows(self) -> list[dict]:
        """One dict per step size: ``{"eta": ..., label: rho, ...}`` (for CSV)."""
        return [{"eta": float(e), **{k: float(v[i]) for k, v in self.rho.items()}} for i, e in enumerate(self.etas)]


def _specs(solvers) -> list[tuple[str, str, dict]]:
    if isinstance(solvers, str):
        solvers = [solvers]
    out = []
    for spec in solvers:
        if isinstance(spec, str):
            name, options = spec, {}
        elif isinstance(spec, Sequence) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], Mapping):
            name, options = spec[0], dict(spec[1])
        else:
            raise DiagnosticsError(f"each solver must be a name or a (name, options) pair, got {spec!r}")
        if name.lower() not in SOLVERS:
            raise DiagnosticsError(f"unknown solver {name!r}; known solvers: {sorted(SOLVERS)}")
        label = name.lower() + ("(" + ", ".join(f"{k}={v}" for k, v in options.items()) + ")" if options else "")
        out.append((label, name.lower(), options))
    return out


def _etas(etas) -> np.ndarray:
    arr = np.asarray(list(etas) if isinstance(etas, Iterable) else [etas], dtype=np.float64)
    if arr.ndim != 1 or len(arr) == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise DiagnosticsError(f"etas must be a non-empty list of finite step sizes > 0, got {etas!r}")
    return arr


def spectral_rho(name: str, mu: np.ndarray, eta: float) -> float:
    """rho of simgd / extragradient / optimistic with scalar step eta, from J's eigenvalues mu."""
    z = eta * mu
    if name == "simgd":
        return float(np.abs(1 - z).max())
    if name == "extragradient":
        return float(np.abs(1 - z + z * z).max())
    if name == "optimistic":
        root = np.sqrt((1 - 2 * z) ** 2 + 4 * z + 0j)
        return float(np.maximum(np.abs((1 - 2 * z + root) / 2), np.abs((1 - 2 * z - root) / 2)).max())
    raise DiagnosticsError(
        f"solver {name!r} cannot be scanned from eigenvalues alone; from a spectrum: {list(SPECTRAL_SOLVERS)} "
        "(pass the game instead for every solver)")


def step_size_scan(game_or_eigenvalues: Game | Tensor, solvers, etas, *args, ratios: Mapping[str, float] | None = None,
                   eval_mode: bool = False, max_bytes: int | None = None) -> ScanResult:
    """Predicted contraction factor rho(eta) of each solver at the current point.

    Args:
        game_or_eigenvalues: a game (every solver; dense second-order information, so a
            game of up to a few thousand parameters) or a complex tensor of J's eigenvalues
            (simgd, extragradient, optimistic; e.g. from ``eigenvalues(game, k=20)`` on a
            network, in which case rho is over those eigenvalues only).
        solvers: names, or ``(name, options)`` pairs such as ``("consensus", {"gamma": 0.5})``.
        etas: the step sizes to scan.
        args: the losses' arguments (a fixed batch).
        ratios: per-player multipliers (player i uses eta * ratios[i]); default 1 for all.
    """
    specs = _specs(solvers)
    grid = _etas(etas)
    result = ScanResult(grid)
    if isinstance(game_or_eigenvalues, Tensor):
        mu = game_or_eigenvalues.detach().to(torch.complex128).cpu().numpy().reshape(-1)
        if ratios is not None:
            raise DiagnosticsError("ratios need the game; a spectrum-only scan uses one step size for all players")
        for label, name, options in specs:
            if options:
                raise DiagnosticsError(f"solver {label!r}: options need the game, not a spectrum")
            result.rho[label] = np.array([spectral_rho(name, mu, e) for e in grid])
        return result
    if not isinstance(game_or_eigenvalues, Game):
        raise DiagnosticsError("step_size_scan takes an equilib.Game or a complex tensor of eigenvalues, "
                               f"got {type(game_or_eigenvalues).__name__}")
    game = game_or_eigenvalues
    ratio = {p: 1.0 for p in game.players} if ratios is None else dict(ratios)
    if set(ratio) != set(game.players):
        raise DiagnosticsError(f"ratios must name every player {list(game.players)}, got {sorted(ratio)}")

    def solver_at(name: str, options: dict, e: float):
        return make_solver(name, game, lr={p: e * ratio[p] for p in game.players}, **options)

    sizes = [map_size(solver_at(name, options, grid[0])) for _, name, options in specs]
    dense_size_check(game, max(sizes), max_bytes, "dense update map for the step-size scan")
    P = Products(game, args, dense=True, eval_mode=eval_mode)
    for label, name, options in specs:
        result.rho[label] = np.array([map_radius(*map_for(solver_at(name, options, e), P), dense=True)
                                      for e in grid])
    return result
