"""EMA and uniform averages of parameters, against averages computed independently in numpy."""

import numpy as np
import pytest
import torch
from torch import nn

from gan.averaging import EMA, AveragingError, UniformAverage


def _trajectory(module: nn.Module, steps: int, seed: int = 0):
    """Move the module's parameters to random points; yield a numpy copy of each point."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        yield [p.detach().numpy().astype(np.float64).copy() for p in module.parameters()]


def test_ema_matches_closed_form():
    torch.manual_seed(0)
    m = nn.Linear(3, 2)
    beta = 0.9
    ema = EMA(m, beta)
    points = []
    for point in _trajectory(m, 7):
        ema.update()
        points.append(point)
    # bias-corrected (Adam's m_T / (1 - beta^T), m_0 = 0):
    # bar_theta_T = sum_{k=1..T} (1 - beta) beta^(T - k) theta_k / (1 - beta^T); theta_0 has no weight
    T = len(points)
    for i, p_avg in enumerate(ema.module.parameters()):
        want = sum((1 - beta) * beta ** (T - k) * points[k - 1][i] for k in range(1, T + 1)) / (1 - beta ** T)
        np.testing.assert_allclose(p_avg.numpy(), want, rtol=1e-5, atol=1e-6)
    assert ema.count == T
    # the live module is not touched by the average
    assert all(np.array_equal(p.detach().numpy(), q) for p, q in zip(m.parameters(), points[-1]))


def test_uniform_average_is_the_mean_of_the_points():
    m = nn.Linear(4, 3)
    avg = UniformAverage(m)
    points = []
    for point in _trajectory(m, 9, seed=1):
        avg.update()
        points.append(point)
    for i, p_avg in enumerate(avg.module.parameters()):
        np.testing.assert_allclose(p_avg.numpy(), np.mean([pt[i] for pt in points], axis=0), rtol=1e-5, atol=1e-6)


def test_buffers_follow_the_live_module():
    m = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    ema = EMA(m, 0.5)
    m.train()
    m(torch.randn(16, 2))  # updates running statistics
    ema.update()
    assert torch.equal(ema.module[1].running_mean, m[1].running_mean)
    assert torch.equal(ema.module[1].num_batches_tracked, m[1].num_batches_tracked)


def test_state_dict_round_trip_and_errors():
    m = nn.Linear(2, 2)
    ema = EMA(m, 0.99)
    for _ in _trajectory(m, 3):
        ema.update()
    other = EMA(nn.Linear(2, 2), 0.99)
    other.load_state_dict(ema.state_dict())
    assert other.count == 3
    assert all(torch.equal(a, b) for a, b in zip(other.module.parameters(), ema.module.parameters()))
    with pytest.raises(AveragingError, match="beta"):
        EMA(nn.Linear(2, 2), 0.5).load_state_dict(ema.state_dict())
    with pytest.raises(AveragingError, match="'uniform'.*'ema'"):
        other.load_state_dict(UniformAverage(m).state_dict())
    with pytest.raises(AveragingError, match=r"beta must be a number in \[0, 1\)"):
        EMA(m, 1.0)
    with pytest.raises(AveragingError, match="nn.Module"):
        UniformAverage(torch.zeros(3))
