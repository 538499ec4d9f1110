"""Learning with opponent-learning awareness (Foerster et al. 2018), n players."""

from __future__ import annotations

import torch

from equilib import vec
from equilib.errors import SolverError
from equilib.solvers.base import Solver, per_player


class LOLA(Solver):
    """LOLA (Foerster et al. 2018), in the form of Letcher et al. 2019 (SOS):

    d = (I - H_o diag(alpha)) xi - chi,  chi_i = sum_{j != i} alpha_j J_ji^T grad_j L_i,

    where H_o is J with its diagonal blocks zeroed: player i differentiates its
    loss after a naive step -alpha_j xi_j of every opponent j (first-order Taylor).
    ``alpha`` is the opponents' assumed step size (default: their lr).
    """

    name = "lola"
    defaults = {"alpha": None}

    def _check_options(self):
        a = self.options["alpha"]
        if len(self.game.players) < 2:
            raise SolverError("lola needs at least two players")
        if a is not None:
            def check(p, v):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                    raise SolverError(f"alpha for player {p!r} must be a number >= 0, got {v!r}")
            per_player(a, self.game.players, "alpha", check)

    def _step(self, args):
        game = self.game
        alpha = per_player(self.options["alpha"] if self.options["alpha"] is not None else self.lr,
                           game.players, "alpha")
        f = self.field(args, create_graph=True)
        xi = vec.detach(f.xi)
        direction = list(xi)
        for j in game.players:  # look-ahead: - sum_{j != i} alpha_j J_ij xi_j
            sj = game.slice(j)
            jv = f.jvp(vec.scale(vec.restrict(xi, sj), alpha[j]))
            for k in range(len(direction)):
                if not sj.start <= k < sj.stop:
                    direction[k] = direction[k] - jv[k]
        for i in game.players:  # shaping: - chi_i
            si = game.slice(i)
            cross = f.gradient(i)
            w = [torch.zeros_like(c) if si.start <= k < si.stop else alpha[self._owner(k)] * c.detach()
                 for k, c in enumerate(cross)]
            chi = f.vjp(w)
            for k in range(si.start, si.stop):
                direction[k] = direction[k] - chi[k]
        self.apply(direction)
        return f.losses

    def _owner(self, k: int) -> str:
        for p in self.game.players:
            s = self.game.slice(p)
            if s.start <= k < s.stop:
                return p
        raise IndexError(k)
