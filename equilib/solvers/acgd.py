"""Adaptive competitive gradient descent (Schaefer, Zheng and Anandkumar 2020)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from equilib import vec
from equilib.errors import SolverError
from equilib.optim import SGD, optimizer_class
from equilib.solvers.base import Solver, check_number
from equilib.solvers.cgd import check_krylov_options, bilinear_nash

__all__ = ["ACGD"]


class ACGD(Solver):
    """Adaptive CGD (Schaefer, Zheng and Anandkumar 2020, "Implicit competitive regularization
    in GANs", ICML), two players x, y.

    RMSProp-style running averages of the squared gradients, bias-corrected, give
    per-coordinate steps; the step is CGD's local bilinear game with those steps
    (:func:`~equilib.solvers.cgd.bilinear_nash`), at step t:
      v_i <- beta v_i + (1 - beta) xi_i^2,   E_i = eta_i sqrt(1 - beta^t) / (sqrt(v_i) + eps)  (diagonal),
      (I - E_x J_xy E_y J_yx) dx = -E_x (xi_x - J_xy E_y xi_y),   dy = -E_y (xi_y + J_yx dx).
    In a ZeroSumGame the solve is conjugate gradient for z = E_x^-1/2 dx on
    (I + E_x^1/2 J_xy E_y J_xy^T E_x^1/2) z = -E_x^1/2 (xi_x - J_xy E_y xi_y), symmetric
    positive definite (the sign of the max player's gradient makes J_yx = -J_xy^T);
    ``tol``/``atol`` bound the residual of that system, as in the CGDs package, whose
    ACGD(tol=T, atol=A) (squared norms) is tol=sqrt(T), atol=sqrt(A) here; the
    defaults are the package's (beta 0.99, eps 1e-5, T 1e-12, A 1e-20). General-sum
    games: GMRES on the unscaled system (the package's GACGD runs GMRES on the joint
    (dx, dy) system instead). Warm start: the previous step's dx. t counts the steps taken
    (a step dropped by ``on_nonfinite`` leaves v and t as they were).

    Differences from CGDs' ACGD (same update; the solves differ within their tolerance):
    the package alternates the player it solves for (the max player on odd steps, the
    min player on even ones) and warm-starts from the previous scaled solution (scaled
    with the previous step's preconditioner); equilib always solves for the first
    player and warm-starts from the previous dx, rescaled by this step's E_x^-1/2.
    The package caps CG at the number of parameters; here ``max_iter`` (then a
    :class:`~equilib.solvers.cgd.KrylovWarning`, once).

    The move (dx, dy) is handed to the base optimizer as d = -(dx / eta_x, dy / eta_y),
    so the SGD base (the only one allowed: the steps are already adaptive; momentum is
    allowed) moves by exactly (dx, dy). ``last_info`` holds the last solve's figures.
    """

    name = "acgd"
    second_order = True
    no_update_map = ("its per-coordinate steps are state (running averages v of squared gradients) that keeps "
                     "changing even at an equilibrium, where v decays by beta per step and the steps grow towards "
                     "lr/eps, so no fixed one-step map predicts its convergence; cgd (per-player lr) has one")
    defaults = {"beta": 0.99, "eps": 1e-5, "tol": 1e-6, "atol": 1e-10, "max_iter": 100, "warm_start": True}

    def __init__(self, game, lr, optimizer: Any = None, optimizer_options=None, **options: Any):
        cls = optimizer_class(optimizer)
        if not issubclass(cls, (SGD, torch.optim.SGD)):
            raise SolverError(f"acgd needs the SGD base (optimizer=None or 'sgd', momentum allowed), got "
                              f"{cls.__name__}: acgd's per-coordinate steps are already adaptive")
        super().__init__(game, lr, optimizer, optimizer_options, **options)

    def _check_options(self):
        check_krylov_options(self)
        check_number("beta", self.options["beta"], above=0, below=1)
        check_number("eps", self.options["eps"], above=0)
        self.averages: dict[str, Tensor] | None = None  # v per player, flat
        self.count = 0  # steps taken into the averages (the bias correction's t)

    def step_sizes(self, xi: list[Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """(averages, per-coordinate steps E_i) for the next step with simultaneous gradient ``xi``."""
        beta, eps = self.options["beta"], self.options["eps"]
        correction = math.sqrt(1.0 - beta ** (self.count + 1))
        averages, steps = {}, {}
        for p in self.game.players:
            g = vec.flatten(vec.detach(xi[self.game.slice(p)]))
            old = torch.zeros_like(g) if self.averages is None else self.averages[p]
            averages[p] = torch.addcmul(old * beta, g, g, value=1.0 - beta)
            steps[p] = (correction * self.lr[p]) / (averages[p].sqrt() + eps)
        return averages, steps

    def _step(self, args):
        px, py = self.game.players
        f = self.field(args, create_graph=True)
        averages, steps = self.step_sizes(f.xi)
        x0 = self.previous if self.options["warm_start"] else None
        dx, dy = bilinear_nash(f, steps[px], steps[py], self, x0)
        like = vec.detach(f.xi)
        self.apply(vec.unflatten(dx / -self.lr[px], like[self.game.slice(px)])
                   + vec.unflatten(dy / -self.lr[py], like[self.game.slice(py)]))
        # committed only after a successful step (a NonFiniteError leaves the state as it was)
        self.averages, self.count, self.previous = averages, self.count + 1, dx.detach()
        return f.losses

    def _extra_state(self):
        return {"previous": self.previous, "averages": self.averages, "count": self.count}

    def _load_extra_state(self, state):
        t = self.game.parameters()[0]

        def to_here(x):
            return None if x is None else x.to(device=t.device, dtype=t.dtype).clone()

        self.previous = to_here(state.get("previous"))
        averages = state.get("averages")
        self.averages = None if averages is None else {p: to_here(averages[p]) for p in self.game.players}
        self.count = int(state.get("count", 0))
