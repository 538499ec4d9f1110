"""Base optimizers as pure, differentiable functions: ``update(direction, state) -> (move, new state)``.

:class:`FunctionalStep` is a copy of a base optimizer's rule (equilib's SGD, torch.optim's SGD,
Adam, AdamW, RMSprop, Adagrad) that never changes a tensor in place, so autograd can differentiate
through several of its steps: what unrolled GANs need (Metz et al. 2017 unroll the
discriminator's own Adam, with its state). ``FunctionalStep.of(optimizer)`` reads the rule and the
hyperparameters from a live optimizer and ``state_of`` copies its current state, so the copy
starts where the real optimizer is. One step of the copy equals one ``optimizer.step()`` with the
direction as the gradient (tested against torch.optim for every rule, several steps in a row).

Rules, with d the direction, t the step count after this step, and the move added to theta:

- SGD: b = beta b + (1 - dampening) d (b_1 = d), nesterov d + beta b; move = -eta b.
- Adam: m = b1 m + (1 - b1) d, v = b2 v + (1 - b2) d^2; move = -eta (m / (1 - b1^t)) /
  (sqrt(v / (1 - b2^t)) + eps); weight decay adds wd theta to d (Adam) or moves -eta wd theta (AdamW).
- RMSprop: s = alpha s + (1 - alpha) d^2 (centered: minus the square of the running mean of d);
  move = -eta d / (sqrt(s) + eps), or through a momentum buffer.
- Adagrad: s = s + d^2; move = -eta / (1 + (t - 1) lr_decay) d / (sqrt(s) + eps).

Every rule acts coordinate by coordinate, so the Jacobian of one step
(theta, d, state) -> (move, new state) is made of diagonal blocks: :meth:`FunctionalStep.jacobian_diagonals`
takes them by forward-mode differentiation of :meth:`FunctionalStep.update` itself (one
``torch.func.jvp`` per input), which is how equilib's update maps linearise every base step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from equilib.errors import SolverError
from equilib.optim import SGD

__all__ = ["FunctionalStep"]

State = dict[str, Any]


def _sqrt(x: Tensor) -> Tensor:
    """sqrt with a finite derivative at 0 (there the derivative is taken as 0, not inf)."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, torch.ones_like(x)).sqrt(), torch.zeros_like(x))


