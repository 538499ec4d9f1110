"""Unrolled GAN (Metz et al. 2017), for any number of players."""

from __future__ import annotations

from equilib.errors import SolverError
from equilib.field import Field
from equilib.functional_step import FunctionalStep
from equilib.solvers.base import Solver, check_number, per_player
from equilib.solvers.linear_map import NoUpdateMap


class Unrolled(Solver):
    """Unrolled gradient (Metz et al. 2017).

    The first player (the generator in a GAN) differentiates through k inner
    steps of the others: phi_0 = theta_{-1}, phi_{j+1} = phi_j + u(xi_{-1}(theta_1, phi_j), s_j),
    d_1 = d/d theta_1 L_1(theta_1, phi_k(theta_1)). With ``unroll_optimizer="same"``
    (default) u is a differentiable copy of each opponent's own base optimizer, started
    from its current state s_0 (Adam with its moments, as Metz et al. 2017 unroll it;
    :class:`equilib.functional_step.FunctionalStep`); with ``"sgd"`` it is the plain step
    u = -unroll_lr xi. With a plain SGD base the two agree. The other players take their
    ordinary gradient xi_{-1}(theta); then all players step simultaneously. k = 0 is
    simgd. The inner steps reuse the step's arguments and leave module buffers and the
    real optimizers' state unchanged. Options: ``unroll_steps`` (k, default 5),
    ``unroll_lr`` (default: each opponent's current lr; a float or ``{player: float}``),
    ``unroll_optimizer``.
    """

    name = "unrolled"
    second_order = True
    defaults = {"unroll_steps": 5, "unroll_lr": None, "unroll_optimizer": "same"}

    def _check_options(self):
        k = self.options["unroll_steps"]
        check_number("unroll_steps", k, at_least=0, integer=True)
        if len(self.game.players) < 2:
            raise SolverError("unrolled needs at least two players")
        if self.options["unroll_optimizer"] not in ("same", "sgd"):
            raise SolverError(f"unroll_optimizer must be 'same' or 'sgd', got {self.options['unroll_optimizer']!r}")
        lr = self.options["unroll_lr"]
        if lr is not None:
            def check(p, v):
                check_number(f"unroll_lr for player {p!r}", v, above=0)
            per_player(lr, self.game.players, "unroll_lr", check)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.options["unroll_optimizer"] == "same":
            for p in self.game.players[1:]:  # refuse a base step without a functional copy now, not mid-run
                FunctionalStep.of(self.optimizers[p])

    def _inner_rule(self, others, unroll_lr):
        """phi, xi -> the opponents' next phi: their own optimizer's functional copy, or plain steps."""
        game = self.game
        if self.options["unroll_optimizer"] == "sgd":
            lrs = [unroll_lr[p] for p in others for _ in game.parameters(p)]
            return lambda phi, xi: [t - lr * g for t, g, lr in zip(phi, xi, lrs)]
        rules, states, sizes = [], [], []
        for p in others:
            rule = FunctionalStep.of(self.optimizers[p])
            rule.hyper["lr"] = unroll_lr[p]
            rules.append(rule)
            states.append(rule.state_of(self.optimizers[p], game.parameters(p)))
            sizes.append(len(game.parameters(p)))

        def step(phi, xi):
            out, k = [], 0
            for i, (rule, n) in enumerate(zip(rules, sizes)):
                moves, states[i] = rule.update(phi[k:k + n], xi[k:k + n], states[i])
                out += [t + m for t, m in zip(phi[k:k + n], moves)]
                k += n
            return out
        return step

    def _direction(self, args):
        game = self.game
        first, others = game.players[0], game.players[1:]
        k = self.options["unroll_steps"]
        if k == 0:
            f = self.field(args)
            return f.losses, f.xi
        # xi of the others at theta, with its graph: their own update and inner step 0
        f = self.field(args, create_graph=True, players=others)
        unroll_lr = per_player(self.options["unroll_lr"] or self.lr, game.players, "unroll_lr")
        head = game.slice(first)
        x = f.inputs[head]
        inner_xi = f.xi[head.stop:]
        phi = list(f.inputs[head.stop:])
        step_rule = self._inner_rule(others, unroll_lr)
        for step in range(k):
            if step > 0:
                inner = Field(game, args, tensors=x + phi, create_graph=True, players=others)
                inner.check_finite(self.steps)
                inner_xi = inner.xi[head.stop:]
            phi = step_rule(phi, inner_xi)
        outer = self.field(args, tensors=x + phi, players=[first])  # d/dx L_1(x, phi_k(x))
        return f.losses, outer.xi[head] + [t.detach() for t in f.xi[head.stop:]]

    def check_update_map(self, adaptive=False):
        rules = super().check_update_map(adaptive)
        if self.options["unroll_optimizer"] == "same" and self.options["unroll_steps"] > 0:
            for p in self.game.players[1:]:
                h = rules[p].hyper
                if rules[p].kind != "sgd" or h["momentum"] or h["weight_decay"]:
                    what = "a momentum" if rules[p].kind == "sgd" and h["momentum"] else "an adaptive or decaying"
                    raise NoUpdateMap(f"the update map of unrolled whose inner steps copy {what} base step "
                                      "(unroll_optimizer='same') is not derived; use unroll_optimizer='sgd'")
        return rules

    def direction_map(self, P):
        """Linearised inner steps phi_{j+1} = phi_j - U xi_phi: dphi_{j+1} = B dphi_j - U J_phix dx, B = I - U J_phiphi,
        so dphi_k = B^k dphi + G dx, G = -S_k U J_phix, S_k = sum_{j<k} B^j; then
        L v = ((J (v_x, dphi_k))_x + G^T (H_1 (v_x, dphi_k))_phi, (J v)_phi), H_1 the first player's Hessian."""
        game = self.game
        first, others = game.players[0], game.players[1:]
        k = int(self.options["unroll_steps"])
        if k == 0:
            return P.J
        unroll = per_player(self.options["unroll_lr"] or self.lr, game.players, "unroll_lr")  # as the step
        mh, mo = P.mask([first])[:, None], P.mask(others)[:, None]
        U = P.per_player(unroll)[:, None] * mo

        def B(W):  # (I - U J_phiphi) w on phi
            return W - U * P.J(mo * W)

        def BT(W):  # (I - J_phiphi^T U) w
            return W - mo * P.JT(U * W)

        def S(W, op):  # sum_{j<k} op^j w (Horner)
            s = W
            for _ in range(k - 1):
                s = W + op(s)
            return s

        def L(V):
            vx, dphi = mh * V, mo * V
            for _ in range(k):
                dphi = B(dphi)
            dphi = dphi - S(U * P.J(vx), B)  # + G v_x
            Y = vx + dphi
            GT = -mh * P.JT(U * S(mo * P.H(first, Y), BT))  # G^T (H_1 Y)_phi
            return mh * P.J(Y) + GT + mo * P.J(V)
        return L
