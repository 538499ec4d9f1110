"""The solvers, by name: ``make_solver(name, game, lr=...)`` or the classes."""

from __future__ import annotations

import inspect
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
from equilib.solvers.linear_map import NoUpdateMap
from equilib.solvers.lola import LOLA, SOS
from equilib.solvers.optimistic import Optimistic
from equilib.solvers.simultaneous import SimGD
from equilib.solvers.unrolled import Unrolled

__all__ = [
    "SOLVERS", "make_solver", "Solver", "SimGD", "AltGD", "Extragradient", "Optimistic",
    "Consensus", "Hamiltonian", "SGA", "Unrolled", "CGD", "ACGD", "LOLA", "SOS", "KrylovWarning",
    "NonFinitePolicy", "NonFiniteWarning", "NoUpdateMap", "solver_options",
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


# the constructor parameters every solver shares (Solver.__init__); the rest are the solver's own options
_SHARED = ("self", "game", "lr", "optimizer", "optimizer_options", "on_nonfinite")


def solver_options(name: str) -> dict[str, Any]:
    """``{option: default}`` of the solver called ``name``: the keyword parameters of its
    constructor beyond those every solver shares (game, lr, optimizer, optimizer_options,
    on_nonfinite), then the options it takes through ``**options`` (its ``defaults``).

    The solver validates the values itself when it is built, e.g.
    ``solver_options("sga") == {"lam": 1.0, "align": True, "eps": 0.1}``.
    """
    if not isinstance(name, str) or name.lower() not in SOLVERS:
        raise SolverError(f"unknown solver {name!r}; known solvers: {sorted(SOLVERS)}")
    cls = SOLVERS[name.lower()]
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.name not in _SHARED and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) \
                    and p.default is not p.empty:
                out[p.name] = p.default
    out.update(cls.defaults)
    return dict(out)
