"""equilib's cgd and acgd next to the CGDs package (``pip install cgds``; BCGD and ACGD, the
papers' authors' implementation), one step each, on the same zero-sum GAN game and iterates.

The game (issue 8): tanh MLPs G 8 -> 128 -> 2 and D 2 -> 128 -> 1, batch 256, one torch
thread, value V = log sigma(D(real)) + log(1 - sigma(D(G(z)))), G minimizes and D maximizes
(for CGDs: loss V, max_params D, min_params G). Tolerances are matched: CGDs compares squared
residual norms, rdotr < T |b|^2 or rdotr < A, so its tol=T, atol=A are equilib's tol=sqrt(T) and
atol=sqrt(A) on the same (scaled) system for acgd; for cgd, equilib's system is CGDs' times
eta, so atol=eta*sqrt(A). T and A are the package's defaults (1e-12, 1e-20); both sides warm-start.

Per step, k Krylov iterations, in backward passes: equilib 1 (xi, one pass over V) + 1 (rhs)
+ 2k + 2 (warm-start residual) + 1 (dy); CGDs 2 (grad_x and grad_y separately) + 2 (both
mixed products for p_x and p_y, of which one is used) + 2k + 2 + 1.

``test_iterates_agree`` asserts that both sides follow the same trajectory: in float64 at a
tight tolerance to 1e-10 of the distance moved (the same update), and in float32 at the
timed tolerances to what those allow (see AGREEMENT). Ratios: python tests/benchmarks/cgds_paired.py.
"""

from __future__ import annotations

import contextlib
import math

import CGDs
import pytest
import torch
from torch import nn

import equilib as eq

F = nn.functional
T, A = 1e-12, 1e-20  # CGDs' defaults (squared norms)
LR = {"cgd": 0.5, "acgd": 0.03}  # both sides take 4-13 Krylov iterations per step at these rates
# float32, timed tolerances: the largest difference seen over 5 steps, relative to the distance
# moved, was 2e-6 (cgd) and 9e-6 (acgd); the bounds leave a factor ~10. Not tighter: each solve
# stops at relative residual sqrt(T) = 1e-6 of a system whose condition number amplifies it
# (acgd's per-coordinate steps reach eta / eps), CGDs alternates the player it solves for and
# warm-starts from another point than equilib, so the truncation errors differ; float32 round-off
# adds 6e-8 per operation. In float64 at tol 1e-14 the two agree to ~5e-14.
AGREEMENT = {"cgd": 2e-5, "acgd": 1e-4}
STEPS = 5


class Setup:
    """The networks, noise and batch, seeded: two Setups with the same seed are identical."""

    def __init__(self, seed: int = 0, batch: int = 256, dtype: torch.dtype = torch.float32):
        torch.manual_seed(seed)
        self.G = nn.Sequential(nn.Linear(8, 128), nn.Tanh(), nn.Linear(128, 2)).to(dtype)
        self.D = nn.Sequential(nn.Linear(2, 128), nn.Tanh(), nn.Linear(128, 1)).to(dtype)
        self.z, self.real = torch.randn(batch, 8).to(dtype), torch.randn(batch, 2).to(dtype)

    def value(self, G, D):
        return -(F.softplus(-D(self.real)).mean() + F.softplus(D(G(self.z))).mean())

    def theta(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for m in (self.G, self.D) for p in m.parameters()])


def equilib_side(name: str, s: Setup, tol: float = T, atol: float = A, warm_start: bool = True):
    """(step, solver): equilib's ``name`` at tolerances matched to CGDs' (tol, atol) (squared).
    ``warm_start=False`` starts each solve from 0 (CGDs always warm-starts)."""
    lr = LR[name]
    game = eq.ZeroSumGame({"G": s.G, "D": s.D}, value=lambda p: s.value(p["G"], p["D"]))
    scale = lr if name == "cgd" else 1.0
    solver = eq.make_solver(name, game, lr=lr, tol=math.sqrt(tol), atol=scale * math.sqrt(atol), max_iter=1000,
                            warm_start=warm_start)
    return solver.step, solver


@contextlib.contextmanager
def default_dtype(dtype):
    """CGDs allocates its Krylov vectors in the default dtype: float64 runs need it set."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def cgds_side(name: str, s: Setup, tol: float = T, atol: float = A):
    """(step, optimizer): CGDs' BCGD (for cgd) or ACGD (for acgd), the package's defaults otherwise."""
    lr = LR[name]
    cls = CGDs.BCGD if name == "cgd" else CGDs.ACGD
    opt = cls(max_params=s.D.parameters(), min_params=s.G.parameters(), lr_max=lr, lr_min=lr, tol=tol, atol=atol,
              collect_info=False)
    dtype = next(s.G.parameters()).dtype

    def step():
        opt.zero_grad()
        opt.step(s.value(s.G, s.D))

    def step_in_dtype():
        with default_dtype(dtype):
            step()
    return (step if dtype == torch.get_default_dtype() else step_in_dtype), opt


def make(name: str, which: str, seed: int = 0):
    s = Setup(seed)
    return (equilib_side if which == "equilib" else cgds_side)(name, s)[0]


def trajectories(name: str, dtype: torch.dtype, tol: float, atol: float, steps: int = STEPS, warm_start=True):
    """Largest |theta_equilib - theta_CGDs| over ``steps`` steps, relative to the distance moved."""
    a, b = Setup(dtype=dtype), Setup(dtype=dtype)
    start = a.theta()
    ours, _ = equilib_side(name, a, tol, atol, warm_start)
    theirs, _ = cgds_side(name, b, tol, atol)
    worst = 0.0
    for _ in range(steps):
        ours()
        theirs()
        worst = max(worst, float((a.theta() - b.theta()).norm() / (a.theta() - start).norm()))
    return worst


# "reference" in the CGDs side's name makes it the group's baseline for tests/benchmarks/report.py
@pytest.mark.parametrize("which", ["cgds_reference", "equilib"])
@pytest.mark.parametrize("name", ["cgd", "acgd"])
def test_step(benchmark, name, which):
    benchmark.group = f"{name} vs CGDs"
    step = make(name, which)
    step()  # first-call allocations
    benchmark.pedantic(step, rounds=15, warmup_rounds=3)


@pytest.mark.parametrize("name", ["cgd", "acgd"])
def test_iterates_agree(benchmark, name):
    benchmark.group = "agreement with CGDs (5 steps of both, untimed meaning)"
    float32 = benchmark.pedantic(trajectories, args=(name, torch.float32, T, A), rounds=1, iterations=1)
    for warm_start in (True, False):  # equilib without warm start too (cgds_paired.py --cold)
        float64 = trajectories(name, torch.float64, 1e-28, 0.0, warm_start=warm_start)
        assert float64 < 1e-10, f"{name}: float64 at tol 1e-14 differs from CGDs by {float64:.2e} of the move"
    assert float32 < AGREEMENT[name], f"{name}: float32 at matched tolerances differs by {float32:.2e} of the move"
