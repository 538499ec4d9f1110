"""Base steps: what a solver does with its update direction d.

Every solver computes a direction d per player (plain gradient play: d = xi) and
hands it to that player's base optimizer as if it were the gradient. With plain
SGD the step is theta <- theta - eta * d; with Adam the extragradient solver is
ExtraAdam and the optimistic one is Optimistic Adam. Any ``torch.optim.Optimizer``
subclass works; ``"sgd"`` is equilib's own heavy-ball SGD, which, unlike
torch.optim.SGD, accepts negative momentum (Gidel et al. 2019).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from equilib.errors import SolverError

__all__ = ["SGD", "OPTIMIZERS", "make_optimizer"]


class SGD(torch.optim.Optimizer):
    """Heavy-ball SGD: b <- beta * b + d; theta <- theta - eta * b (b_0 = d).

    Equivalent to theta_{t+1} = theta_t - eta d_t + beta (theta_t - theta_{t-1});
    beta may be negative (negative momentum, Gidel et al. 2019), |beta| < 1.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0):
        if not -1.0 < momentum < 1.0:
            raise SolverError(f"momentum must be in (-1, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - torch.optim signature
        for group in self.param_groups:
            lr, beta = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if beta != 0.0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d.clone()
                    else:
                        state["momentum_buffer"].mul_(beta).add_(d)
                    d = state["momentum_buffer"]
                p.add_(d, alpha=-lr)
        return None


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def optimizer_class(spec: Any) -> type[torch.optim.Optimizer]:
    """Resolve ``None`` (SGD), a name in :data:`OPTIMIZERS`, or a torch.optim class."""
    if spec is None:
        return SGD
    if isinstance(spec, str):
        key = spec.lower()
        if key not in OPTIMIZERS:
            raise SolverError(f"unknown optimizer {spec!r}; known: {sorted(OPTIMIZERS)} or a torch.optim.Optimizer class")
        return OPTIMIZERS[key]
    if isinstance(spec, type) and issubclass(spec, torch.optim.Optimizer):
        return spec
    raise SolverError(
        f"optimizer must be None, one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer class, got {spec!r}"
    )


def make_optimizer(spec: Any, params: list[Tensor], lr: float,
                   options: Mapping[str, Any] | None) -> torch.optim.Optimizer:
    """One player's base optimizer."""
    cls = optimizer_class(spec)
    try:
        return cls(params, lr=lr, **dict(options or {}))
    except TypeError as e:
        raise SolverError(f"optimizer {cls.__name__} rejected optimizer_options {dict(options or {})}: {e}") from e
    except ValueError as e:
        if isinstance(e, SolverError):
            raise
        raise SolverError(f"optimizer {cls.__name__}: {e}") from e
