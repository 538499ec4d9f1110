"""One step of each solver on a ~100k-parameter MLP GAN game, next to a hand-written step.

Run: pytest tests/benchmarks --benchmark-only --benchmark-json=bench.json
then python tests/benchmarks/report.py bench.json for the ratios. The two tests
of a group are the same method; the ratio equilib / handwritten is its overhead.
tests/test_solvers_handwritten.py checks that both sides take the same step, so the
benchmark compares like with like.
"""

import pytest
import torch

import equilib as eq
from handwritten import Handwritten, Setup

LR = 1e-3
SOLVERS = {
    "simgd": {}, "altgd": {}, "extragradient": {}, "optimistic": {}, "consensus": {"gamma": 1.0},
    "hamiltonian": {}, "sga": {"lam": 1.0}, "unrolled": {"unroll_steps": 5},
    "cgd": {"tol": 1e-30, "max_iter": 10, "warm_start": False}, "lola": {"alpha": LR},
}


def equilib_solver(name, setup):
    game = eq.Game({"G": setup.G, "D": setup.D}, setup.equilib_losses)
    return eq.make_solver(name, game, lr=LR, **SOLVERS[name])


def players_order_altgd(name, setup):
    # hand-written altgd updates D first, then G: declare D first for equilib
    game = eq.Game({"D": setup.D, "G": setup.G}, setup.equilib_losses)
    return eq.make_solver("altgd", game, lr=LR)


def make(name, which):
    setup = Setup()
    if which == "handwritten":
        hw = Handwritten(setup, lr=LR)
        return getattr(hw, name), setup
    solver = players_order_altgd(name, setup) if name == "altgd" else equilib_solver(name, setup)
    return (lambda: solver.step(setup.real)), setup


@pytest.mark.parametrize("which", ["handwritten", "equilib"])
@pytest.mark.parametrize("name", list(SOLVERS))
def test_step(benchmark, name, which):
    benchmark.group = name
    step, _ = make(name, which)
    step()  # warm up (first-call allocations)
    benchmark.pedantic(step, rounds=15 if name in ("cgd", "unrolled", "lola") else 150, warmup_rounds=5)
