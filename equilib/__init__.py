"""equilib: equilibria of differentiable games in PyTorch.

    import torch, equilib as eq
    game = eq.ZeroSumGame({"x": torch.tensor([1.0]), "y": torch.tensor([1.0])},
                          value=lambda p: (p["x"] * p["y"]).sum())
    solver = eq.make_solver("extragradient", game, lr=0.1)
    for _ in range(1000):
        solver.step()
"""

from equilib import diagnostics, games, solvers, vec
from equilib.errors import GameError, NonFiniteError, SolverError
from equilib.field import Field
from equilib.game import Game, ZeroSumGame
from equilib.optim import SGD, fast_options
from equilib.solvers import SOLVERS, NonFinitePolicy, NonFiniteWarning, Solver, make_solver, solver_options

__version__ = "0.1.0"

__all__ = [
    "Game", "ZeroSumGame", "Field", "Solver", "SOLVERS", "make_solver", "solvers", "games", "vec", "diagnostics",
    "SGD", "GameError", "SolverError", "NonFiniteError", "NonFinitePolicy", "NonFiniteWarning",
    "solver_options", "fast_options",
]
