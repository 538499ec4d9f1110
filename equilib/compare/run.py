"""One solver on one game: the distance after every step, its cost, and what the diagnostics predict.

Per run (:func:`run_one`) this records, after every step t, the distance d_t to the
equilibrium (or |xi(theta_t)| when the game has none), the cumulative number of gradient
evaluations and of backward passes, and the wall time of the steps alone. Costs are counted,
not assumed: a *gradient evaluation* is one evaluation of the game's losses (a call of the
game's ``evaluate``, which every Field makes once, followed by the gradients xi of it), and a
*backward pass* is one call of ``torch.autograd.grad`` (xi of a zero-sum pair is one, of an
n-player general-sum game n; every Jacobian product is one more).

The outcome, in this order:

- ``diverged`` at step t: a NaN/Inf (``eq.NonFiniteError``), or d_t above ``bound`` times
  max(d_0, 1); the run stops there.
- ``converged``: the final distance is at most ``tol`` (1e-6).
- ``stalled``: the last move is below 1e-12 but the distance is not: a fixed point of the
  solver that is not the equilibrium (LOLA on general-sum games).
- ``converging`` / ``diverging`` / ``bounded``: measured contraction below 1 - 1e-4, above
  1 + 1e-4, or in between.

The measured contraction per step is (d_t2 / d_t1)^(1 / (t2 - t1)) with t2 the last step
before the distance first falls to the floor (1e-9 in float64, 1e3 machine epsilons in lower
precision: below it round-off and solver tolerances, not the rate, drive it) and t1 = t2 // 2:
the geometric mean factor over the second half of the informative part of the run. The predicted one is the
spectral radius of the solver's one-step map at the equilibrium
(``equilib.diagnostics.spectral_radius``), or at the final point when the game has no
equilibrium and the run converged there; only for games of at most DENSE_MAX parameters.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

import equilib as eq
from equilib import diagnostics as dg

__all__ = ["RunResult", "run_one", "measured_contraction", "predicted_radius", "counting", "set_point"]

DENSE_MAX = 2000  # predictions (dense update maps) for games up to this many parameters
FLOOR = 1e-9  # float64 distances below this are round-off or solver tolerance (cgd's Krylov solve), not rate


@dataclass
class RunResult:
    """Everything the table and the figures need about one (game, solver, lr) run."""

    game: str
    solver: str
    lr: float
    measure: str  # "distance" or "|xi|"
    status: str = "n/a"
    diverged_at: int | None = None
    distances: list[float] = field(default_factory=list)  # d_0 .. d_T
    evals: list[int] = field(default_factory=list)  # cumulative gradient evaluations after each step (0 first)
    backwards: list[int] = field(default_factory=list)  # cumulative backward passes after each step (0 first)
    points: list[list[float]] = field(default_factory=list)  # theta_t, for 2-parameter games only
    steps_done: int = 0
    seconds: float = 0.0
    backward: int = 0
    contraction: float | None = None
    predicted: float | None = None
    predicted_at: str = ""
    note: str = ""

    @property
    def final(self) -> float | None:
        return self.distances[-1] if self.distances else None

    @property
    def steps_to_tol(self) -> int | None:
        """First step with distance <= 1e-6 (None if never)."""
        for t, d in enumerate(self.distances):
            if d <= 1e-6:
                return t
        return None

    def per_step(self, total: float) -> float | None:
        return total / self.steps_done if self.steps_done else None


@contextmanager
def counting(game: eq.Game, counter: dict):
    """Count, while inside, calls of ``game.evaluate`` (gradient evaluations) and of
    ``torch.autograd.grad`` (backward passes) into ``counter["evals"]`` / ``counter["backward"]``."""
    original_evaluate, original_grad = game.evaluate, torch.autograd.grad

    def evaluate(*args, **kwargs):
        counter["evals"] += 1
        return original_evaluate(*args, **kwargs)

    def grad(*args, **kwargs):
        counter["backward"] += 1
        return original_grad(*args, **kwargs)

    game.evaluate, torch.autograd.grad = evaluate, grad
    try:
        yield counter
    finally:
        torch.autograd.grad = original_grad
        del game.evaluate  # the instance attribute; the class method shows through again


def flat(game: eq.Game) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).to(torch.float64).cpu() for t in game.parameters()])


def set_point(game: eq.Game, point: torch.Tensor) -> None:
    """Copy the flat vector ``point`` into the game's parameters."""
    i = 0
    with torch.no_grad():
        for t in game.parameters():
            n = t.numel()
            t.copy_(point[i:i + n].reshape(t.shape).to(t.dtype))
            i += n


def xi_norm(game: eq.Game) -> float:
    f = eq.Field(game)
    return float(torch.sqrt(sum((g.detach().to(torch.float64) ** 2).sum() for g in f.xi)))


def distance(game: eq.Game, star: torch.Tensor | None) -> float:
    return float(torch.linalg.vector_norm(flat(game) - star)) if star is not None else xi_norm(game)


