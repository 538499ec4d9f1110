"""Step-size scans: measured contraction from short runs beside the predicted spectral radius.

For one game and a grid of step sizes, :func:`scan_game` computes

- predicted: rho of each solver's one-step map at the equilibrium (at the start point when
  the game has none) for every step size, by ``equilib.diagnostics.step_size_scan`` (dense
  second-order information taken once, then one small eigenvalue problem per step size);
- measured: the contraction per step of a run of ``steps`` steps at each of ``measured_lrs``
  (see :func:`equilib.compare.run.measured_contraction`), with the run's outcome.

``parse_scan("0.01:1:30")`` is 30 log-spaced step sizes from 0.01 to 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

import equilib as eq
from equilib import diagnostics as dg
from equilib.compare.games import CompareError
from equilib.compare.run import run_one, set_point

__all__ = ["GameScan", "scan_game", "parse_scan", "coarse_grid"]


@dataclass
class GameScan:
    """``predicted[solver]``: rho at each of ``lrs``; ``measured[solver]``: [(lr, contraction, status)]."""

    game: str
    lrs: np.ndarray
    predicted_at: str
    predicted: dict[str, np.ndarray] = field(default_factory=dict)
    measured: dict[str, list[tuple[float, float | None, str]]] = field(default_factory=dict)

    def best(self, solver: str) -> float | None:
        """The measured step size with the smallest contraction (None if nothing was measured)."""
        runs = [(c, lr) for lr, c, status in self.measured.get(solver, [])
                if c is not None and status not in ("diverged", "n/a", "error")]
        return min(runs)[1] if runs else None

    def rows(self) -> list[dict]:
        """One row per (solver, lr): predicted rho, and measured contraction and outcome where run."""
        out = []
        order = list(self.measured) + [s for s in self.predicted if s not in self.measured]
        for solver in order:
            measured = {lr: (c, s) for lr, c, s in self.measured.get(solver, [])}
            lrs = sorted(set(map(float, self.lrs)) | set(measured))
            pred = dict(zip(map(float, self.lrs), self.predicted.get(solver, [])))
            for lr in lrs:
                c, s = measured.get(lr, (None, ""))
                out.append({"game": self.game, "solver": solver, "lr": lr, "predicted": pred.get(lr),
                            "measured": c, "status": s})
        return out


def parse_scan(text: str) -> np.ndarray:
    """``lo:hi:n`` -> n log-spaced step sizes from lo to hi (inclusive)."""
    parts = text.split(":")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise CompareError(f"--lr-scan {text!r}: expected lo:hi:n, e.g. 0.01:1:30") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi) or not 2 <= n <= 200:
        raise CompareError(f"--lr-scan {text!r}: needs 0 < lo < hi (finite) and 2 <= n <= 200")
    return np.geomspace(lo, hi, n)


def coarse_grid(lr: float) -> tuple[np.ndarray, np.ndarray]:
    """The default scan around ``lr``: 17 predicted step sizes from lr/10 to 10 lr (at most 2),
    measured at 5 of them."""
    lo, hi = lr / 10, min(10 * lr, 2.0)
    lo = min(lo, hi / 10)
    return np.geomspace(lo, hi, 17), np.geomspace(lo, hi, 5)


def scan_game(spec, solvers: list[str], lrs: np.ndarray, measured_lrs: np.ndarray, steps: int, bound: float,
              on_run=None) -> GameScan:
    """Predicted rho on ``lrs`` and measured contraction on ``measured_lrs`` for every solver."""
    game, star = spec.make()
    scan = GameScan(spec.name, np.asarray(lrs, dtype=float), "equilibrium" if star is not None else "start point")
    if star is not None:
        set_point(game, star)
    for name in solvers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scan.predicted[name] = dg.step_size_scan(game, [name], scan.lrs).rho[name]
        except (eq.SolverError, eq.GameError, dg.DiagnosticsError):
            continue  # the solver does not apply to this game (cgd on 3 players), or it has no map: no line
    for name in solvers:
        scan.measured[name] = []
        for lr in measured_lrs:
            r = run_one(spec, name, float(lr), steps, bound=bound, predict=False, keep_points=False)
            scan.measured[name].append((float(lr), r.contraction, r.status))
            if on_run is not None:
                on_run()
    return scan
