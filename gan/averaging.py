"""Averages of the generator's parameters along training (Gidel et al. 2019, Sec. 3.1; Yazici et al. 2019).

- Exponential moving average, bias-corrected as Adam's moments (Kingma and Ba 2015):
  m_t = beta m_{t-1} + (1 - beta) theta_t with m_0 = 0, bar_theta_t = m_t / (1 - beta^t), i.e.
  bar_theta_t = bar_theta_{t-1} + (theta_t - bar_theta_{t-1}) (1 - beta) / (1 - beta^t). The
  initial weights carry no weight (uncorrected, 13.5% of a 0.999 average is still theta_0 after
  2,000 steps, which makes an early EMA generator look collapsed).
- Uniform average from step s on: bar_theta_t = (1 / (t - s + 1)) * sum_{k=s..t} theta_k,
  computed incrementally as bar_theta_t = bar_theta_{t-1} + (theta_t - bar_theta_{t-1}) / n.

Both keep a copy of the module (``.module``) whose parameters are the average and
whose buffers (BatchNorm running statistics) are copied from the live module, so the
copy can be used to sample as it is. Their state is in ``state_dict()`` for checkpoints.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["EMA", "UniformAverage", "AveragingError"]


class AveragingError(ValueError):
    """A wrong averaging option or state."""


class _Average:
    kind = ""

    def __init__(self, module: nn.Module):
        if not isinstance(module, nn.Module):
            raise AveragingError(f"module must be an nn.Module, got {type(module).__name__}")
        self.source = module
        self.module = copy.deepcopy(module)
        self.module.requires_grad_(False)
        self.count = 0

    def _pairs(self):
        return zip(self.module.parameters(), self.source.parameters())

    @torch.no_grad()
    def _copy_buffers(self) -> None:
        for b_avg, b in zip(self.module.buffers(), self.source.buffers()):
            b_avg.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "module": self.module.state_dict(),
                **self._extra_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("kind") != self.kind:
            got = state.get("kind") if isinstance(state, Mapping) else type(state).__name__
            raise AveragingError(f"state is for averaging {got!r}, this is {self.kind!r}")
        self.module.load_state_dict(state["module"])
        self.count = int(state["count"])
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        pass


class EMA(_Average):
    """Bias-corrected exponential moving average of a module's parameters, decay ``beta`` in [0, 1).

    The t-th :meth:`update` sets bar_theta <- bar_theta + w_t (theta - bar_theta),
    w_t = (1 - beta) / (1 - beta^t): the average of theta_1..theta_t with weights
    proportional to beta^(t - k), the initial weights not included (w_1 = 1).
    """

    kind = "ema"

    def __init__(self, module: nn.Module, beta: float = 0.999):
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
            raise AveragingError(f"beta must be a number in [0, 1), got {beta!r}")
        super().__init__(module)
        self.beta = float(beta)

    @torch.no_grad()
    def update(self) -> None:
        self.count += 1
        w = (1.0 - self.beta) / (1.0 - self.beta ** self.count)
        for p_avg, p in self._pairs():
            p_avg.lerp_(p.detach(), w)
        self._copy_buffers()

    def _extra_state(self):
        return {"beta": self.beta}

    def _load_extra_state(self, state):
        if float(state["beta"]) != self.beta:
            raise AveragingError(f"state has beta {state['beta']}, this EMA has beta {self.beta}")


class UniformAverage(_Average):
    """Uniform average of the parameters over the updates since it started.

    The first :meth:`update` sets bar_theta = theta; the n-th sets
    bar_theta <- bar_theta + (theta - bar_theta) / n.
    """

    kind = "uniform"

    @torch.no_grad()
    def update(self) -> None:
        self.count += 1
        w = 1.0 / self.count
        for p_avg, p in self._pairs():
            p_avg.lerp_(p.detach(), w)
        self._copy_buffers()
