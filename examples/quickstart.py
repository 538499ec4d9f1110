"""The README quickstart, then every solver side by side on f(x, y) = x*y.

    python examples/quickstart.py        (EQUILIB_EXAMPLES_FAST=1: 100 steps per solver in the comparison)

x minimizes and y maximizes x*y; the equilibrium is (0, 0). Simultaneous gradient
descent spirals away from it, alternating descent cycles around it, and the
equilibrium-seeking solvers converge to it at the rates of their papers.
"""

import math
import os

import torch

import equilib as eq

FAST = os.environ.get("EQUILIB_EXAMPLES_FAST") == "1"


def quickstart() -> None:
    game = eq.ZeroSumGame({"x": torch.tensor([1.0]), "y": torch.tensor([1.0])},
                          value=lambda p: (p["x"] * p["y"]).sum())
    solver = eq.make_solver("extragradient", game, lr=0.1)  # or eq.solvers.Extragradient(game, lr=0.1)
    for _ in range(1000):
        solver.step()
    print("extragradient, 1000 steps:", game.params)


def compare(lr: float = 0.1, steps: int = 500) -> None:
    print(f"\nall solvers on x*y from (1, 1), lr = {lr}, {steps} steps (distance to the equilibrium):")
    print(f"  {'solver':<14} {'start':>8} {'end':>12}  per-step factor")
    for name in eq.SOLVERS:
        game = eq.games.xy(1.0, 1.0, dtype=torch.float64)
        solver = eq.make_solver(name, game, lr=lr)
        start = float(torch.cat(game.parameters()).norm())
        for _ in range(steps):
            solver.step()
        end = float(torch.cat(game.parameters()).norm())
        factor = (end / start) ** (1 / steps)
        verdict = "diverges" if factor > 1.0001 else ("bounded" if factor > 0.9999 else "converges")
        print(f"  {name:<14} {start:8.4f} {end:12.4e}  {factor:.6f} ({verdict})")
    print(f"\nclosed forms at lr = {lr}: simgd sqrt(1 + lr^2) = {math.sqrt(1 + lr * lr):.6f}, "
          f"extragradient sqrt(1 - lr^2 + lr^4) = {math.sqrt(1 - lr ** 2 + lr ** 4):.6f}, "
          f"cgd 1/sqrt(1 + lr^2) = {1 / math.sqrt(1 + lr * lr):.6f}")


if __name__ == "__main__":
    quickstart()
    compare(steps=100 if FAST else 500)
