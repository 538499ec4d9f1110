"""Alternating gradient descent."""

from __future__ import annotations

from equilib.solvers.base import Solver, check_number, per_player
from equilib.solvers.linear_map import BaseStepJacobian, NoUpdateMap


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

    def _check_options(self):
        def check(player, v):
            check_number(f"steps for player {player!r}", v, at_least=1, integer=True)
        self.inner_steps = per_player(self.options["steps"], self.game.players, "steps", check)

    def _step(self, args):
        players = self.game.players
        # A NaN met by a later player must undo the earlier players' moves: copy each
        # player's state before it moves, unless nothing can fail after its first move.
        snapshots = []
        losses = {}
        try:
            for p in players:
                for k in range(self.inner_steps[p]):
                    if k == 0 and (p != players[-1] or self.inner_steps[p] > 1):
                        snapshots.append(self._snapshot([p]))
                    f = self.field(args, players=[p])
                    self.apply(f.xi, players=[p], checked=True)
                    losses.setdefault(p, f.losses[p])
        except BaseException:  # a NaN, a bad loss, Ctrl-C: undo the moves already made
            for snapshot in reversed(snapshots):
                self._restore(snapshot)
            raise
        return losses

    def check_update_map(self, adaptive=False):
        rules = super().check_update_map(adaptive)
        for p, rule in rules.items():
            if not rule.linear:
                raise NoUpdateMap(f"player {p!r} of solver 'altgd' uses base optimizer "
                                  f"{type(self.optimizers[p]).__name__}: an adaptive step's map depends on the "
                                  "direction at each intermediate point of altgd's step, which the map does not "
                                  "evaluate; use the SGD base (momentum allowed)")
        return rules

    def update_map(self, products, adaptive=False, direction=None):
        """Per player p in order, ``steps[p]`` times, the base step of p alone with direction map P_p J
        (J frozen): plain SGD gives the product of (I - eta_p P_p J) (first player applied first); heavy ball
        b_p <- beta_p b_p + (J theta)_p, theta_p <- theta_p - eta_p b_p on the state (theta, b)."""
        P = products
        base = BaseStepJacobian(self, P, self.check_update_map(adaptive))
        stages = [P.mask([p])[:, None] for p in self.game.players for _ in range(self.inner_steps[p])]

        def apply(V):
            for m in stages:
                V = base.apply(V, lambda X, m=m: m * P.J(X), mask=m)
            return V
        return base.size, apply
