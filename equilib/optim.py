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

__all__ = ["SGD", "OPTIMIZERS", "make_optimizer", "fast_options"]


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
            pairs = [(p, p.grad) for p in group["params"] if p.grad is not None]
            if pairs:
                self._update(group, [p for p, _ in pairs], [d for _, d in pairs])
        return None

    @torch.no_grad()
    def step_with(self, directions: list[Tensor]) -> None:
        """The step with ``directions`` (one per parameter, in order) in place of ``.grad``.

        The same arithmetic as :meth:`step`, without touching ``.grad``, in fused
        (foreach) kernels: what the solvers call.
        """
        k = 0
        for group in self.param_groups:
            n = len(group["params"])
            self._update(group, group["params"], directions[k:k + n])
            k += n

    @torch.no_grad()
    def move_for(self, directions: list[Tensor]) -> list[Tensor]:
        """The move -eta b that :meth:`step_with` would add, advancing the momentum state
        but leaving the parameters alone."""
        moves, k = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            ds = self._momentum(group, group["params"], directions[k:k + n])
            moves += torch._foreach_mul(ds, -group["lr"])
            k += n
        return moves

    def _update(self, group: dict, params: list[Tensor], directions: list[Tensor]) -> None:
        torch._foreach_add_(params, self._momentum(group, params, directions), alpha=-group["lr"])

    def _momentum(self, group: dict, params: list[Tensor], directions: list[Tensor]) -> list[Tensor]:
        """b = beta b + d (b_0 = d), kept as state; ``directions`` itself without momentum."""
        beta = group["momentum"]
        if beta != 0.0:
            buffers = []
            for p, d in zip(params, directions):
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = d.clone()
                    buffers.append(None)
                else:
                    buffers.append(state["momentum_buffer"])
            old = [b for b in buffers if b is not None]
            if old:
                torch._foreach_mul_(old, beta)
                torch._foreach_add_(old, [d for b, d in zip(buffers, directions) if b is not None])
            directions = [self.state[p]["momentum_buffer"] for p in params]
        return directions


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


def fast_options(spec: Any, params: Iterable[Tensor]) -> dict[str, Any]:
    """The fastest implementation torch offers for the base step ``spec`` on ``params``, as optimizer options.

    ``{"fused": True}`` where the class has a fused kernel for every parameter's device and dtype
    (torch.optim's Adam, AdamW, SGD and Adagrad, on CPU since torch 2.4 and on CUDA): one kernel per
    step over all tensors, the same update rule rounded in another order (float32 rounding, see
    tests/test_fused.py); else ``{"foreach": True}`` where the class has a foreach path for those
    devices; else ``{}`` (equilib's SGD, already foreach, and RMSprop on CPU).
    """
    from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices, \
        _get_fused_kernels_supported_devices

    cls = optimizer_class(spec)
    params = list(params)
    if cls is SGD or not params:
        return {}
    import inspect
    accepted = inspect.signature(cls.__init__).parameters
    devices = {t.device.type for t in params}
    floating = all(t.is_floating_point() for t in params)
    if "fused" in accepted and floating and devices <= set(_get_fused_kernels_supported_devices()):
        return {"fused": True}
    if "foreach" in accepted and devices <= set(_get_foreach_kernels_supported_devices()):
        return {"foreach": True}
    return {}

