"""Conversion of array-likes to float64 CPU tensors, shared by the metrics."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _as_tensor(x, dtype=torch.float64) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x.detach().cpu(), dtype=dtype)
