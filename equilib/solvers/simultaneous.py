"""Simultaneous gradient descent."""

from __future__ import annotations

from equilib.solvers.base import Solver


class SimGD(Solver):
    """Simultaneous gradient play: theta <- theta - eta * xi(theta).

    Every player steps on its own gradient at the same point. On f = x*y it
    spirals out: |theta| grows by sqrt(1 + eta^2) per step (Gidel et al. 2019, Prop. 1).
    """

    name = "simgd"

    def _direction(self, args):
        f = self.field(args)
        return f.losses, f.xi

    def _step(self, args):
        losses, xi = self._direction(args)
        self.apply(xi, checked=True)  # xi was checked with its field
        return losses

    def direction_map(self, products):
        """L = J: with plain SGD, M = I - D J."""
        return products.J
