"""What every solver shares: configuration checks, base optimizers, state, rollback.

Notation in every solver's docstring: theta are all parameters, xi(theta) the
simultaneous gradient, J = d xi / d theta its Jacobian, eta the step size
(per player). A solver computes a direction d and each player's base optimizer
steps with it as if it were the gradient; with plain SGD, theta <- theta - eta d.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from equilib import distributed
from equilib.errors import NonFiniteError, SolverError
from equilib.field import Field, check_finite
from equilib.game import Game
from equilib.optim import SGD, make_optimizer, optimizer_class
from equilib.solvers.divergence import NonFinitePolicy
from equilib.solvers.linear_map import LinearizedStep
from equilib.solvers.options import LearningRates, check_number, per_player, positive

__all__ = ["Solver", "check_number", "per_player"]

Vector = list[Tensor]


class Solver(LinearizedStep):
    """Base class. Subclasses set ``name``, ``defaults`` (their options) and ``_step``, or, when
    they move once per step, ``_direction`` (the step is then the base step with that direction)
    and ``direction_map`` (its Jacobian, for the update map; :mod:`equilib.solvers.linear_map`).

    Args:
        game: the :class:`equilib.Game` to solve.
        lr: step size eta, a float or ``{player: float}``.
        optimizer: base step: ``None``/``"sgd"``, ``"adam"``, ``"rmsprop"``, ... or a
            ``torch.optim.Optimizer`` class.
        optimizer_options: keyword arguments for the base optimizer (e.g.
            ``{"momentum": -0.5}`` or ``{"betas": (0.5, 0.999)}``); one dict for all
            players or ``{player: dict}``.
        on_nonfinite: what a step that meets a NaN or Inf does: ``"raise"`` (default),
            ``"skip"``, ``"rollback"`` or a :class:`NonFinitePolicy` (see
            :mod:`equilib.solvers.divergence`).
        **options: the solver's own options (see ``defaults``).
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    multistage: ClassVar[bool] = False  # changes parameters more than once per step
    #: whether a step differentiates through gradients (Jacobian products, unrolled inner steps):
    #: double backward, which e.g. torch.compile's AOTAutograd does not support
    second_order: ClassVar[bool] = False

    def __init__(self, game: Game, lr: float | Mapping[str, float], optimizer: Any = None,
                 optimizer_options: Mapping[str, Any] | None = None, on_nonfinite: Any = "raise",
                 **options: Any):
        if not isinstance(game, Game):
            raise SolverError(f"game must be an equilib.Game, got {type(game).__name__}")
        self.nonfinite = NonFinitePolicy.of(on_nonfinite)
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            allowed = sorted(self.defaults) or "none"
            raise SolverError(f"solver {self.name!r} does not take option(s) {unknown}; its options: {allowed}")
        self.game = game
        self.options = {**self.defaults, **options}
        lr = per_player(lr, game.players, "lr", positive("lr"))
        optimizer_class(optimizer)  # validate before anything else
        if optimizer_options is not None and not isinstance(optimizer_options, Mapping):
            raise SolverError(f"optimizer_options must be a dict, got {type(optimizer_options).__name__}")
        if optimizer_options and all(p in optimizer_options for p in game.players) \
                and all(isinstance(v, Mapping) for v in optimizer_options.values()):
            opt_options = dict(optimizer_options)
        else:
            opt_options = {p: optimizer_options for p in game.players}
        self._check_options()
        self.optimizer_spec = optimizer
        self.optimizers = {
            p: make_optimizer(optimizer, game.parameters(p), lr[p], opt_options[p])
            for p in game.players
        }
        self.steps = 0
        if distributed.active():
            self._start_together(optimizer, opt_options)

    def _start_together(self, optimizer: Any, opt_options: Mapping[str, Any]) -> None:
        """Under torch.distributed: stop if the ranks disagree on the solver, its options, the base
        step or the parameters' shapes, then give every rank rank 0's parameters and buffers."""
        shapes = {p: [tuple(t.shape) for t in self.game.parameters(p)] for p in self.game.players}
        differ = distributed.all_same({
            "solver": self.name, "options": repr(self.options), "players": list(self.game.players),
            "optimizer": repr(optimizer), "optimizer_options": repr(opt_options), "lr": repr(dict(self.lr)),
            "parameter count": self.game.num_parameters(), "parameter shapes": repr(shapes),
            "buffer shapes": repr([tuple(b.shape) for b in self.game.buffers()]),
            "on_nonfinite": repr(self.nonfinite.state_dict()),
        })
        if differ:
            detail = "; ".join(f"{k}: " + ", ".join(f"rank {r} {v}" for r, v in ranks.items())
                               for k, ranks in differ.items())
            raise SolverError(f"the ranks disagree on {', '.join(differ)} ({detail}); every rank must build "
                              "the same solver on the same game")
        distributed.broadcast(self.game.parameters() + self.game.buffers())

    @property
    def lr(self) -> LearningRates:
        """``{player: eta}``: the base optimizers' current rates (what schedulers change)."""
        return LearningRates(self.optimizers)

    @lr.setter
    def lr(self, value: float | Mapping[str, float]) -> None:
        rates = per_player(value, self.game.players, "lr", positive("lr"))
        for p, v in rates.items():
            self.lr[p] = v

    # ---- to override --------------------------------------------------------
    def _check_options(self) -> None:
        """Validate ``self.options``; raise :class:`SolverError` naming the option."""

    def _step(self, args: tuple) -> dict[str, Tensor]:
        losses, direction = self._direction(args)
        self.apply(direction)
        return losses

    def _extra_state(self) -> dict[str, Any]:
        """Solver state beyond the base optimizers (e.g. a previous update)."""
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        pass

    # ---- public -------------------------------------------------------------
    def step(self, *args: Any) -> dict[str, Tensor]:
        """One step of the solver; ``args`` (e.g. a batch) are passed to the losses.

        Returns each player's loss (detached) at the point the step started from.
        On a NaN or Inf loss or gradient the parameters and solver state are left as
        before the step, and then, by ``on_nonfinite``: :class:`NonFiniteError` is raised
        naming the player and the step, or the step is dropped (``skip``; ``rollback``
        also scales the learning rates), a :class:`NonFiniteWarning` is issued and the
        returned losses are NaN. ``steps`` counts dropped steps too.
        """
        snapshot = self._snapshot() if self.multistage else None
        try:
            with torch.enable_grad():  # solvers differentiate, also inside a caller's no_grad
                losses = self._step(args)
        except NonFiniteError as error:
            if snapshot is not None:
                self._restore(snapshot)
            self.nonfinite.handle(error, self)  # raises unless the policy drops the step
            losses = {p: torch.tensor(math.nan) for p in self.game.players}
        self.steps += 1
        return {k: v.detach() for k, v in losses.items()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume bit-identically: step count, base optimizers, solver state."""
        return {
            "solver": self.name,
            "players": list(self.game.players),
            "steps": self.steps,
            "options": dict(self.options),
            "optimizers": {p: opt.state_dict() for p, opt in self.optimizers.items()},
            "state": self._extra_state(),
            "nonfinite": self.nonfinite.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; checked against this solver and game first."""
        if not isinstance(state, Mapping) or "solver" not in state:
            raise SolverError("state must be a dict made by Solver.state_dict()")
        if state["solver"] != self.name:
            raise SolverError(f"state was saved by solver {state['solver']!r}, this is {self.name!r}")
        if list(state["players"]) != list(self.game.players):
            raise SolverError(f"state is for players {state['players']}, this game has {list(self.game.players)}")
        saved = state.get("options", self.options)  # states saved before options were kept: not checked
        differ = {k: (saved.get(k), v) for k, v in self.options.items() if saved.get(k) != v}
        if differ:
            detail = ", ".join(f"{k}: saved {a!r}, this solver {b!r}" for k, (a, b) in differ.items())
            raise SolverError(f"state was saved by a {self.name} solver with other options ({detail})")
        for p, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][p])
        self._load_extra_state(state["state"])
        self.nonfinite.load_state_dict(state.get("nonfinite", {}))
        self.steps = int(state["steps"])

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(lr={self.lr}{', ' + opts if opts else ''})"

    # ---- helpers for subclasses ---------------------------------------------
    def field(self, args: tuple, create_graph: bool = False, players: Sequence[str] | None = None,
              tensors: Vector | None = None) -> Field:
        """xi at the current point (or at ``tensors``), checked finite for the step."""
        f = Field(self.game, args, tensors=tensors, create_graph=create_graph, players=players)
        f.check_finite(self.steps)
        return f

    def apply(self, direction: Vector, players: Sequence[str] | None = None, checked: bool = False) -> None:
        """Each player's base optimizer steps with its block of ``direction``.

        The direction is checked finite first, unless ``checked`` (it is a field
        already checked). Players' ``.grad`` are restored afterwards.
        """
        if not checked:
            check_finite(self.game, direction, self.steps, "update direction")
        for p in players or self.game.players:
            block = direction[self.game.slice(p)]
            opt = self.optimizers[p]
            if type(opt) is SGD:  # equilib's own SGD takes the direction directly (fused kernels)
                opt.step_with([d.detach() if d.requires_grad else d for d in block])
                continue
            params = self.game.parameters(p)
            saved = [t.grad for t in params]
            for t, d in zip(params, block):
                t.grad = d.detach() if d.requires_grad else d  # detach costs ~0.5 us a tensor: only when needed
            try:
                opt.step()
            finally:
                for t, g in zip(params, saved):
                    t.grad = g

    def moves(self, direction: Vector) -> Vector:
        """Every player's base-optimizer move for ``direction`` (checked finite by the caller),
        advancing the optimizers' state but not the parameters."""
        out: Vector = []
        for p in self.game.players:
            block = [d.detach() for d in direction[self.game.slice(p)]]
            opt = self.optimizers[p]
            if type(opt) is SGD:
                out += opt.move_for(block)
                continue
            params = self.game.parameters(p)
            with torch.no_grad():
                before = torch._foreach_mul(params, 1.0)
                self.apply(direction, players=[p], checked=True)
                out += torch._foreach_sub(params, before)
                torch._foreach_copy_(params, before)
        return out

    def _snapshot(self, players: Sequence[str] | None = None) -> tuple:
        """Copies of the parameters and base-optimizer state of ``players`` (default all),
        of every buffer, and of the solver's own state."""
        players = list(self.game.players if players is None else players)
        params = {p: [t.detach().clone() for t in self.game.parameters(p)] for p in players}
        buffers = [b.clone() for b in self.game.buffers()]
        opt_state = {
            p: {k: {n: (v.clone() if isinstance(v, Tensor) else v) for n, v in s.items()}
                for k, s in self.optimizers[p].state.items()}
            for p in players
        }
        return params, buffers, opt_state, self._extra_state()

    def _restore(self, snapshot: tuple, solver_state: bool = True) -> None:
        """Put back the parameters and buffers of ``snapshot`` and, if ``solver_state``,
        the base optimizers' and the solver's own state."""
        params, buffers, opt_state, extra = snapshot
        with torch.no_grad():
            for p, values in params.items():
                for t, v in zip(self.game.parameters(p), values):
                    t.copy_(v)
            for b, v in zip(self.game.buffers(), buffers):
                b.copy_(v)
        if not solver_state:
            return
        for p, state in opt_state.items():
            self.optimizers[p].state.clear()
            self.optimizers[p].state.update(state)
        self._load_extra_state(extra)
