"""The figures of docs/gan_failures.md: per solver, J's eigenvalues, the spectral radius, the rotation and the
modes over training; and an overview of every solver. Used by docs/make_gan_failures.py."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import torch

from gan_failures_runs import SEED, cells, command, slug

# ---- figures ---------------------------------------------------------------------------------------------
def footer(solver: str, runs: Path, p: dict) -> str:
    cmd = " ".join(command(solver, runs / f"ring-{slug(solver)}", p))
    return (f"{cmd}\nseed {SEED} | machine {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs) | "
            f"torch {torch.__version__}")


def figure(solver: str, data: dict, path: Path, note: str) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8.6))
    (ax0, ax1), (ax2, ax3) = fig.subplots(2, 2)
    steps = list(data)
    top = max(steps) or 1
    for step, row in data.items():
        a, c = row.get("analysis") or {}, (step / top,)
        for key, marker in (("LM", "o"), ("LI", "^"), ("SR", "v")):
            pts = row.get("LM") if key == "LM" else a.get(key)
            if pts:
                z = np.array(pts)
                ax0.scatter(z[:, 0], z[:, 1], s=14, marker=marker, c=np.repeat(c, len(z)), cmap="viridis",
                            vmin=0, vmax=1, label=None)
    for key, marker in (("LM: largest magnitude", "o"), ("LI: largest imaginary part", "^"),
                        ("SR: smallest real part", "v")):
        ax0.scatter([], [], marker=marker, c="gray", label=key)
    ax0.axvline(0, color="k", lw=0.6)
    ax0.set(xlabel="Re lambda(J)", ylabel="Im lambda(J)", title="eigenvalues of J (colour: step, dark = early)")
    ax0.legend(fontsize=7)
    c = [cells(s, r) for s, r in data.items()]

    def line(ax, key, **kw):
        pts = [(x["step"], x[key]) for x in c if x[key] is not None]
        if pts:
            ax.plot(*zip(*pts), marker=".", **kw)
    line(ax1, "rho frozen", label="rho, RMSProp steps frozen")
    line(ax1, "rho adaptive", label="rho, equilib adaptive=True")
    line(ax1, "|xi|", ls="--", color="gray", label="|xi|, the game gradient's norm (recorded)")
    ax1.axhline(1, color="k", lw=0.8, ls="--")
    ax1.set(yscale="log", xlabel="step", ylabel="spectral radius of the update map; |xi| (dashed)",
            title="spectral radius and gradient norm")
    ax1.legend(fontsize=7)
    line(ax2, "max Im", label="largest Im lambda")
    line(ax2, "its Re", label="Re of that eigenvalue")
    line(ax2, "min Re", label="smallest Re lambda")
    line(ax2, "max Im (LM)", ls="--", label="largest Im among the recorded LM")
    ax2.axhline(0, color="k", lw=0.6)
    ax2.set(xlabel="step", ylabel="eigenvalue part (symlog)", title="rotation vs damping", yscale="symlog")
    ax2.legend(fontsize=7, loc="upper left")
    tw = ax2.twinx()
    line(tw, "rotation", color="gray", ls=":", label="|A|^2/|J|^2")
    tw.set(ylabel="rotational share |A|_F^2 / |J|_F^2 (dotted)", ylim=(0, 1))
    line(ax3, "G modes", label="modes, live G")
    line(ax3, "EMA modes", label="modes, EMA G")
    ax3.set(xlabel="step", ylabel="modes covered (of 8)", ylim=(-0.3, 8.5), title="modes and high-quality share")
    tw3 = ax3.twinx()
    line(tw3, "G HQ %", color="gray", ls=":")
    tw3.set(ylabel="high-quality % of live G (dotted)", ylim=(0, 102))
    ax3.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{solver} on the ring", fontsize=13)
    fig.text(0.01, 0.005, note, fontsize=6.5, family="monospace", va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def overview(all_data: dict, path: Path, note: str) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17, 4.8))
    ax0, ax2, ax1 = fig.subplots(1, 3)
    for solver, data in all_data.items():
        c = [cells(s, r) for s, r in data.items()]
        pts = [(x["step"], x["max abs (LM)"]) for x in c if x["max abs (LM)"] is not None]
        if pts:
            ax2.plot(*zip(*pts), marker=".", label=solver)
        pts = [(x["step"], x["rho frozen"] if x["rho frozen"] is not None else x["rho adaptive"]) for x in c]
        pts = [q for q in pts if q[1] is not None]
        if pts:
            ax0.plot(*zip(*pts), marker=".", label=solver)
        pts = [(x["step"], x["G modes"]) for x in c if x["G modes"] is not None]
        ax1.plot(*zip(*pts), marker=".", label=solver)
    ax0.axhline(1, color="k", lw=0.8, ls="--")
    ax0.set(yscale="log", xlabel="step", ylabel="spectral radius (frozen RMSProp steps; sga: adaptive)",
            title="spectral radius of the update map")
    ax1.set(xlabel="step", ylabel="modes covered by the live G (of 8)", ylim=(-0.3, 8.5), title="modes")
    ax2.set(yscale="log", xlabel="step", ylabel="largest |lambda| of J (recorded in training)",
            title="size of the game Jacobian's spectrum")
    ax2.legend(fontsize=8)
    ax0.legend(fontsize=8)
    ax1.legend(fontsize=8)
    fig.text(0.01, 0.005, note, fontsize=6.5, family="monospace", va="bottom")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


