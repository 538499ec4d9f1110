"""Convergence diagnostics on x*y and Dirac-GAN: which solver converges, at which step size?

    python examples/diagnostics_xy.py [out_dir]      (default runs/diagnostics)

Writes:
  xy_jacobian_eigenvalues.png       J's eigenvalues on x*y: +i and -i, pure rotation
  xy_update_maps.png                the update-map eigenvalues of each solver at eta = 0.3, with |z| = 1
  xy_step_size_scan.png             predicted contraction factor rho(eta) of every solver
  dirac_trajectory_simgd.png        J's top eigenvalues and simgd's rho along a Dirac-GAN run
  dirac_trajectory_consensus.png    the same for consensus
  dirac_recorder_simgd.csv          the recorder's rows (simgd)
  dirac_recorder_consensus.csv      the recorder's rows (consensus)
and prints the predicted rho next to the contraction measured from the run.
EQUILIB_EXAMPLES_FAST=1 scans 20 step sizes instead of 80 and records 101 Dirac-GAN steps, not 501.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

import equilib as eq
from equilib import diagnostics as dg

FAST = os.environ.get("EQUILIB_EXAMPLES_FAST") == "1"


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    xy = eq.games.xy(dtype=torch.float64)
    ev = dg.eigenvalues(xy)
    print("x*y: eigenvalues of J", [complex(z) for z in ev], "rotation", dg.decompose(xy).rotation)
    dg.plot_eigenvalues(ev, out / "xy_jacobian_eigenvalues.png", title="x*y: J = [[0, 1], [-1, 0]]")

    eta = 0.3
    groups = {}
    print(f"\nx*y, eta = {eta}: predicted rho vs measured (|theta_200| / |theta_100|)^(1/100)")
    for name in ["simgd", "altgd", "extragradient", "optimistic", "consensus", "cgd", "unrolled", "lola"]:
        solver = eq.make_solver(name, eq.games.xy(dtype=torch.float64), lr=eta)
        M = dg.update_map(solver)
        groups[name] = torch.linalg.eigvals(M)
        rho = dg.spectral_radius(solver)
        norms = []
        for _ in range(200):
            solver.step()
            norms.append(float(eq.vec.norm(solver.game.parameters())))
        measured = (norms[199] / norms[99]) ** (1 / 100)
        print(f"  {name:14s} predicted {rho:.6f}  measured {measured:.6f}")
    dg.plot_eigenvalues(None, out / "xy_update_maps.png", unit_circle=True, groups=groups,
                        title=f"x*y: update-map eigenvalues at eta = {eta}")

    etas = np.linspace(0.02, 1.6, 20 if FAST else 80)
    scan = dg.step_size_scan(xy, ["simgd", "altgd", "extragradient", "optimistic", ("consensus", {"gamma": 1.0}),
                                  "hamiltonian", "cgd", "unrolled", "lola"], etas)
    for label in scan.rho:
        e, r = scan.best(label)
        conv = scan.converging(label)
        span = f"converges for eta in [{conv.min():.2f}, {conv.max():.2f}]" if len(conv) else "never converges"
        print(f"  {label:22s} best eta {e:.3f} rho {r:.4f}; {span}")
    print("  extragradient optimum by hand: eta = 1/sqrt(2) =", round(1 / math.sqrt(2), 4), "rho = sqrt(3)/2 =",
          round(math.sqrt(3) / 2, 4))
    dg.plot_step_size_scan(scan, out / "xy_step_size_scan.png", title="x*y: predicted contraction per step")

    rows = []
    for name, options in [("simgd", {}), ("consensus", {"gamma": 1.0})]:
        game = eq.games.dirac_gan(1.0, 1.0, gamma=0.0, dtype=torch.float64)
        solver = eq.make_solver(name, game, lr=0.2, **options)
        rec = dg.Recorder(every=25, k=2)
        for step in range(101 if FAST else 501):
            rec(step, solver)
            solver.step()
        for r in rec.rows:
            r["solver"] = name
        rows += rec.rows
        last = rec.rows[-1]
        print(f"\nDirac-GAN {name}: at step {last['step']} eigenvalues {last['eigenvalues']}, "
              f"rho {last['spectral_radius']:.4f}, |theta| = {float(eq.vec.norm(game.parameters())):.4f}")
        rec.to_csv(out / f"dirac_recorder_{name}.csv")
        dg.plot_trajectory(rec, out / f"dirac_trajectory_{name}.png",
                           title=f"Dirac-GAN, {name}, h = 0.2: top eigenvalues of J and rho")
    print(f"\nwrote the plots to {out}/")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/diagnostics"))
