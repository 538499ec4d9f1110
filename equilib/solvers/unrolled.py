"""Unrolled GAN (Metz et al. 2017), for any number of players."""

from __future__ import annotations

from equilib.errors import SolverError
from equilib.field import Field
from equilib.solvers.base import Solver, check_number, per_player


class Unrolled(Solver):
    """Unrolled gradient (Metz et al. 2017).

    The first player (the generator in a GAN) differentiates through k inner
    gradient steps of the others, taken with step ``unroll_lr``:
    phi_0 = theta_{-1}, phi_{j+1} = phi_j - unroll_lr * xi_{-1}(theta_1, phi_j), and
    d_1 = d/d theta_1 L_1(theta_1, phi_k(theta_1)). The other players take their
    ordinary gradient xi_{-1}(theta); then all players step simultaneously.
    k = 0 is simgd. The inner steps reuse the step's arguments and leave module
    buffers unchanged. Options: ``unroll_steps`` (k, default 5), ``unroll_lr``
    (default: each opponent's lr; a float or ``{player: float}``).
    """

    name = "unrolled"
    defaults = {"unroll_steps": 5, "unroll_lr": None}

    def _check_options(self):
        k = self.options["unroll_steps"]
        check_number("unroll_steps", k, at_least=0, integer=True)
        if len(self.game.players) < 2:
            raise SolverError("unrolled needs at least two players")
        lr = self.options["unroll_lr"]
        if lr is not None:
            def check(p, v):
                check_number(f"unroll_lr for player {p!r}", v, above=0)
            per_player(lr, self.game.players, "unroll_lr", check)

    def _step(self, args):
        game = self.game
        first, others = game.players[0], game.players[1:]
        k = self.options["unroll_steps"]
        if k == 0:
            f = self.field(args)
            self.apply(f.xi)
            return f.losses
        # xi of the others at theta, with its graph: their own update and inner step 0
        f = self.field(args, create_graph=True, players=others)
        unroll_lr = per_player(self.options["unroll_lr"] or self.lr, game.players, "unroll_lr")
        head = game.slice(first)
        x = f.inputs[head]
        lrs = [unroll_lr[p] for p in others for _ in game.parameters(p)]
        inner_xi = f.xi[head.stop:]
        phi = list(f.inputs[head.stop:])
        for step in range(k):
            if step > 0:
                inner = Field(game, args, tensors=x + phi, create_graph=True, players=others)
                inner.check_finite(self.steps)
                inner_xi = inner.xi[head.stop:]
            phi = [t - lr * g for t, g, lr in zip(phi, inner_xi, lrs)]
        outer = self.field(args, tensors=x + phi, players=[first])  # d/dx L_1(x, phi_k(x))
        self.apply(outer.xi[head] + [t.detach() for t in f.xi[head.stop:]])
        return f.losses
