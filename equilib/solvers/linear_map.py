"""Each solver's linearised one-step map M = d(state after a step) / d(state before), for the diagnostics.

The state is theta followed by the base steps' state tensors (one block of d entries per slot of
:attr:`FunctionalStep.slots`: heavy ball's buffer b, Adam's m and v, ...). A solver that moves once
per step takes theta' = theta + u(theta, d(theta), s), s' = w(theta, d(theta), s), with d its direction
and (u, w) its players' base step. So

    M = [[I + U_theta + U_d L, U_s], [W_theta + W_d L, W_s]],   L = d d / d theta,

where L is written by each solver (:meth:`LinearizedStep.direction_map`, products with J frozen at the
point) and the base step's blocks U_., W_. are derived: forward-mode derivatives of the functional base
step itself (:meth:`equilib.functional_step.FunctionalStep.jacobian_diagonals`). Plain SGD gives
M = I - D L (D = diag of the step sizes); heavy ball b' = beta b + d, theta' = theta - D b' gives
[[I - D L, -D beta], [L, beta]]. Adaptive steps (Adam, RMSprop, Adagrad) depend on the direction and
their state, so their M holds at the current state only (``adaptive=True``).

``products`` is the diagnostics' :class:`equilib.diagnostics.products.Products` or anything with the
same members, at one point, on (d, m) float64 matrices: ``J(V)``, ``JT(V)``, ``H(player, V)`` (Hessian
of a player's loss), ``solve(apply, B, lo, hi)``, ``per_player(values)``, ``mask(players)``, ``d``,
``xi`` (flat), ``ranges`` ([(player, lo, hi)]) and ``field``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from equilib import vec
from equilib.errors import SolverError
from equilib.functional_step import FunctionalStep

__all__ = ["NoUpdateMap", "LinearizedStep", "BaseStepJacobian"]

Apply = Callable[[Tensor], Tensor]


class NoUpdateMap(SolverError):
    """The solver, with this base step, has no linearised update map; the message says why."""


def base_rules(solver, adaptive: bool) -> dict[str, FunctionalStep]:
    """Each player's base step as a functional rule, or :class:`NoUpdateMap` naming the player."""
    rules = {}
    for p, opt in solver.optimizers.items():
        kind = type(opt).__name__
        try:
            rule = FunctionalStep.of(opt)
        except SolverError as e:
            raise NoUpdateMap(f"player {p!r} of solver {solver.name!r} uses base optimizer {kind}, which has no "
                              f"functional copy to linearise ({e})") from None
        if not rule.linear and not adaptive:
            raise NoUpdateMap(
                f"player {p!r} of solver {solver.name!r} uses base optimizer {kind}; update-map predictions need the "
                "SGD base (optimizer=None or 'sgd'): an adaptive step's map changes with its state (at an "
                "equilibrium its averages decay and its steps grow), so it predicts no long-run rate; "
                "adaptive=True gives the Jacobian at the current state")
        rules[p] = rule
    return rules


class BaseStepJacobian:
    """The blocks U_., W_. of every player's base step at the current point, as diagonals over the
    flattened parameters (float64), and the composition with a direction map L.

    ``direction`` (a zero-argument callable giving the flat direction) is called only when a rule is
    adaptive: a linear rule's Jacobian does not depend on it.
    """

    def __init__(self, solver, products, rules: dict[str, FunctionalStep],
                 direction: Callable[[], Tensor] | None = None):
        game, self.d = solver.game, products.d
        self.slots: list[str] = []
        for rule in rules.values():
            self.slots += [s for s in rule.slots if s not in self.slots]
        k = len(self.slots)
        self.size = self.d * (1 + k)
        flat_d = None
        if not all(rule.linear for rule in rules.values()):
            if direction is None:
                raise NoUpdateMap(f"the map of solver {solver.name!r} with an adaptive base step needs the "
                                  "direction at the point")
            flat_d = direction().to(torch.float64).cpu()
        C = torch.zeros(1 + k, 2 + k, self.d, dtype=torch.float64)
        lo = 0
        for p in game.players:
            rule, opt = rules[p], solver.optimizers[p]
            params = game.parameters(p)
            outs = [0] + [1 + self.slots.index(s) for s in rule.slots]
            ins = [0, 1] + [2 + self.slots.index(s) for s in rule.slots]
            if rule.linear:  # the same Jacobian at every coordinate, point and state: take it once per player
                n = sum(t.numel() for t in params)
                one = torch.zeros(1, dtype=torch.float64)
                block = rule.jacobian_diagonals(one, one, {s: one for s in rule.slots})
                for a, o in enumerate(outs):
                    for b, i in enumerate(ins):
                        C[o, i, lo:lo + n] = block[a, b]
                lo += n
                continue
            for t, state in zip(params, rule.state_of(opt, params)):
                n = t.numel()
                t64 = t.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
                d64 = torch.zeros_like(t64) if flat_d is None else flat_d[lo:lo + n]
                st = {s: (v.detach().to(device="cpu", dtype=torch.float64).reshape(-1) if v.dim() else v.cpu())
                      if isinstance(v, Tensor) else v for s, v in state.items()}
                block = rule.jacobian_diagonals(t64, d64, st)
                for a, o in enumerate(outs):
                    for b, i in enumerate(ins):
                        C[o, i, lo:lo + n] = block[a, b]
                lo += n
        self.C = C
        self.terms = [[(i, C[o, i][:, None]) for i in range(2 + k) if bool(C[o, i].any())] for o in range(1 + k)]

    def apply(self, V: Tensor, L: Apply, mask: Tensor | None = None) -> Tensor:
        """M V for the base step taken with direction map ``L``; with ``mask`` (a (d, 1) 0/1 column) only
        the masked players move and update their state (one stage of alternating play)."""
        d = self.d
        X = V[:d]
        S = [V[d * (1 + j):d * (2 + j)] for j in range(len(self.slots))]
        inputs = [X, L(X)] + S

        def combine(o: int) -> Tensor:
            out = torch.zeros_like(X)
            for i, c in self.terms[o]:
                out = out + c * inputs[i]
            return out

        move = combine(0)
        news = [combine(1 + j) for j in range(len(self.slots))]
        if mask is not None:
            move = mask * move
            news = [mask * n + (1 - mask) * s for n, s in zip(news, S)]
        return torch.cat([X + move] + news, dim=0)


