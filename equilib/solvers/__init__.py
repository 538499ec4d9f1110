"""The solvers, by name: ``make_solver(name, game, lr=...)`` or the classes."""

from __future__ import annotations

from typing import Any

from equilib.errors import SolverError
from equilib.game import Game
from equilib.solvers.acgd import ACGD
from equilib.solvers.alternating import AltGD
from equilib.solvers.base import Solver
from equilib.solvers.cgd import CGD, KrylovWarning
from equilib.solvers.consensus import SGA, Consensus, Hamiltonian
from equilib.solvers.divergence import NonFinitePolicy, NonFiniteWarning
from equilib.solvers.extragradient import Extragradient
from equilib.solvers.lola import LOLA, SOS
from equilib.solvers.optimistic import Optimistic
from equilib.solvers.simultaneous import SimGD
from equilib.solvers.unrolled import Unrolled

__all__ = [
    "SOLVERS", "make_solver", "Solver", "SimGD", "AltGD", "Extragradient", "Optimistic",
    "Consensus", "Hamiltonian", "SGA", "Unrolled", "CGD", "ACGD", "LOLA", "SOS", "KrylovWarning",
    "NonFinitePolicy", "NonFiniteWarning",
]

SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls
    for cls in (SimGD, AltGD, Extragradient, Optimistic, Consensus, Unrolled, SGA, CGD, ACGD, Hamiltonian, LOLA,
                SOS)
}


def make_solver(name: str, game: Game, lr: float | dict[str, float], optimizer: Any = None,
                optimizer_options: dict[str, Any] | None = None, **options: Any) -> Solver:
    """The solver called ``name`` (one of :data:`SOLVERS`) on ``game``.

    ``lr`` is a float or ``{player: float}``; ``optimizer`` the base step (``None`` or
    ``"sgd"``, ``"adam"``, ``"rmsprop"``, ... or a torch.optim class) with
    ``optimizer_options``; ``options`` are the solver's own (e.g. ``gamma`` for consensus).
    """
    if not isinstance(name, str) or name.lower() not in SOLVERS:
        raise SolverError(f"unknown solver {name!r}; known solvers: {sorted(SOLVERS)}")
    return SOLVERS[name.lower()](game, lr=lr, optimizer=optimizer, optimizer_options=optimizer_options, **options)
