"""Optimistic gradient descent-ascent (with Adam: Optimistic Adam)."""

from __future__ import annotations

import torch

from equilib.solvers.base import Solver


class Optimistic(Solver):
    """Optimistic gradient (OGDA; Popov 1980, Daskalakis et al. 2018).

    theta_{t+1} = theta_t + 2 u_t - u_{t-1}, where u_t is the base optimizer's
    move for xi(theta_t). With SGD, u_t = -eta xi(theta_t), so
    theta_{t+1} = theta_t - 2 eta xi_t + eta xi_{t-1}; with Adam it is Optimistic
    Adam (Daskalakis et al. 2018). On the first step u_{-1} = u_0 (a plain step).
    The previous move u_{t-1} is solver state (in ``state_dict``).
    """

    name = "optimistic"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.previous: list[torch.Tensor] | None = None

    def _step(self, args):
        params = self.game.parameters()
        f = self.field(args)
        move = self.moves(f.xi)
        with torch.no_grad():  # theta + 2 u_t - u_{t-1}, in fused (foreach) kernels
            torch._foreach_add_(params, move)
            if self.previous is not None:
                torch._foreach_add_(params, torch._foreach_sub(move, self.previous))
        self.previous = move
        return f.losses

    def _extra_state(self):
        return {"previous": self.previous}

    def _load_extra_state(self, state):
        prev = state.get("previous")
        self.previous = None if prev is None else [
            p.to(device=t.device, dtype=t.dtype).clone() for p, t in zip(prev, self.game.parameters())
        ]

    def check_update_map(self, adaptive=False):
        rules = super().check_update_map(adaptive)
        self.plain_sgd_only(rules, "its step combines two moves of the base optimizer")
        return rules

    def update_map_size(self, adaptive=False):
        self.check_update_map(adaptive)
        return 2 * self.game.num_parameters()

    def update_map(self, products, adaptive=False, direction=None):
        """M = [[I - 2 D J, D J], [I, 0]] on the state (theta_t, theta_{t-1}) (J frozen), for the plain SGD base."""
        self.check_update_map(adaptive)
        P = products
        D = P.per_player(dict(self.lr))[:, None]
        d = P.d

        def apply(V):
            X, Y = V[:d], V[d:]
            JXY = P.J(torch.cat([X, Y], dim=1))
            JX, JY = JXY[:, :X.shape[1]], JXY[:, X.shape[1]:]
            return torch.cat([X - 2 * D * JX + D * JY, X], dim=0)
        return 2 * d, apply
