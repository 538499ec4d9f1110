"""Extragradient (with Adam: ExtraAdam)."""

from __future__ import annotations

from equilib.solvers.base import Solver


class Extragradient(Solver):
    """Extragradient (Korpelevich 1976; Gidel et al. 2019 for GANs).

    theta_half = theta - eta * xi(theta);  theta <- theta - eta * xi(theta_half).

    With another base optimizer, both moves are its steps (its state advances
    twice per step, as in Gidel et al.'s ExtraAdam); the second starts from
    theta. Both field evaluations use the step's arguments (batch); module
    buffers (BatchNorm statistics) are updated by the first evaluation only.
    On f = x*y: |theta| shrinks by sqrt(1 - eta^2 + eta^4) per step.
    """

    name = "extragradient"

    def _step(self, args):
        before = self._snapshot()  # theta, buffers and optimizer state, for the return and for a rollback
        f0 = self.field(args)
        statistics = [b.clone() for b in self.game.buffers()]  # as the first evaluation left them
        self.apply(f0.xi, checked=True)
        try:
            f1 = self.field(args)
        except BaseException:  # a NaN, a bad loss, Ctrl-C: undo the moves already made
            self._restore(before)
            raise
        # back to theta with the first evaluation's statistics; the optimizer state advanced (ExtraAdam)
        self._restore((before[0], statistics, None, None), solver_state=False)
        self.apply(f1.xi, checked=True)
        return f0.losses

    def check_update_map(self, adaptive=False):
        rules = super().check_update_map(adaptive)
        self.plain_sgd_only(rules, "its step moves the base optimizer twice")
        return rules

    def update_map(self, products, adaptive=False, direction=None):
        """M = I - D J + D J D J (J frozen), written for the plain SGD base."""
        self.check_update_map(adaptive)
        P = products
        D = P.per_player(dict(self.lr))[:, None]

        def apply(V):
            W = V - D * P.J(V)
            return V - D * P.J(W)
        return P.d, apply