class FunctionalStep:
    """The pure rule ``kind`` with hyperparameters ``hyper`` (see the module docstring)."""

    KINDS = ("sgd", "adam", "rmsprop", "adagrad")

    def __init__(self, kind: str, hyper: dict[str, Any]):
        if kind not in self.KINDS:
            raise SolverError(f"no functional step for {kind!r}; known: {list(self.KINDS)}")
        self.kind, self.hyper = kind, dict(hyper)

    @property
    def slots(self) -> tuple[str, ...]:
        """The state tensors the rule keeps per parameter, in a fixed order (the step count aside)."""
        h = self.hyper
        if self.kind == "sgd":
            return ("momentum_buffer",) if h["momentum"] else ()
        if self.kind == "adam":
            return ("exp_avg", "exp_avg_sq")
        if self.kind == "rmsprop":
            return ("square_avg",) + (("grad_avg",) if h["centered"] else ()) \
                + (("momentum_buffer",) if h["momentum"] else ())
        return ("sum",)

    @property
    def linear(self) -> bool:
        """Whether (theta, d, state) -> (move, new state) is linear (SGD), so its Jacobian is the same
        at every point, direction and state; the adaptive rules' Jacobians change with all three."""
        return self.kind == "sgd"

    def jacobian_diagonals(self, param: Tensor, direction: Tensor, state: State) -> Tensor:
        """The Jacobian of one step of one parameter tensor, (theta, d, s_1..s_k) -> (move, s_1'..s_k')
        over :attr:`slots`, as a tensor of shape (1 + k, 2 + k, *param.shape): entry [o, i] is the
        diagonal of d output_o / d input_i (every rule is coordinate-wise, so the blocks are diagonal).

        Forward mode on :meth:`update` itself, one ``torch.func.jvp`` per input. A slot missing from
        ``state`` (before the first step) is taken as zeros, the rules' own start (torch's SGD with
        dampening is the exception: its first step skips the dampening, and the map given is that
        of every later step).
        """
        slots = self.slots
        step = {k: v for k, v in state.items() if k not in slots}
        values = [state[k] if k in state else torch.zeros_like(param) for k in slots]

        def one_step(p, d, *slot_values):
            moves, states = self.update([p], [d], [{**step, **dict(zip(slots, slot_values))}])
            return (moves[0],) + tuple(states[0][k] for k in slots)

        primals = (param, direction, *values)
        columns = []
        for i in range(len(primals)):
            tangents = tuple(torch.ones_like(t) if j == i else torch.zeros_like(t) for j, t in enumerate(primals))
            _, out = torch.func.jvp(one_step, primals, tangents)
            columns.append(torch.stack(out))
        return torch.stack(columns, dim=1)

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer) -> FunctionalStep:
        """The rule and hyperparameters of ``optimizer`` (its first param group)."""
        g = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
        if g.get("maximize") or g.get("amsgrad"):
            raise SolverError("the functional copy of a base optimizer does not support maximize or amsgrad")
        if len({repr({k: v for k, v in pg.items() if k != "params"}) for pg in optimizer.param_groups}) > 1:
            raise SolverError("the functional copy needs one set of hyperparameters per player's optimizer")
        if isinstance(optimizer, SGD):
            return cls("sgd", {"lr": g["lr"], "momentum": g["momentum"], "dampening": 0.0, "nesterov": False,
                               "weight_decay": 0.0})
        if isinstance(optimizer, torch.optim.SGD):
            return cls("sgd", {k: g[k] for k in ("lr", "momentum", "dampening", "nesterov", "weight_decay")})
        if isinstance(optimizer, torch.optim.Adam):  # AdamW is a subclass in recent torch
            decoupled = bool(g.get("decoupled_weight_decay", isinstance(optimizer, torch.optim.AdamW)))
            return cls("adam", {"lr": g["lr"], "betas": tuple(g["betas"]), "eps": g["eps"],
                                "weight_decay": g["weight_decay"], "decoupled": decoupled})
        if isinstance(optimizer, torch.optim.AdamW):
            return cls("adam", {"lr": g["lr"], "betas": tuple(g["betas"]), "eps": g["eps"],
                                "weight_decay": g["weight_decay"], "decoupled": True})
        if isinstance(optimizer, torch.optim.RMSprop):
            return cls("rmsprop", {k: g[k] for k in ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")})
        if isinstance(optimizer, torch.optim.Adagrad):
            if g.get("initial_accumulator_value", 0):
                raise SolverError("the functional Adagrad starts from a zero accumulator")
            return cls("adagrad", {k: g[k] for k in ("lr", "lr_decay", "eps", "weight_decay")})
        raise SolverError(f"no functional copy of {type(optimizer).__name__}; known: equilib's SGD and torch.optim's "
                          "SGD, Adam, AdamW, RMSprop, Adagrad")

    def state_of(self, optimizer: torch.optim.Optimizer, params: Sequence[Tensor]) -> list[State]:
        """Detached copies of ``optimizer``'s state for ``params`` (empty where it has none yet)."""
        out = []
        for p in params:
            st = optimizer.state.get(p, {})
            out.append({k: (v.detach().clone() if isinstance(v, Tensor) else v) for k, v in st.items()})
        return out

    def update(self, params: Sequence[Tensor], directions: Sequence[Tensor],
               state: Sequence[State]) -> tuple[list[Tensor], list[State]]:
        """(moves, new states): one step of the rule, out of place and differentiable."""
        rule = getattr(self, f"_{self.kind}")
        moves, states = [], []
        for p, d, st in zip(params, directions, state):
            m, s = rule(p, d, dict(st), self.hyper)
            moves.append(m)
            states.append(s)
        return moves, states

    @staticmethod
    def _sgd(p, d, st, h):
        if h["weight_decay"]:
            d = d + h["weight_decay"] * p
        if h["momentum"]:
            buf = st.get("momentum_buffer")
            buf = d if buf is None else h["momentum"] * buf + (1 - h["dampening"]) * d
            st["momentum_buffer"] = buf
            d = d + h["momentum"] * buf if h["nesterov"] else buf
        return -h["lr"] * d, st

    @staticmethod
    def _adam(p, d, st, h):
        b1, b2 = h["betas"]
        t = float(st.get("step", 0)) + 1
        move_decay = 0.0
        if h["weight_decay"]:
            if h["decoupled"]:
                move_decay = -h["lr"] * h["weight_decay"] * p
            else:
                d = d + h["weight_decay"] * p
        m = b1 * st.get("exp_avg", torch.zeros_like(d)) + (1 - b1) * d
        v = b2 * st.get("exp_avg_sq", torch.zeros_like(d)) + (1 - b2) * d * d
        denom = _sqrt(v) / (1 - b2 ** t) ** 0.5 + h["eps"]
        st.update(step=torch.tensor(t), exp_avg=m, exp_avg_sq=v)
        return move_decay - (h["lr"] / (1 - b1 ** t)) * m / denom, st

    @staticmethod
    def _rmsprop(p, d, st, h):
        if h["weight_decay"]:
            d = d + h["weight_decay"] * p
        a = h["alpha"]
        s = a * st.get("square_avg", torch.zeros_like(d)) + (1 - a) * d * d
        st["square_avg"] = s
        if h["centered"]:
            mean = a * st.get("grad_avg", torch.zeros_like(d)) + (1 - a) * d
            st["grad_avg"] = mean
            s = s - mean * mean
        avg = _sqrt(s) + h["eps"]
        st["step"] = torch.tensor(float(st.get("step", 0)) + 1)
        if h["momentum"]:
            buf = h["momentum"] * st.get("momentum_buffer", torch.zeros_like(d)) + d / avg
            st["momentum_buffer"] = buf
            return -h["lr"] * buf, st
        return -h["lr"] * d / avg, st

    @staticmethod
    def _adagrad(p, d, st, h):
        t = float(st.get("step", 0)) + 1
        if h["weight_decay"]:
            d = d + h["weight_decay"] * p
        s = st.get("sum", torch.zeros_like(d)) + d * d
        st.update(step=torch.tensor(t), sum=s)
        clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
        return -clr * d / (_sqrt(s) + h["eps"]), st
