"""Games: named players, each owning parameters and minimizing its own loss.

A game with players i = 1..n and parameters theta = (theta_1, ..., theta_n) is a
function ``losses(theta, *args) -> {i: L_i(theta)}``. Player i minimizes L_i over
theta_i. Its simultaneous gradient (vector field) is xi = (d L_i / d theta_i)_i; see
:mod:`equilib.field` for xi and the products with its Jacobian J = d xi / d theta.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Union

import torch
from torch import Tensor, nn
from torch.func import functional_call

from equilib.errors import GameError, NonFiniteError

ParamSpec = Union[Tensor, Mapping[str, Tensor], nn.Module]
LossFn = Callable[..., Mapping[str, Tensor]]

__all__ = ["Game", "ZeroSumGame", "ParamSpec"]


class _Player:
    """One player's parameters: a tensor, a dict of tensors, or an nn.Module."""

    def __init__(self, name: str, spec: ParamSpec):
        if not isinstance(name, str) or not name:
            raise GameError(f"player names must be non-empty strings, got {name!r}")
        self.name = name
        self.spec = spec
        if isinstance(spec, nn.Module):
            self.kind = "module"
            named = [(k, p) for k, p in spec.named_parameters() if p.requires_grad]
            self.buffers = [b for _, b in spec.named_buffers()]
        elif isinstance(spec, Tensor):
            self.kind = "tensor"
            named = [("", spec)]
            self.buffers = []
        elif isinstance(spec, Mapping):
            self.kind = "dict"
            named = list(spec.items())
            for k, t in named:
                if not isinstance(t, Tensor):
                    raise GameError(
                        f"player {name!r}: entry {k!r} is a {type(t).__name__}; "
                        "a dict player must map names to tensors"
                    )
            self.buffers = []
        else:
            raise GameError(
                f"player {name!r}: parameters must be a Tensor, a dict of Tensors or an "
                f"nn.Module, got {type(spec).__name__}"
            )
        for k, t in named:
            if not t.is_floating_point():
                raise GameError(
                    f"player {name!r}: parameter {k or '<tensor>'!r} has dtype {t.dtype}; "
                    "players' parameters must be floating point"
                )
        if not named:
            raise GameError(
                f"player {name!r} has no floating-point parameters that require grad"
            )
        self.names = [k for k, _ in named]
        self.tensors = [t for _, t in named]

    def structure(self, tensors: list[Tensor], current: bool) -> Any:
        """What the loss function sees for this player, built from ``tensors``.

        At the current point a module player is the module itself (no overhead);
        elsewhere it is a functional view that calls the module with ``tensors``
        and with copies of its buffers (so extra evaluations leave BatchNorm
        statistics alone).
        """
        if self.kind == "tensor":
            return tensors[0]
        if self.kind == "dict":
            return dict(zip(self.names, tensors))
        if current:
            return self.spec
        return FunctionalModule(self.spec, dict(zip(self.names, tensors)))


class FunctionalModule:
    """A module called with other parameter values: ``view(x) == module(x)`` at ``params``.

    Buffers are copied, so a forward in train mode does not change the module's
    running statistics. Attribute access falls through to the module.
    """

    def __init__(self, module: nn.Module, params: dict[str, Tensor]):
        self.module = module
        self.params = params

    def __call__(self, *args, **kwargs):
        state = dict(self.params)
        for k, b in self.module.named_buffers():
            state[k] = b.clone()
        return functional_call(self.module, state, args, kwargs)

    def __getattr__(self, item):
        return getattr(self.module, item)


