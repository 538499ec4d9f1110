"""Competitive gradient descent (Schaefer and Anandkumar 2019)."""

from __future__ import annotations

from equilib import vec
from equilib.errors import SolverError
from equilib.game import ZeroSumGame
from equilib.solvers.base import Solver, check_number
from equilib.solvers.linalg import cg, gmres


class CGD(Solver):
    """Competitive gradient descent, two players x (loss f) and y (loss g).

    Each step is the Nash equilibrium of the local bilinear game with step sizes
    eta_x, eta_y:
      (I - eta_x eta_y D_xy f D_yx g) dx = -eta_x (grad_x f - eta_y D_xy f grad_y g),
      dy = -eta_y (grad_y g + D_yx g dx).
    The system is solved matrix-free: conjugate gradient for a ZeroSumGame (then it
    is symmetric positive definite), GMRES otherwise; ``tol`` (relative residual)
    and ``max_iter`` bound the solve. The base optimizer steps with
    d = -(dx / eta_x, dy / eta_y), so plain SGD moves by exactly (dx, dy). On a
    bilinear zero-sum game this is the proximal point step: rate 1/sqrt(1 + eta^2 s^2).
    ``last_info`` holds the iterations and residual of the last solve.
    """

    name = "cgd"
    defaults = {"tol": 1e-8, "max_iter": 100}

    def _check_options(self):
        if len(self.game.players) != 2:
            raise SolverError(f"cgd takes a two-player game, this one has {len(self.game.players)} players")
        tol, it = self.options["tol"], self.options["max_iter"]
        check_number("tol", tol, above=0)
        check_number("max_iter", it, at_least=1, integer=True)
        self.last_info = {"iterations": 0, "residual": 0.0}

    def _step(self, args):
        game = self.game
        px, py = game.players
        sx, sy = game.slice(px), game.slice(py)
        ex, ey = self.lr[px], self.lr[py]
        f = self.field(args, create_graph=True)
        xi = vec.detach(f.xi)
        like = xi
        x_like, y_like = like[sx], like[sy]
        zeros_x = vec.zeros_like(x_like)
        zeros_y = vec.zeros_like(y_like)

        def dxy_f(v_y):  # D_xy f v_y = (J (0, v_y))_x
            return f.jvp(zeros_x + v_y)[sx]

        def dyx_g(v_x):  # D_yx g v_x = (J (v_x, 0))_y
            return f.jvp(v_x + zeros_y)[sy]

        def matvec(u):
            u = vec.unflatten(u, x_like)
            return vec.flatten(vec.add(u, dxy_f(dyx_g(u)), alpha=-ex * ey))

        rhs = vec.scale(vec.add(xi[sx], dxy_f(xi[sy]), alpha=-ey), -ex)
        solve = cg if isinstance(game, ZeroSumGame) else gmres
        flat, iters, res = solve(matvec, vec.flatten(rhs), self.options["tol"], self.options["max_iter"])
        dx = vec.unflatten(flat, x_like)
        dy = vec.scale(vec.add(xi[sy], dyx_g(dx)), -ey)
        self.last_info = {"iterations": iters, "residual": res}
        self.apply(vec.scale(dx, -1.0 / ex) + vec.scale(dy, -1.0 / ey))
        return f.losses
