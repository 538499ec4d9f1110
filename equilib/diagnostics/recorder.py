"""A training-loop recorder: the game's spectrum and the solver's contraction every N steps.

    recorder = Recorder(every=100, k=6)
    for step in range(steps):
        solver.step(batch)
        recorder(step, solver, batch)
    recorder.to_csv("spectrum.csv")

Each record (a dict) holds the step, the top-k eigenvalues of J (by ``which``), the spectral
radius of the solver's update map (when its base is plain SGD), the norm of each player's
gradient block |xi_i|, the distance |theta - theta_prev| moved since the previous record and,
with ``path_angle_points``, the path-angle of Berard et al. 2020: the cosine between
xi(theta_prev + alpha (theta - theta_prev)) and the direction theta - theta_prev at alphas in
[-0.1, 1.1]. Everything is computed from one Field at the current point, with buffers and
train/eval modes restored.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from equilib import vec
from equilib.diagnostics.errors import DiagnosticsError
from equilib.diagnostics.jacobian import preserved
from equilib.diagnostics.products import Products
from equilib.diagnostics.spectrum import arnoldi_jacobian, check_k, check_which, \
    jacobian_operator, sort_eigenvalues
from equilib.diagnostics.update_maps import DENSE_AUTO_LIMIT, check_solver, map_for, map_radius
from equilib.field import Field
from equilib.solvers.base import Solver

__all__ = ["Recorder", "path_angle"]


def path_angle(game, before: list[torch.Tensor], after: list[torch.Tensor], *args, points: int = 100,
               lo: float = -0.1, hi: float = 1.1) -> tuple[np.ndarray, np.ndarray]:
    """Berard et al. 2020: cos angle between xi(theta_alpha) and theta' - theta along theta_alpha = theta + alpha (theta' - theta).

    Returns (alphas, cosines). A cosine near 0 around alpha = 1 with a sign change means a rotation
    around the end point; near +1 a descent-like straight path.
    """
    direction = [a.detach() - b.detach() for a, b in zip(after, before)]
    dnorm = float(vec.norm(direction))
    alphas = np.linspace(lo, hi, points)
    cos = np.zeros(points)
    if dnorm == 0.0:
        return alphas, cos
    with preserved(game):
        for i, a in enumerate(alphas):
            point = [b.detach() + float(a) * d for b, d in zip(before, direction)]
            xi = vec.detach(Field(game, args, tensors=point).xi)
            n = float(vec.norm(xi))
            cos[i] = float(vec.dot(xi, direction)) / (n * dnorm) if n > 0 else 0.0
    return alphas, cos


class Recorder:
    """Record spectral diagnostics every ``every`` steps of a training loop.

    Args:
        every: record when ``step % every == 0`` (default 10000). A record (top-6 eigenvalues
            and the spectral radius at tol 1e-3: 30-70 Jacobian-vector products, as many as
            ARPACK needs at that point) costs about as much as 100-200 training steps of the
            ring MLP game, so the default adds 1-2% (docs/performance.md has the measured
            figure); pass a smaller ``every`` for denser records at their price.
        k: how many eigenvalues of J to keep (selected by ``which``).
        which: LM, LR, SR, LI or SI.
        spectral_radius: also the update map's spectral radius (needs the SGD base without
            momentum); ``None`` records it when the solver allows and leaves it out otherwise.
        dense: dense or matrix-free (Arnoldi); ``None``: dense for games of at most 2,000 parameters.
        path_angle_points: 0 (off) or the number of alphas for the path-angle (Berard et al. use 100).
        tol, maxiter, ncv: for Arnoldi (default tol 1e-3: eigenvalues to about three digits,
            half the Jacobian products of 1e-6).
        eval_mode: compute with module players in eval mode.
    """

    def __init__(self, every: int = 10000, k: int = 6, which: str = "LM", spectral_radius: bool | None = None,
                 dense: bool | None = None, path_angle_points: int = 0, tol: float = 1e-3,
                 maxiter: int | None = None, ncv: int | None = None, eval_mode: bool = False):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise DiagnosticsError(f"every must be an integer >= 1, got {every!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise DiagnosticsError(f"k must be an integer >= 1, got {k!r}")
        if isinstance(path_angle_points, bool) or not isinstance(path_angle_points, int) or path_angle_points < 0:
            raise DiagnosticsError(f"path_angle_points must be an integer >= 0, got {path_angle_points!r}")
        self.every, self.k, self.which = every, k, check_which(which)
        self.want_radius, self.dense, self.points = spectral_radius, dense, path_angle_points
        self.tol, self.maxiter, self.ncv, self.eval_mode = tol, maxiter, ncv, eval_mode
        self.rows: list[dict] = []
        self._previous: list[torch.Tensor] | None = None

    def __call__(self, step: int, solver: Solver, *args) -> dict | None:
        """Record at this step if it is due; returns the record (or None)."""
        if step % self.every:
            return None
        return self.record(step, solver, *args)

    def record(self, step: int, solver: Solver, *args) -> dict:
        """Record now."""
        if not isinstance(solver, Solver):
            raise DiagnosticsError(f"expected an equilib solver, got {type(solver).__name__}")
        start = time.perf_counter()
        game = solver.game
        d = game.num_parameters()
        dense = d <= DENSE_AUTO_LIMIT if self.dense is None else self.dense
        radius_ok = True
        try:
            check_solver(solver)
        except DiagnosticsError:
            if self.want_radius:
                raise
            radius_ok = False
        P = Products(game, args, dense=dense, eval_mode=self.eval_mode)
        row: dict = {"step": int(step)}
        for name, lo, hi in P.ranges:
            row[f"grad_norm_{name}"] = float(P.xi[lo:hi].norm())
        k = self.k
        if dense:
            ev = sort_eigenvalues(torch.linalg.eigvals(P.matrix), self.which)[:k]
            matvecs = 0
        else:
            k = check_k(k, d)
            op = jacobian_operator(P.field)
            ev = sort_eigenvalues(torch.from_numpy(np.asarray(
                arnoldi_jacobian(op, k, self.which, self.tol, self.maxiter, self.ncv))), self.which)
            matvecs = op.matvecs
        row["eigenvalues"] = [complex(z) for z in ev.tolist()]
        if radius_ok and self.want_radius is not False:
            n, apply = map_for(solver, P)
            row["spectral_radius"] = map_radius(n, apply, dense, 2, self.tol, self.maxiter, self.ncv)
        now = [t.detach().clone() for t in game.parameters()]
        if self._previous is not None:
            row["distance"] = float(vec.norm([a - b for a, b in zip(now, self._previous)]))
            if self.points:
                _, cos = path_angle(game, self._previous, now, *args, points=self.points)
                row["path_angle"] = [float(c) for c in cos]
        else:
            row["distance"] = 0.0
        self._previous = now
        row["products"] = P.calls + matvecs
        row["seconds"] = time.perf_counter() - start
        self.rows.append(row)
        return row

    # ---- output --------------------------------------------------------------
    def trajectory(self) -> dict:
        """Arrays for plotting: steps, eigenvalues (rows x k, complex, NaN-padded), spectral radius."""
        steps = np.array([r["step"] for r in self.rows])
        k = max((len(r["eigenvalues"]) for r in self.rows), default=0)
        ev = np.full((len(self.rows), k), np.nan + 0j)
        for i, r in enumerate(self.rows):
            ev[i, :len(r["eigenvalues"])] = r["eigenvalues"]
        radius = np.array([r.get("spectral_radius", math.nan) for r in self.rows])
        return {"steps": steps, "eigenvalues": ev, "spectral_radius": radius}

    @staticmethod
    def _flat(row: dict) -> dict:
        out = {}
        for key, value in row.items():
            if key == "eigenvalues":
                for i, z in enumerate(value):
                    out[f"eig{i}_re"], out[f"eig{i}_im"] = z.real, z.imag
            elif key == "path_angle":
                for i, c in enumerate(value):
                    out[f"path_angle{i}"] = c
            else:
                out[key] = value
        return out

    def to_csv(self, path) -> Path:
        """One line per record; eigenvalues as eig{i}_re, eig{i}_im columns."""
        path = Path(path)
        flat = [self._flat(r) for r in self.rows]
        fields: list[str] = []
        for r in flat:
            fields += [f for f in r if f not in fields]
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(flat)
        return path

    def to_jsonl(self, path) -> Path:
        """One JSON object per line; eigenvalues as [re, im] pairs."""
        path = Path(path)
        with path.open("w") as fh:
            for r in self.rows:
                out = dict(r)
                out["eigenvalues"] = [[z.real, z.imag] for z in r["eigenvalues"]]
                fh.write(json.dumps(out) + "\n")
        return path
