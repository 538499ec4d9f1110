"""Extragradient (with Adam: ExtraAdam)."""

from __future__ import annotations

import torch

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
    multistage = True

    def _step(self, args):
        game = self.game
        theta = [t.detach().clone() for t in game.parameters()]
        f0 = self.field(args)
        buffers = [b.clone() for b in game.buffers()]
        self.apply(f0.xi, checked=True)
        f1 = self.field(args)
        with torch.no_grad():
            for t, v in zip(game.parameters(), theta):
                t.copy_(v)
            for b, v in zip(game.buffers(), buffers):
                b.copy_(v)
        self.apply(f1.xi, checked=True)
        return f0.losses