def measured_contraction(distances: list[float], floor: float = FLOOR) -> float | None:
    """(d_t2 / d_t1)^(1/(t2 - t1)), t2 the last step before d first falls to ``floor``, t1 = t2 // 2."""
    d = np.asarray(distances, dtype=float)
    bad = np.nonzero(~np.isfinite(d))[0]
    d = d[:bad[0]] if len(bad) else d  # up to the first NaN/Inf
    if len(d) < 2 or not d[0] > floor:
        return None
    below = np.nonzero(d <= floor)[0]
    t2 = int(below[0]) - 1 if len(below) else len(d) - 1
    if t2 + 1 < len(d) and t2 < 2:  # fell below the floor within two steps: use that step
        t2 += 1
    t2 = max(t2, 1)
    t1 = t2 // 2
    return float((d[t2] / d[t1]) ** (1.0 / (t2 - t1))) if d[t2] > 0 else 0.0


def predicted_radius(spec_game: eq.Game, solver_name: str, lr: float, point: torch.Tensor | None) -> float | None:
    """rho of the solver's one-step map at ``point`` (dense, SGD base); None if not available."""
    if point is None:
        return None
    set_point(spec_game, point)
    solver = eq.make_solver(solver_name, spec_game, lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(dg.spectral_radius(solver))


def _outcome(r: RunResult, tol: float, last_move: float) -> str:
    if r.diverged_at is not None:
        return "diverged"
    if r.final is not None and r.final <= tol:
        return "converged"
    if last_move < 1e-12:
        return "stalled"
    c = r.contraction
    if c is None:
        return "bounded"
    return "converging" if c < 1 - 1e-4 else ("diverging" if c > 1 + 1e-4 else "bounded")


def run_one(spec, solver_name: str, lr: float, steps: int, bound: float = 1e3, tol: float = 1e-6,
            predict: bool = True, keep_points: bool = True) -> RunResult:
    """Run ``solver_name`` at step size ``lr`` for ``steps`` steps on a fresh game from ``spec``."""
    game, star = spec.make()
    r = RunResult(spec.name, solver_name, lr, "distance" if star is not None else "|xi|")
    try:
        solver = eq.make_solver(solver_name, game, lr=lr)
    except eq.SolverError as exc:
        r.status, r.note = "n/a", str(exc).split(";")[0]
        return r
    two_d = keep_points and game.num_parameters() == 2
    d0 = distance(game, star)
    r.distances, r.evals, r.backwards = [d0], [0], [0]
    if two_d:
        r.points.append(flat(game).tolist())
    limit = bound * max(d0, 1.0)
    counter = {"evals": 0, "backward": 0}
    before = flat(game)
    last_move = math.inf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for t in range(1, steps + 1):
            try:
                with counting(game, counter):
                    start = time.perf_counter()
                    solver.step()
                    r.seconds += time.perf_counter() - start
            except eq.NonFiniteError as exc:
                r.diverged_at, r.note = t, f"non-finite {exc.what} ({exc.player})"
                break
            except Exception as exc:  # a user's game failing mid-run: reported, not a crash
                r.status, r.note = "error", f"step {t}: {type(exc).__name__}: {exc}"[:160]
                r.steps_done = t - 1
                return r
            r.steps_done = t
            now = flat(game)
            last_move, before = float(torch.linalg.vector_norm(now - before)), now
            d = distance(game, star)
            r.distances.append(d)
            r.evals.append(counter["evals"])
            r.backwards.append(counter["backward"])
            if two_d:
                r.points.append(now.tolist())
            if not math.isfinite(d) or d > limit:
                r.diverged_at = t
                r.note = r.note or f"distance {d:.3g} > {bound:g} x max(start, 1)"
                break
    kinds = sorted({type(w.message).__name__ for w in caught})
    if kinds:
        r.note = "; ".join(filter(None, [r.note, "warned: " + ", ".join(kinds)]))
    r.backward = r.backwards[-1]  # completed steps only (a failed step is not counted)
    eps = max(torch.finfo(t.dtype).eps for t in game.parameters())
    r.contraction = measured_contraction(r.distances, max(FLOOR, 1e3 * eps))
    r.status = _outcome(r, tol, last_move)
    if predict and game.num_parameters() > DENSE_MAX:
        r.note = "; ".join(filter(None, [r.note, f"no prediction ({game.num_parameters()} parameters > {DENSE_MAX})"]))
    elif predict:
        point, r.predicted_at = (star, "equilibrium") if star is not None else \
            ((flat(game), "final point") if r.status == "converged" else (None, ""))
        try:
            r.predicted = predicted_radius(spec.make()[0], solver_name, lr, point)
        except Exception as exc:  # a solver without an update map, a game the dense diagnostics refuse
            r.predicted, r.predicted_at = None, ""
            reason = re.split(r"[;:] ", str(exc))[0]
            r.note = "; ".join(filter(None, [r.note, f"no prediction ({type(exc).__name__}: {reason})"[:120]]))
    return r
