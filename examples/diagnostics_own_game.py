"""Eigenvalues and a step-size scan of your own game (the three-player game of own_game.py).

    python examples/diagnostics_own_game.py [out_dir]     (default runs/diagnostics_own_game)

Writes eigenvalues.png (J's eigenvalues), step_size_scan.png (predicted contraction rho(eta)
per solver) and step_size_scan.csv, and prints which solver converges at which step sizes.

J = [[c, a_x, 0], [0, c, a_y], [a_z, 0, c]] has eigenvalues c + (a_x a_y a_z)^(1/3) w for the
cube roots of unity w: 1.3 and -0.2 +/- 0.866i. The pair with a negative real part makes
simgd (|1 - eta mu| > 1), extragradient, optimistic and lola diverge at every step size,
while consensus, sga and hamiltonian, whose updates use J^T xi, converge.
EQUILIB_EXAMPLES_FAST=1 scans fewer step sizes.
"""

import csv
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

from equilib import diagnostics as dg
from own_game import A, C, make_game

FAST = os.environ.get("EQUILIB_EXAMPLES_FAST") == "1"
SOLVERS = ["simgd", "extragradient", "optimistic", ("consensus", {"gamma": 1.0}), "sga", "hamiltonian", "lola"]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    game = make_game()
    ev = dg.eigenvalues(game)
    root = (A["x"] * A["y"] * A["z"]) ** (1 / 3)
    by_hand = sorted((complex(C + root * math.cos(2 * math.pi * k / 3), root * math.sin(2 * math.pi * k / 3))
                      for k in range(3)), key=lambda z: (z.real, z.imag))
    print("eigenvalues of J:", [complex(round(z.real, 4), round(z.imag, 4)) for z in ev.tolist()])
    print("closed form:     ", [complex(round(z.real, 4), round(z.imag, 4)) for z in by_hand])
    assert np.allclose(sorted(ev.tolist(), key=lambda z: (z.real, z.imag)), by_hand, atol=1e-10)
    split = dg.decompose(game)
    print(f"rotation share |A|_F^2 / |J|_F^2 = {split.rotation:.3f}; stable (all Re > 0): {split.stable}")
    dg.plot_eigenvalues(ev, out / "eigenvalues.png", title="three-player game: eigenvalues of J")

    etas = np.linspace(0.01, 1.0, 25 if FAST else 100)
    scan = dg.step_size_scan(game, SOLVERS, etas)
    for label in scan.rho:
        eta, rho = scan.best(label)
        conv = scan.converging(label)
        span = f"converges for eta in [{conv.min():.2f}, {conv.max():.2f}]" if len(conv) else "never converges"
        print(f"  {label:22s} best eta {eta:.3f}, rho {rho:.4f}; {span}")
    dg.plot_step_size_scan(scan, out / "step_size_scan.png", title="three-player game: predicted rho(eta)")
    with open(out / "step_size_scan.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(scan.rows()[0]))
        writer.writeheader()
        writer.writerows(scan.rows())
    print(f"wrote eigenvalues.png, step_size_scan.png, step_size_scan.csv to {out}/")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/diagnostics_own_game"))