class Game:
    """An n-player differentiable game.

    Args:
        params: ``{player: Tensor | dict[str, Tensor] | nn.Module}``, in play order.
            The tensors are updated in place by solvers; their dtype and device are kept.
        losses: ``fn(params, *args) -> {player: scalar Tensor}``; ``params`` has the
            same structure as the ``params`` argument. Player i minimizes its loss
            over its own parameters.
    """

    def __init__(self, params: Mapping[str, ParamSpec], losses: LossFn):
        if not isinstance(params, Mapping) or not params:
            raise GameError("params must be a non-empty dict {player name: parameters}")
        if not callable(losses):
            raise GameError(f"losses must be callable, got {type(losses).__name__}")
        self._players = [_Player(name, spec) for name, spec in params.items()]
        self._losses_fn = losses
        self._check_no_sharing()
        self._starts = []
        n = 0
        for p in self._players:
            self._starts.append(n)
            n += len(p.tensors)
        self._count = n
        self._names = tuple(p.name for p in self._players)
        self._slices = {p.name: slice(start, start + len(p.tensors)) for p, start in zip(self._players, self._starts)}
        self._all_modules = all(p.kind == "module" for p in self._players)

    # ---- structure ---------------------------------------------------------
    def _check_no_sharing(self) -> None:
        owner: dict[int, str] = {}
        for p in self._players:
            for t in p.tensors:
                key = t.untyped_storage().data_ptr()
                if key in owner and owner[key] != p.name and t.numel() > 0:
                    raise GameError(
                        f"players {owner[key]!r} and {p.name!r} share a parameter tensor; "
                        "each parameter must belong to exactly one player"
                    )
                owner[key] = p.name

    @property
    def players(self) -> tuple[str, ...]:
        """Player names in declared order."""
        return self._names

    @property
    def params(self) -> dict[str, ParamSpec]:
        """``{player: parameters}`` as given (the live, updated objects)."""
        return {p.name: p.spec for p in self._players}

    def parameters(self, player: str | None = None) -> list[Tensor]:
        """The parameter tensors of one player, or of all players in order."""
        if player is None:
            return [t for p in self._players for t in p.tensors]
        return list(self._player(player).tensors)

    def slice(self, player: str) -> slice:
        """Where ``player``'s tensors sit in the flat list :meth:`parameters`."""
        try:
            return self._slices[player]
        except (KeyError, TypeError):
            self._player(player)  # raises GameError naming the players
            raise

    def num_parameters(self, player: str | None = None) -> int:
        """Number of scalar parameters of one player, or of the whole game."""
        return sum(t.numel() for t in self.parameters(player))

    def buffers(self) -> list[Tensor]:
        """Buffers (e.g. BatchNorm running statistics) of module players."""
        return [b for p in self._players for b in p.buffers]

    def _player(self, name: str) -> _Player:
        for p in self._players:
            if p.name == name:
                return p
        raise GameError(f"unknown player {name!r}; the players are {list(self.players)}")

    # ---- evaluation ----------------------------------------------------------
    def evaluate(self, tensors: list[Tensor] | None = None, *args) -> tuple[dict[str, Tensor], list[Tensor]]:
        """Losses at ``tensors`` (the flat list of all parameters), or at the current point.

        Returns ``(losses, inputs)`` where ``inputs`` are the tensors to differentiate
        against: at the current point, the module players' own parameters and
        detached views (requiring grad) of tensor and dict players' parameters;
        elsewhere the given tensors, untouched (so torch.func transforms apply).
        """
        current = tensors is None
        if current and self._all_modules:  # the common GAN case: the modules themselves
            tensors = [t for p in self._players for t in p.tensors]
            losses = self._losses_fn({p.name: p.spec for p in self._players}, *args)
            return self._check_losses(losses), tensors
        if current:
            tensors = [t if p.kind == "module" else t.detach().requires_grad_(True)
                       for p in self._players for t in p.tensors]
        elif len(tensors) != self._count:
            raise GameError(f"expected {self._count} tensors, got {len(tensors)}")

        structure = {}
        for p, start in zip(self._players, self._starts):
            structure[p.name] = p.structure(tensors[start:start + len(p.tensors)], current)
        losses = self._losses_fn(structure, *args)
        return self._check_losses(losses), tensors

    def losses(self, *args) -> dict[str, Tensor]:
        """Each player's loss at the current parameters, without gradient tracking."""
        with torch.no_grad():
            return self.evaluate(None, *args)[0]

    def _check_losses(self, losses: Any) -> dict[str, Tensor]:
        if not isinstance(losses, Mapping):
            raise GameError(
                f"the losses function must return a dict {{player: scalar tensor}}, "
                f"got {type(losses).__name__}"
            )
        if len(losses) != len(self._names) or any(n not in losses for n in self._names):
            missing = [n for n in self.players if n not in losses]
            extra = [n for n in losses if n not in self.players]
            raise GameError(
                f"the losses function must return one loss per player {list(self.players)}; "
                f"missing {missing}, unknown {extra}"
            )
        out = {}
        for name in self._names:
            loss = losses[name]
            if type(loss) is Tensor and loss.dim() == 0 and loss.is_floating_point():
                out[name] = loss  # the common case, checked in three attribute reads
                continue
            if not isinstance(loss, Tensor):
                raise GameError(
                    f"loss of player {name!r} is a {type(loss).__name__}; it must be a scalar tensor"
                )
            if loss.numel() != 1:
                raise GameError(
                    f"loss of player {name!r} has shape {tuple(loss.shape)}; it must be a scalar"
                )
            if not loss.is_floating_point():
                raise GameError(f"loss of player {name!r} has dtype {loss.dtype}; it must be floating point")
            out[name] = loss if loss.dim() == 0 else loss.reshape(())
        return out

    def check_finite_losses(self, losses: Mapping[str, Tensor], step: int) -> None:
        """Raise :class:`NonFiniteError` naming the player whose loss is NaN or Inf."""
        values = torch.stack([l.detach() for l in losses.values()])
        if not bool(torch.isfinite(values).all()):
            for name, l in losses.items():
                if not torch.isfinite(l).all():
                    raise NonFiniteError(name, step, "loss", float(l.detach()))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{p.name}: {self.num_parameters(p.name)}" for p in self._players)
        return f"{type(self).__name__}({sizes})"


class ZeroSumGame(Game):
    """A two-player zero-sum game: the first player minimizes ``value``, the second maximizes it.

    ``value(params, *args) -> scalar``; the losses are (V, -V).
    """

    def __init__(self, params: Mapping[str, ParamSpec], value: Callable[..., Tensor]):
        if not isinstance(params, Mapping) or len(params) != 2:
            n = len(params) if isinstance(params, Mapping) else type(params).__name__
            raise GameError(f"a ZeroSumGame has exactly two players (min, max), got {n}")
        if not callable(value):
            raise GameError(f"value must be callable, got {type(value).__name__}")
        self.value_fn = value
        minimizer, maximizer = list(params)

        def losses(p, *args):
            v = value(p, *args)
            if not isinstance(v, Tensor):
                raise GameError(f"value must return a scalar tensor, got {type(v).__name__}")
            return {minimizer: v, maximizer: -v}

        super().__init__(params, losses)

    def value(self, *args) -> Tensor:
        """The value V at the current parameters."""
        return self.losses(*args)[self.players[0]]
