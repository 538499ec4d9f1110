"""Solver options: values given once or per player, number checks, and the learning-rate view."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import torch

from equilib.errors import SolverError

__all__ = ["per_player", "check_number", "positive", "LearningRates"]


def per_player(value: Any, players: Sequence[str], what: str, check=None) -> dict[str, Any]:
    """A value given once for all players or as ``{player: value}`` (every player named)."""
    if isinstance(value, Mapping):
        missing = [p for p in players if p not in value]
        unknown = [k for k in value if k not in players]
        if missing or unknown:
            raise SolverError(
                f"{what} given per player must name every player {list(players)}; "
                f"missing {missing}, unknown {unknown}"
            )
        out = {p: value[p] for p in players}
    else:
        out = {p: value for p in players}
    if check is not None:
        for p, v in out.items():
            check(p, v)
    return out


def check_number(label: str, value: Any, *, above: float | None = None, at_least: float | None = None,
                 below: float | None = None, integer: bool = False) -> None:
    """Raise :class:`SolverError` unless ``value`` is a number (an int if ``integer``) in range,
    saying e.g. "gamma must be a number >= 0, got -1"."""
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds) and math.isfinite(value)
    ok = ok and (above is None or value > above) and (at_least is None or value >= at_least) \
        and (below is None or value < below)
    if ok:
        return
    if above is not None and below is not None:
        bound = f"in ({above}, {below})"
    elif above is not None:
        bound = f"> {above}"
    else:
        bound = f">= {at_least}"
    raise SolverError(f"{label} must be {'an integer' if integer else 'a number'} {bound}, got {value!r}")


def positive(what: str):
    def check(player: str, v: Any) -> None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise SolverError(f"{what} for player {player!r} must be a finite number > 0, got {v!r}")
    return check


class LearningRates(MutableMapping):
    """``{player: eta}``, a view of the base optimizers' param groups (their one home).

    Reading gives each player's current rate, so a torch LR scheduler or a loaded
    ``state_dict`` is seen at once by every solver; writing sets the rate of all of
    that player's param groups, after checking it is a finite number > 0.
    """

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer]):
        self._optimizers = optimizers

    def __getitem__(self, player: str) -> float:
        return float(self._optimizers[player].param_groups[0]["lr"])

    def __setitem__(self, player: str, value: float) -> None:
        if player not in self._optimizers:
            raise SolverError(f"unknown player {player!r}; the players are {list(self._optimizers)}")
        positive("lr")(player, value)
        for group in self._optimizers[player].param_groups:
            group["lr"] = float(value)

    def __delitem__(self, player: str) -> None:
        raise SolverError("a player's learning rate cannot be deleted")

    def __iter__(self):
        return iter(self._optimizers)

    def __len__(self) -> int:
        return len(self._optimizers)

    def __repr__(self) -> str:
        return repr(dict(self))
