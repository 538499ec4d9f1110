"""Alternating gradient descent."""

from __future__ import annotations

from equilib.errors import SolverError
from equilib.solvers.base import Solver, per_player


class AltGD(Solver):
    """Alternating gradient play: players step one after another in declared order.

    For player i (in order), ``steps[i]`` times: theta_i <- theta_i - eta_i * xi_i(theta),
    each gradient taken at the latest parameters (e.g. ``steps={"D": 5, "G": 1}``
    with D declared first: 5 critic steps per generator step). Every inner step
    reuses the step's arguments (batch). On f = x*y with eta < 2 it cycles: bounded,
    never converging.
    """

    name = "altgd"
    defaults = {"steps": 1}
    multistage = True

    def _check_options(self):
        def check(player, v):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SolverError(f"steps for player {player!r} must be an integer >= 1, got {v!r}")
        self.inner_steps = per_player(self.options["steps"], self.game.players, "steps", check)

    def _step(self, args):
        losses = {}
        for p in self.game.players:
            for _ in range(self.inner_steps[p]):
                f = self.field(args, players=[p])
                self.apply(f.xi, players=[p], checked=True)
                losses.setdefault(p, f.losses[p])
        return losses
