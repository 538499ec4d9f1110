"""Opponent shaping: LOLA (Foerster et al. 2018) and SOS (Letcher et al. 2019), n players."""

from __future__ import annotations

import torch

from equilib import vec
from equilib.errors import SolverError
from equilib.field import Field
from equilib.solvers.base import Solver, check_number, per_player


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
            raise SolverError(f"{self.name} needs at least two players")
        if a is not None:
            def check(p, v):
                check_number(f"alpha for player {p!r}", v, at_least=0)
            per_player(a, self.game.players, "alpha", check)

    def _terms(self, f: Field):
        """(xi, look-ahead direction (I - H_o diag(alpha)) xi, shaping term chi)."""
        game = self.game
        alpha = per_player(self.options["alpha"] if self.options["alpha"] is not None else self.lr,
                           game.players, "alpha")
        owner = [p for p in game.players for _ in game.parameters(p)]
        xi = vec.detach(f.xi)
        lookahead = list(xi)
        for j in game.players:  # - sum_{j != i} alpha_j J_ij xi_j
            sj = game.slice(j)
            jv = f.jvp(vec.scale(vec.restrict(xi, sj), alpha[j]))
            for k in range(len(lookahead)):
                if owner[k] != j:
                    lookahead[k] = lookahead[k] - jv[k]
        chi = vec.zeros_like(xi)
        for i in game.players:  # chi_i = (J^T w_i)_i, w_i = (alpha_j grad_j L_i)_{j != i}
            si = game.slice(i)
            w = [torch.zeros_like(c) if owner[k] == i else alpha[owner[k]] * c.detach()
                 for k, c in enumerate(f.gradient(i))]
            chi[si] = f.vjp(w)[si]
        return xi, lookahead, chi

    def _step(self, args):
        f = self.field(args, create_graph=True)
        _, lookahead, chi = self._terms(f)
        self.apply(vec.add(lookahead, chi, alpha=-1.0))
        return f.losses


class SOS(LOLA):
    """Stable opponent shaping (Letcher et al. 2019): LOLA's shaping term scaled by p.

    xi_0 = (I - H_o diag(alpha)) xi (look-ahead), d = xi_0 - p chi, with
    p = min(p1, p2): p1 = 1 if <chi, xi_0> <= 0 else min(1, a |xi_0|^2 / <chi, xi_0>),
    p2 = |xi|^2 if |xi| < b else 1. Defaults a = 0.5, b = 0.1 (the paper's).
    p -> 0 near fixed points, so SOS keeps look-ahead's local convergence.
    """

    name = "sos"
    defaults = {"alpha": None, "a": 0.5, "b": 0.1}

    def _check_options(self):
        super()._check_options()
        for key in ("a", "b"):
            check_number(key, self.options[key], above=0, below=1)

    def shaping_scale(self, xi, lookahead, chi) -> float:
        """p = min(p1, p2) of Letcher et al. 2019, Algorithm 1."""
        inner = float(vec.dot(chi, lookahead))
        p1 = 1.0 if inner <= 0 else min(1.0, self.options["a"] * float(vec.dot(lookahead, lookahead)) / inner)
        xi_norm2 = float(vec.dot(xi, xi))
        p2 = xi_norm2 if xi_norm2 < self.options["b"] ** 2 else 1.0
        return min(p1, p2)

    def _step(self, args):
        f = self.field(args, create_graph=True)
        xi, lookahead, chi = self._terms(f)
        self.last_p = self.shaping_scale(xi, lookahead, chi)
        self.apply(vec.add(lookahead, chi, alpha=-self.last_p))
        return f.losses
