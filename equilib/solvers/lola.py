"""Opponent shaping: LOLA (Foerster et al. 2018) and SOS (Letcher et al. 2019), n players."""

from __future__ import annotations

from equilib import vec
from equilib.vec import Vector
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
    second_order = True
    defaults = {"alpha": None}

    def _check_options(self):
        a = self.options["alpha"]
        if len(self.game.players) < 2:
            raise SolverError(f"{self.name} needs at least two players")
        if a is not None:
            def check(p, v):
                check_number(f"alpha for player {p!r}", v, at_least=0)
            per_player(a, self.game.players, "alpha", check)

    def _alpha(self) -> dict[str, float]:
        a = self.options["alpha"]
        return per_player(self.lr if a is None else a, self.game.players, "alpha")

    def _terms(self, f: Field, separate: bool):
        """Per player i, from its full gradient g_i = grad L_i (xi_i and the cross gradients):

        shift_i = sum_{j != i} alpha_j J_ij xi_j = grad_i sum_j alpha_j <g_ij, xi_j>   (look-ahead),
        chi_i = sum_{j != i} alpha_j J_ji^T g_ij = grad_i sum_j alpha_j <xi_j, g_ij>    (shaping),
        each one backward pass restricted to theta_i; with ``separate=False`` their sum
        in a single pass (Foerster et al.'s surrogate). Returns (xi, shift, chi) or (xi, shift + chi, None).
        """
        game = self.game
        alpha = self._alpha()
        xi = vec.detach(f.xi)
        first: Vector = []
        second: Vector = []
        for i in game.players:
            g = f.gradient(i, create_graph=True)
            g_values = f.gradient(i)  # global values (rank-averaged under torch.distributed)
            cross, xis, w_cross, w_xi = [], [], [], []
            for j in game.players:
                if j == i:
                    continue
                sj = game.slice(j)
                cross += g[sj]
                xis += f.xi[sj]
                w_cross += [alpha[j] * t for t in xi[sj]]
                w_xi += [alpha[j] * t for t in g_values[sj]]
            if separate:
                first += f.backward(cross, w_cross, i)
                second += f.backward(xis, w_xi, i)
            else:
                first += f.backward(cross + xis, w_cross + w_xi, i)
        return xi, first, (second if separate else None)

    def terms(self, f: Field) -> tuple[Vector, Vector, Vector]:
        """(xi, look-ahead direction (I - H_o diag(alpha)) xi, shaping term chi) at ``f``."""
        xi, shift, chi = self._terms(f, separate=True)
        return xi, vec.add(xi, shift, alpha=-1.0), chi

    def _direction(self, args):
        f = self.field(args, create_graph=True)
        xi, shift_and_chi, _ = self._terms(f, separate=False)
        return f.losses, vec.add(xi, shift_and_chi, alpha=-1.0)

    def direction_map(self, P, shaping: float = 1.0):
        """L v = J v - H_o D_alpha J v - shaping * sum_i P_i J^T ((I - P_i) D_alpha H_i v) (J, H_i frozen;
        H_i the Hessian of player i's loss, P_i the projection on its block, H_o = J without its diagonal blocks)."""
        game = self.game
        Da = P.per_player(self._alpha())[:, None]
        masks = {p: P.mask([p])[:, None] for p in game.players}

        def H_o(W):
            out = P.J(W)
            for m in masks.values():
                out = out - m * P.J(m * W)
            return out

        def L(V):
            JV = P.J(V)
            direction = JV - H_o(Da * JV)
            if shaping:
                for p, m in masks.items():
                    direction = direction - shaping * m * P.JT((1 - m) * Da * P.H(p, V))
            return direction
        return L


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

    def _direction(self, args):
        f = self.field(args, create_graph=True)
        xi, lookahead, chi = self.terms(f)
        self.last_p = self.shaping_scale(xi, lookahead, chi)
        return f.losses, vec.add(lookahead, chi, alpha=-self.last_p)

    def direction_map(self, P, shaping: float | None = None):
        """LOLA's L with the shaping term scaled by SOS's p at this point, held fixed: exact at fixed points
        (p = |xi|^2 and its gradient vanish with xi, leaving look-ahead's map) and where p is locally constant."""
        if shaping is None:
            shaping = self.shaping_scale(*self.terms(P.field))
        return super().direction_map(P, shaping)
