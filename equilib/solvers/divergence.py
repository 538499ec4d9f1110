"""What a solver does when a step meets a NaN or Inf: raise, skip the step, or roll back.

Every solver leaves the parameters and its state as they were before a step that raised
:class:`equilib.NonFiniteError`, so the last good state is always at hand. The policy
decides what happens next:

- ``"raise"`` (default): the error reaches the caller.
- ``"skip"``: the step is dropped (parameters and state untouched), counted and warned about.
- ``"rollback"``: the step is dropped and every player's learning rate is multiplied by
  ``factor``; after ``max_rollbacks`` of them the next non-finite step raises.

Each event is kept in :attr:`NonFinitePolicy.events` (step, player, what, action, rates after),
which the solver's ``state_dict`` carries, so a resumed run knows how many rollbacks it used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from equilib.errors import NonFiniteError, SolverError

__all__ = ["NonFinitePolicy", "NonFiniteWarning", "ACTIONS"]

ACTIONS = ("raise", "skip", "rollback")


class NonFiniteWarning(UserWarning):
    """A non-finite step was skipped or rolled back (see :class:`NonFinitePolicy`)."""


class NonFinitePolicy:
    """``action`` in ``ACTIONS``; for ``"rollback"``, the rate ``factor`` in (0, 1) and ``max_rollbacks`` >= 1."""

    def __init__(self, action: str = "raise", factor: float = 0.5, max_rollbacks: int = 3):
        if action not in ACTIONS:
            raise SolverError(f"on_nonfinite must be one of {list(ACTIONS)} or a NonFinitePolicy, got {action!r}")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) \
                or not 0 < factor < 1:
            raise SolverError(f"rollback factor must be a number in (0, 1), got {factor!r}")
        if isinstance(max_rollbacks, bool) or not isinstance(max_rollbacks, int) or max_rollbacks < 1:
            raise SolverError(f"max_rollbacks must be an integer >= 1, got {max_rollbacks!r}")
        self.action, self.factor, self.max_rollbacks = action, float(factor), max_rollbacks
        self.events: list[dict[str, Any]] = []

    @classmethod
    def of(cls, spec: Any) -> NonFinitePolicy:
        """A policy from ``spec``: a name in ``ACTIONS`` or a policy (copied, events kept apart)."""
        if isinstance(spec, NonFinitePolicy):
            return cls(spec.action, spec.factor, spec.max_rollbacks)
        if not isinstance(spec, str):
            raise SolverError(f"on_nonfinite must be one of {list(ACTIONS)} or a NonFinitePolicy, got {spec!r}")
        return cls(spec)

    @property
    def rollbacks(self) -> int:
        return sum(e["action"] == "rollback" for e in self.events)

    def handle(self, error: NonFiniteError, solver) -> None:
        """Act on ``error`` (the solver's state is already as before the step), or re-raise it."""
        if self.action == "raise":
            raise error
        if self.action == "rollback" and self.rollbacks >= self.max_rollbacks:
            raise NonFiniteError(error.player, error.step, f"{error.what} (after {self.rollbacks} rollbacks, "
                                 f"the most allowed by max_rollbacks)") from error
        if self.action == "rollback":
            for p in solver.game.players:
                solver.lr[p] = solver.lr[p] * self.factor
        rates = dict(solver.lr)
        self.events.append({"step": error.step, "player": error.player, "what": error.what,
                            "action": self.action, "lr": rates})
        detail = f"; learning rates now {rates}" if self.action == "rollback" else ""
        warnings.warn(f"{solver.name}: non-finite {error.what} for player {error.player!r} at step {error.step}: "
                      f"step {'rolled back' if self.action == 'rollback' else 'skipped'}{detail}",
                      NonFiniteWarning, stacklevel=4)

    def state_dict(self) -> dict[str, Any]:
        return {"action": self.action, "factor": self.factor, "max_rollbacks": self.max_rollbacks,
                "events": [dict(e) for e in self.events]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.events = [dict(e) for e in state.get("events", [])]
