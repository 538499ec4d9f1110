"""Write your own game: three players, general-sum, each with its own loss.

    python examples/own_game.py                  (EQUILIB_EXAMPLES_FAST=1: fewer steps)

Player i owns one number and pays a_i * (own) * (next player's) + c/2 * own^2: the cyclic
coupling rotates (no player's loss is the negative of another's), the c/2 * own^2 terms
pull each player home. The equilibrium is 0. We build the game from a plain function,
check the simultaneous gradient against the formula, and run three solvers on it: simgd
and extragradient spiral out, sga converges. examples/diagnostics_own_game.py shows why
(J has eigenvalues -0.2 +/- 0.87i, with a negative real part).
"""

import os

import torch

import equilib as eq

FAST = os.environ.get("EQUILIB_EXAMPLES_FAST") == "1"
A = {"x": 1.0, "y": 2.0, "z": 0.5}   # coupling strengths: general-sum, not zero-sum
C = 0.3                              # each player's own quadratic pull


def losses(p):
    """fn(params) -> {player: loss}; each player minimizes its own entry over its own parameters."""
    x, y, z = p["x"], p["y"], p["z"]
    return {"x": A["x"] * (x * y).sum() + C / 2 * (x ** 2).sum(),
            "y": A["y"] * (y * z).sum() + C / 2 * (y ** 2).sum(),
            "z": A["z"] * (z * x).sum() + C / 2 * (z ** 2).sum()}


def make_game() -> eq.Game:
    start = {"x": torch.tensor([1.0]), "y": torch.tensor([-0.5]), "z": torch.tensor([0.8])}
    return eq.Game({k: v.double() for k, v in start.items()}, losses=losses)


def main() -> None:
    game = make_game()
    # The simultaneous gradient xi = (dL_x/dx, dL_y/dy, dL_z/dz), by hand and by equilib.
    x, y, z = (float(game.params[k]) for k in "xyz")
    by_hand = [A["x"] * y + C * x, A["y"] * z + C * y, A["z"] * x + C * z]
    xi = torch.cat(eq.Field(game).xi).tolist()
    print("xi by hand", [round(v, 6) for v in by_hand], "equilib", [round(v, 6) for v in xi])
    assert max(abs(a - b) for a, b in zip(by_hand, xi)) < 1e-12

    steps = 300 if FAST else 3000
    for name in ["simgd", "extragradient", "sga"]:
        game = make_game()
        solver = eq.make_solver(name, game, lr=0.1)
        for _ in range(steps):
            solver.step()
        distance = float(torch.cat(game.parameters()).norm())
        print(f"{name:14s} {steps} steps: distance to the equilibrium {distance:.3e}")


if __name__ == "__main__":
    main()
