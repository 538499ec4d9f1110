"""The games `equilib compare` runs: the built-in reference games and ``module:function`` games.

A game spec builds a fresh game (solvers move its parameters in place) together with the
point distances are measured to: the known equilibrium (flat float64 vector) or ``None``,
in which case the distance is the norm of the simultaneous gradient xi instead.

Built-in games (all float64, random ones seeded by ``--seed``):

- ``xy``: f(x, y) = x y from (1, 1); equilibrium 0.
- ``bilinear``: x^T A y + b^T x + c^T y, A, b, c, x0, y0 standard normal, 2 x 2.
- ``monotone_quadratic``: strongly monotone zero-sum quadratic game, 3 + 3 parameters.
- ``dirac_gan``: Mescheder et al. 2018 from (1, 1), no gradient penalty; equilibrium 0.
- ``quadratic``: random general-sum quadratic game, two players with 2 parameters each.
- ``cyclic``: the 3-player cyclic game, mu = 0.1, from (1, 0, 0) (from (1, 1, 1), an eigenvector of J,
  every solver would see only the eigenvalue mu); equilibrium 0.
- ``tandem`` (not in the default set): Letcher et al. 2019, a line of fixed points, no single
  equilibrium, so distances are |xi|.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

import equilib as eq

__all__ = ["GameSpec", "BUILTIN", "DEFAULT_GAMES", "resolve", "CompareError", "flat_equilibrium"]


class CompareError(ValueError):
    """Bad input to `equilib compare`; the command prints it as one line and exits with status 2."""


@dataclass
class GameSpec:
    """``build()`` returns ``(game, equilibrium or None)``; ``measure`` is "distance" or "|xi|"."""

    name: str
    build: Callable[[], tuple]
    description: str

    def make(self) -> tuple[eq.Game, torch.Tensor | None]:
        """A fresh game and its equilibrium as one flat float64 vector (or None)."""
        game, star = self.build()
        return game, (None if star is None else flat_equilibrium(game, star, self.name))


def flat_equilibrium(game: eq.Game, star, name: str) -> torch.Tensor:
    """The equilibrium as one flat float64 vector in ``game.parameters()`` order.

    Accepts ``{player: tensor}`` (each the player's parameters flattened), or one flat tensor
    or sequence of numbers for the whole game.
    """
    d = game.num_parameters()
    try:
        if isinstance(star, dict):
            missing = [p for p in game.players if p not in star]
            if missing:
                raise CompareError(f"game {name!r}: the equilibrium has no entry for players {missing}")
            parts = [torch.as_tensor(star[p], dtype=torch.float64).detach().cpu().reshape(-1) for p in game.players]
            sizes = [game.num_parameters(p) for p in game.players]
            bad = [p for p, t, s in zip(game.players, parts, sizes) if t.numel() != s]
            if bad:
                raise CompareError(f"game {name!r}: equilibrium entries of players {bad} do not have as many "
                                   f"numbers as their parameters {dict(zip(game.players, sizes))}")
            flat = torch.cat(parts)
        else:
            flat = torch.as_tensor(star, dtype=torch.float64).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError) as exc:
        if isinstance(exc, CompareError):
            raise
        raise CompareError(f"game {name!r}: the equilibrium must be a dict {{player: tensor}} or a flat tensor "
                           f"({exc})") from None
    if flat.numel() != d:
        raise CompareError(f"game {name!r}: the equilibrium has {flat.numel()} numbers, the game {d} parameters")
    return flat


def _known(game):
    return game, getattr(game, "equilibrium", None)


def _bilinear(seed: int):
    g = torch.Generator().manual_seed(seed)
    A, b, c, x0, y0 = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((2, 2), (2,), (2,), (2,), (2,)))
    return _known(eq.games.bilinear(A, b, c, x0, y0, dtype=torch.float64))


def builtin(seed: int) -> dict[str, GameSpec]:
    """The built-in game specs, random ones seeded by ``seed``."""
    f64 = torch.float64
    specs = [
        GameSpec("xy", lambda: _known(eq.games.xy(dtype=f64)), "f(x, y) = x y from (1, 1)"),
        GameSpec("bilinear", lambda: _bilinear(seed),
                 f"random 2x2 bilinear game x^T A y + b^T x + c^T y (seed {seed})"),
        GameSpec("monotone_quadratic", lambda: _known(eq.games.monotone_quadratic(3, 3, seed=seed)),
                 f"strongly monotone zero-sum quadratic game, 3 + 3 parameters (seed {seed})"),
        GameSpec("dirac_gan", lambda: _known(eq.games.dirac_gan(dtype=f64)), "Dirac-GAN from (1, 1), gamma = 0"),
        GameSpec("quadratic", lambda: _known(eq.games.random_quadratic((2, 2), seed=seed)),
                 f"general-sum quadratic game, 2 + 2 parameters (seed {seed})"),
        GameSpec("cyclic", lambda: _known(eq.games.cyclic(3, x0=[1.0, 0.0, 0.0], dtype=f64)),
                 "3-player cyclic game, mu = 0.1, from (1, 0, 0)"),
        GameSpec("tandem", lambda: (eq.games.tandem(1.0, 1.0, dtype=f64), None),
                 "Tandem from (1, 1): a line of fixed points, distance is |xi|"),
    ]
    return {s.name: s for s in specs}


BUILTIN = tuple(builtin(0))
DEFAULT_GAMES = ("xy", "bilinear", "monotone_quadratic", "dirac_gan", "quadratic", "cyclic")


def _from_function(target: str, seed: int) -> GameSpec:
    module_name, _, func_name = target.partition(":")
    if not module_name or not func_name:
        raise CompareError(f"--games entry {target!r}: expected module:function")
    if os.getcwd() not in sys.path and "" not in sys.path:  # as `python -m` does: modules in the current folder
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or anything the module raises on import
        raise CompareError(f"--games entry {target!r}: cannot import module {module_name!r} "
                           f"({type(exc).__name__}: {exc})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise CompareError(f"--games entry {target!r}: module {module_name!r} has no function {func_name!r}")

    def build():
        torch.manual_seed(seed)
        try:
            out = func()
        except Exception as exc:
            raise CompareError(f"--games entry {target!r}: calling {func_name}() raised "
                               f"{type(exc).__name__}: {exc}") from None
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], eq.Game):
            return out
        if isinstance(out, eq.Game):
            return _known(out)
        raise CompareError(f"--games entry {target!r}: {func_name}() returned {type(out).__name__}; it must return "
                           "an equilib.Game or a pair (game, equilibrium)")

    spec = GameSpec(target, build, f"{func_name}() from module {module_name}")
    spec.make()  # fail now, before any work, if it does not return a game
    return spec


def resolve(names: list[str], seed: int) -> list[GameSpec]:
    """Game specs for ``names`` (built-in names or ``module:function``), in order."""
    known = builtin(seed)
    out = []
    for name in names:
        if ":" in name:
            out.append(_from_function(name, seed))
        elif name in known:
            out.append(known[name])
        else:
            raise CompareError(f"unknown game {name!r} in --games; known games: {', '.join(known)} "
                               "(or module:function returning an equilib.Game)")
    return out