class LinearizedStep:
    """The update-map side of :class:`equilib.solvers.Solver` (mixed in).

    A solver that moves once per step writes :meth:`direction_map` (L) and :meth:`_direction`; one that
    moves differently (altgd, extragradient, optimistic) writes :meth:`update_map` itself. A solver
    without a map sets ``no_update_map`` to the reason.
    """

    no_update_map: str | None = None

    # ---- the direction ---------------------------------------------------------
    def _direction(self, args: tuple):
        """(losses, direction) at the current point; solvers that move once per step define it."""
        raise SolverError(f"solver {self.name!r} moves more than once per step; it has no single direction")

    def direction(self, *args) -> list[Tensor]:
        """The direction d the base step would take from the current point (detached), without stepping.

        Evaluates the losses as a step does (module buffers are updated as by a step: call it inside
        ``equilib.diagnostics``' preserved context to keep them); cgd's ``last_info`` and sos's
        ``last_p`` describe this computation afterwards.
        """
        with torch.enable_grad():
            _, d = self._direction(args)
        return vec.detach(d)

    # ---- the map -----------------------------------------------------------------
    def direction_map(self, products) -> Apply:
        """L: V -> (d direction / d theta) V at ``products``' point, J frozen there."""
        raise NoUpdateMap(f"no update map for solver {self.name!r}")

    def check_update_map(self, adaptive: bool = False) -> dict[str, FunctionalStep]:
        """Raise :class:`NoUpdateMap` (saying why) unless this solver with its base steps has a map;
        returns the players' functional base rules."""
        if self.no_update_map:
            raise NoUpdateMap(f"no update map for solver {self.name!r}: {self.no_update_map}")
        return base_rules(self, adaptive)

    def update_map_size(self, adaptive: bool = False) -> int:
        """n, the size of the map's state (theta and the base steps' state)."""
        slots = {s for rule in self.check_update_map(adaptive).values() for s in rule.slots}
        return self.game.num_parameters() * (1 + len(slots))

    def update_map(self, products, adaptive: bool = False,
                   direction: Callable[[], Tensor] | None = None) -> tuple[int, Apply]:
        """(n, V -> M V): the Jacobian M of one step on the state (theta, base-step state) at
        ``products``' point, on (n, m) float64 matrices. ``adaptive`` allows Adam, RMSprop, Adagrad
        bases (M at their current state; ``direction()`` gives the flat direction there)."""
        rules = self.check_update_map(adaptive)
        base = BaseStepJacobian(self, products, rules, direction)
        L = self.direction_map(products)
        return base.size, lambda V: base.apply(V, L)

    def plain_sgd_only(self, rules: dict[str, FunctionalStep], why: str) -> None:
        """Refuse any base step but SGD without momentum or weight decay (a written map on theta alone)."""
        for p, rule in rules.items():
            h = rule.hyper
            if rule.kind != "sgd":
                raise NoUpdateMap(f"player {p!r} of solver {self.name!r} uses base optimizer "
                                  f"{type(self.optimizers[p]).__name__}; the map of {self.name!r} needs the SGD "
                                  f"base (optimizer=None or 'sgd') without momentum ({why})")
            for key in ("momentum", "weight_decay"):
                if h.get(key):
                    raise NoUpdateMap(f"player {p!r} uses SGD with {key}={h[key]}; update maps with {key} are "
                                      f"derived for the solvers that move once per step and for altgd, not for "
                                      f"{self.name!r} ({why}); use {key}=0")
