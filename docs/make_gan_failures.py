"""Write docs/gan_failures.md: why a method fails or succeeds on the ring, from the diagnostics.

    python docs/make_gan_failures.py [--runs runs/failures] [--solvers simgd,extragradient,...]

For each solver, one ``gan train --data ring --solver S`` run with its recipe but without the R1 penalty
(``--r1 0``), and for the variants ``S+r1`` with it (``--r1 1``, Mescheder et al. 2018), 3,000 steps,
diagnostics, evaluation and a checkpoint every 250 steps, reused or resumed when its folder already holds it. Every
kept checkpoint is then loaded and analysed on the batch of its next step, into RUN/failure_analysis.jsonl:
the Jacobian J's eigenvalues of largest imaginary part (Arnoldi LI) and of smallest real part (SR), the
rotational share |A|_F^2 / |J|_F^2 (Balduzzi et al. 2018), the spectral radius of the update map with
the next RMSProp step's per-coordinate sizes P = lr / (sqrt(v') + eps), v' = alpha v + (1 - alpha) xi^2,
held fixed (simgd
I - PJ, extragradient I - PJ + PJPJ, optimistic [[I - 2PJ, PJ], [I, 0]], consensus I - P(J + gamma J^T J),
hamiltonian I - P J^T J),
and equilib's own ``spectral_radius(solver, adaptive=True)`` where it is defined. Figures go to
docs/figures/gan_failures/, the page to docs/gan_failures.md; every number on the page is read from the
runs' files. GAN_FAILURES_TINY=1: 40 steps, everything every 20 steps (for the test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SOLVERS = ("simgd", "extragradient", "optimistic", "consensus", "sga", "hamiltonian",
           "simgd+r1", "extragradient+r1", "optimistic+r1")           # S+r1: the solver with R1_WEIGHT
R1_WEIGHT = 1.0
FROZEN = ("simgd", "extragradient", "optimistic", "consensus", "hamiltonian")  # frozen-step maps written below
LR = 1e-3   # one rate for every run (the ring recipes' rate when these runs were made), whatever the recipe says now
ANALYSIS = "failure_analysis.jsonl"
SEED = 0


def plan() -> dict:
    if os.environ.get("GAN_FAILURES_TINY"):
        return {"steps": 40, "every": 20}
    return {"steps": 3000, "every": 250}


def solver_and_r1(variant: str) -> tuple[str, float]:
    """``"simgd+r1"`` -> ("simgd", R1_WEIGHT); ``"simgd"`` -> ("simgd", 0.0): R1 is given, never the recipe's."""
    solver, _, extra = variant.partition("+")
    return solver, (R1_WEIGHT if extra == "r1" else 0.0)


def slug(variant: str) -> str:
    """The run folder and figure name of a variant: ``simgd+r1`` -> ``simgd-r1``."""
    return variant.replace("+", "-")


def command(variant: str, run: Path, p: dict) -> list[str]:
    e = str(p["every"])
    solver, r1 = solver_and_r1(variant)
    return ["gan", "train", "--data", "ring", "--solver", solver, "--r1", f"{r1:g}", "--lr", f"{LR:g}",
            "--steps", str(p["steps"]),
            "--seed", str(SEED),
            "--diagnostics-every", e, "--eval-every", e, "--checkpoint-every", e,
            "--keep-checkpoints", str(p["steps"] // p["every"] + 2), "--threads", "1", "--device", "cpu",
            "--no-progress", "--out", str(run)]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def ensure_run(solver: str, run: Path, p: dict) -> None:
    """Train, resume to p['steps'], or reuse a finished run."""
    gan = [sys.executable, "-m", "gan"]
    done = max((r["step"] for r in read_jsonl(run / "metrics.jsonl")), default=-1)
    if done >= p["steps"]:
        return
    if (run / "config.json").exists() and any(run.glob("checkpoint.pt*")):
        args = gan + ["train", "--resume", str(run), "--steps", str(p["steps"]), "--threads", "1", "--no-progress",
                      "--keep-checkpoints", str(p["steps"] // p["every"] + 2)]
    else:
        args = gan + command(solver, run, p)[1:]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


# ---- analysis of one checkpoint ------------------------------------------------------------------------
def _step_sizes(solver, args) -> torch.Tensor:
    """The next RMSProp step's per-coordinate sizes lr / (sqrt(v') + eps), v' = alpha v + (1 - alpha) xi^2 (xi on
    ``args``, the batch of that step), flattened in game.parameters() order."""
    import equilib as eq

    xi = eq.Field(solver.game, args).xi
    out = []
    for p, g in zip(solver.game.parameters(), xi):
        for opt in solver.optimizers.values():
            if p in opt.state:
                group = next(g for g in opt.param_groups if any(q is p for q in g["params"]))
                if not isinstance(opt, torch.optim.RMSprop) or group["momentum"] or group["centered"]:
                    raise ValueError(f"frozen-step maps need plain RMSprop, got {type(opt).__name__}")
                v = group["alpha"] * opt.state[p]["square_avg"] + (1 - group["alpha"]) * g.detach() ** 2
                out.append(group["lr"] / (v.sqrt() + group["eps"]))
                break
        else:
            raise ValueError("frozen-step maps need the base optimizer's state (no step taken yet)")
    return torch.cat([t.reshape(-1) for t in out]).double()


def frozen_radius(game, args, name: str, steps: torch.Tensor, gamma: float = 0.0, tol: float = 1e-3) -> float:
    """rho of the solver's map with per-coordinate step sizes ``steps`` (a flat tensor) held fixed."""
    import equilib as eq
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs

    F = eq.Field(game, args, create_graph=True)
    shapes = [t.shape for t in game.parameters()]
    dtype = next(iter(game.parameters())).dtype
    d = sum(int(np.prod(s)) for s in shapes)

    def J(v, transpose=False):
        parts = [c.reshape(s).to(dtype) for c, s in zip(torch.split(v, [int(np.prod(s)) for s in shapes]), shapes)]
        out = F.vjp(parts) if transpose else F.jvp(parts)
        return torch.cat([o.detach().reshape(-1) for o in out]).double()

    P = steps.double()

    def apply(x):
        v = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).reshape(-1)
        if name == "simgd":
            return (v - P * J(v)).numpy()
        if name == "extragradient":
            u = P * J(v)
            return (v - u + P * J(u)).numpy()
        if name == "consensus":
            w = J(v)
            return (v - P * (w + gamma * J(w, transpose=True))).numpy()
        if name == "hamiltonian":
            return (v - P * J(J(v), transpose=True)).numpy()
        if name == "optimistic":
            x0, x1 = v[:d], v[d:]
            return torch.cat([x0 - 2 * P * J(x0) + P * J(x1), x0]).numpy()
        raise ValueError(f"name must be one of {', '.join(FROZEN)}, got {name!r}")

    n = 2 * d if name == "optimistic" else d
    op = LinearOperator((n, n), matvec=apply, dtype=np.float64)
    try:
        vals = eigs(op, k=2, which="LM", tol=tol, maxiter=300, return_eigenvectors=False,
                    v0=np.random.default_rng(0).standard_normal(n))
    except ArpackNoConvergence as e:
        vals = e.eigenvalues
    return float(np.abs(vals).max()) if len(vals) else None


def _eigs(game, args, which: str, k: int, tol: float) -> tuple[list, bool]:
    from equilib import diagnostics as dg

    try:
        ev = dg.eigenvalues(game, *args, k=k, which=which, tol=tol, maxiter=300)
        return [[float(z.real), float(z.imag)] for z in ev.tolist()], True
    except dg.ArnoldiNoConvergence as e:
        return [[float(np.real(z)), float(np.imag(z))] for z in e.converged], False


def analyse(run: Path, checkpoint: Path) -> dict:
    import gan
    from equilib import diagnostics as dg

    b, step, _ = gan.load_run(run, checkpoint)
    args = b.draw()                     # the batch and noise of the next step
    row = {"step": step, "checkpoint": checkpoint.name}
    row["LI"], row["LI_converged"] = _eigs(b.game, args, "LI", 2, 1e-2)
    row["SR"], row["SR_converged"] = _eigs(b.game, args, "SR", 4, 1e-3)
    row["rotation"] = dg.rotation_estimate(b.game, *args, samples=10)
    row["D_std"] = d_spread(b, args)
    name, gamma = b.config.solver, float(b.config.solver_options.get("gamma", 0.0))
    row["rho_frozen"] = row["rho_adaptive"] = None
    if step > 0 and name in FROZEN:
        row["rho_frozen"] = frozen_radius(b.game, args, name, _step_sizes(b.solver, args), gamma)
    if step > 0:
        try:
            row["rho_adaptive"] = dg.spectral_radius(b.solver, *args, adaptive=True, tol=1e-3)
        except dg.DiagnosticsError as e:
            row["rho_adaptive_refused"] = str(e).split(";")[0]
    return row


def d_spread(b, args) -> float:
    """How much D tells samples apart: the standard deviation of its logits over the batch's real and
    generated samples (0: D gives every point the same value, and G gets no gradient)."""
    x, z = args
    with torch.no_grad():
        return float(torch.cat([b.D(x).flatten(), b.D(b.G(z)).flatten()]).std())


def ensure_analysis(run: Path) -> list[dict]:
    """Analyse every kept checkpoint not yet in RUN/failure_analysis.jsonl (a row written before D_std was
    measured gets that column alone); all rows, by step."""
    import gan
    from gan.checkpoint import kept_checkpoints, load_checkpoint

    path = run / ANALYSIS
    rows = {r["step"]: r for r in read_jsonl(path)}
    for ckpt in kept_checkpoints(run / "checkpoint.pt"):
        step = int(load_checkpoint(ckpt)["step"])
        if step not in rows:
            row = analyse(run, ckpt)
            rows[row["step"]] = row
        elif "D_std" not in rows[step]:
            b, _, _ = gan.load_run(run, ckpt)
            rows[step]["D_std"] = d_spread(b, b.draw())   # the batch analyse() used: the next step's
    out = [rows[s] for s in sorted(rows)]
    path.write_text("".join(json.dumps(r) + "\n" for r in out))
    return out


# ---- the collected series of one run -------------------------------------------------------------------
def series(run: Path) -> dict:
    """Per step: metrics (G, EMA), recorded LM eigenvalues, and the checkpoint analysis."""
    rows: dict[int, dict] = {}
    for r in read_jsonl(run / "metrics.jsonl"):
        rows.setdefault(r["step"], {})["metrics"] = r
    for r in read_jsonl(run / "diagnostics.jsonl"):
        rows.setdefault(r["step"], {})["LM"] = r["eigenvalues"]
        rows[r["step"]]["xi"] = float(np.hypot(r.get("grad_norm_G", np.nan), r.get("grad_norm_D", np.nan)))
    for r in read_jsonl(run / ANALYSIS):
        rows.setdefault(r["step"], {})["analysis"] = r
    return dict(sorted(rows.items()))


def cells(step: int, row: dict) -> dict:
    """The page's table cells of one step (None where nothing was measured)."""
    m, a, lm = row.get("metrics"), row.get("analysis"), row.get("LM")
    li = max(a["LI"], key=lambda z: z[1]) if a and a["LI"] else None
    return {"step": step,
            "G modes": m["G"]["modes"] if m else None,
            "G HQ %": 100 * m["G"]["high_quality"] if m else None,
            "EMA modes": m["ema"]["modes"] if m and "ema" in m else None,
            "rho frozen": a.get("rho_frozen") if a else None,
            "rho adaptive": a.get("rho_adaptive") if a else None,
            "max Im": li[1] if li else None,
            "its Re": li[0] if li else None,
            "min Re": min(z[0] for z in a["SR"]) if a and a["SR"] else None,
            "rotation": a["rotation"] if a else None,
            "D std": a.get("D_std") if a else None,
            "max abs (LM)": max(abs(complex(*z)) for z in lm) if lm else None,
            "max Im (LM)": max(z[1] for z in lm) if lm else None,
            "|xi|": row.get("xi")}


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


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


# ---- the page ----------------------------------------------------------------------------------------------
COLUMNS = ("step", "G modes", "G HQ %", "EMA modes", "rho frozen", "rho adaptive", "max Im", "its Re", "min Re",
           "rotation", "D std", "max abs (LM)", "max Im (LM)", "|xi|")

#: What the figures show, written after reading the 3,000-step runs (shown in the full mode only).
INTERPRETATION: dict[str, str] = {
    "simgd": (
        "**What the figure shows.** Early on (the first checkpoints) J has complex pairs whose imaginary part is "
        "larger than their real part and a sizeable rotational share: the regime where simultaneous steps rotate "
        "around the equilibrium instead of approaching it, and the modes covered jump up and down from one "
        "evaluation to the next. Later the spectrum is dominated by large real eigenvalues (the discriminator "
        "sharpens; the largest |lambda| keeps growing) and eigenvalues with clearly negative real part: directions "
        "that the game pushes away from whatever the step size. Both radii stay above 1 throughout, so no "
        "checkpoint is locally attracting for simgd at this learning rate. The mode count keeps oscillating after "
        "the rotational share has dropped, so rotation alone does not account for the late oscillation."),
    "extragradient": (
        "**What the figure shows.** Extragradient collapses onto one mode with very precise samples. Its J "
        "develops large real eigenvalues and the most negative real parts of the five runs: the "
        "extrapolation damps rotation (on a rotation I - PJ + PJPJ contracts), but it cannot help along "
        "directions with negative real part, and the frozen-step radius stays above 1. equilib gives no adaptive "
        "radius for it (its RMSProp base steps twice per step), so the radius shown is the frozen-step one only."),
    "optimistic": (
        "**What the figure shows.** Like extragradient: one mode at most, large real eigenvalues, strongly "
        "negative real parts, a frozen-step radius above 1 at every checkpoint; the high-quality share swings "
        "between evaluations (the generator moves between and around a mode rather than settling)."),
    "consensus": (
        "**What the figure shows.** Consensus covers all eight modes from early on, and the high-quality share "
        "climbs. Its J stays small (largest |lambda| of order one, against hundreds to thousands for simgd, "
        "extragradient and optimistic) and its most negative real part stays small. That is the visible "
        "effect of the gamma J^T xi term, gradient descent on gamma |xi|^2 / 2: it keeps training where the "
        "gradients, and the discriminator's curvature, are small. The ratio |Im/Re| of its most rotating "
        "eigenvalue is, if anything, larger than simgd's: the J^T J term does not remove the imaginary parts of J; "
        "it adds damping to the update map instead. Yet both radii of its map are above 1 at every checkpoint too."),
    "sga": (
        "**What the figure shows.** SGA behaves like consensus: all eight modes, a small spectrum with small negative real parts, "
        "a larger rotational share than the failing runs, and an adaptive radius above 1 at every "
        "checkpoint. (No frozen-step map is written for sga here: its sign alignment makes the map depend on the "
        "point in a way the frozen form does not capture.)"),
    "hamiltonian": (
        "**What the figure shows.** Hamiltonian descent is gradient descent on |xi|^2 / 2 (Balduzzi et al. 2018), "
        "and it does what it is asked: by step 250 |xi| is below 3e-3, and it keeps falling. It gets there by "
        "flattening the discriminator: D std, the spread of D's logits over real and generated samples, falls from "
        "0.02 at step 0 to 2e-5 at step 250 and to exactly 0 from step 2,500 on, so D gives every point the same "
        "value and the generator's gradient vanishes before G has left the centre of the ring (no mode, no "
        "high-quality sample, at any checkpoint). A constant D is a stationary point of the game whatever G is: "
        "xi is (nearly) zero there, but it is not the equilibrium the GAN is after. J at these points is small "
        "(largest |lambda| below 0.72) and nearly symmetric (rotational share from 0.015 down to 0), its smallest "
        "real part is negative, and both radii stay close to 1 (medians 1.04 and 1.11; the frozen-step one rounds to "
        "1.000 at four checkpoints): with J^T J that small the Hamiltonian's map I - P J^T J barely moves "
        "anything, so the iteration stalls there instead of being pushed away. Balduzzi et al. "
        "point out that Hamiltonian descent is attracted by stationary points whatever their kind; SGA, which "
        "follows the Hamiltonian's direction only where it aligns with the game's own gradient, keeps all eight "
        "modes (section sga). With its recipe's full 12,000 steps hamiltonian covers no mode either "
        "(gan_results.md)."),
    "simgd+r1": (
        "**What the figure shows.** The run of simgd above (same rates, steps and seed) with the R1 penalty in D's "
        "loss: all eight modes from step 500 on. What changed is the size of J's spectrum: its largest |lambda| "
        "stays of order one and shrinks over training (without R1 it grows into the thousands), its most negative "
        "real part stays a fraction of one (without R1: tens), and the rotational share stays near one half, as "
        "for consensus and sga. R1 penalises D's input gradient on the data, so D cannot sharpen around the data "
        "points, the growth of J's real eigenvalues that the run without R1 shows. Both radii stay above 1 at every "
        "checkpoint, as for consensus: R1 does not make these points locally attracting at this learning rate; it "
        "keeps training where J is small. With its recipe (12,000 steps, R1 1) simgd covers all 8 modes on every "
        "seed (gan_results.md)."),
    "extragradient+r1": (
        "**What the figure shows.** Extragradient with R1: its largest |lambda| stays below 15 and falls to about 1.5, its "
        "most negative real part stays above -1.5 (without R1: below -100), and the EMA generator covers all "
        "eight modes from step 1,750 on, where the run without R1 covers one. The live generator still moves "
        "between modes at this point of the schedule (before its learning-rate decay); at the recipe's full "
        "length it covers all eight (gan_results.md)."),
    "optimistic+r1": (
        "**What the figure shows.** Optimistic with R1 follows extragradient with R1: a spectrum of order one, "
        "small negative real parts, a rotational share near a third, the EMA generator on seven or eight modes "
        "from step 750 on while the live generator still moves between modes before the learning-rate decay."),
}
LIMITS = (
    "- **The spectral radius does not separate success from failure here.** At every checkpoint of every run, "
    "consensus and sga included, both radii are above 1 (hamiltonian's frozen-step radius, not above 1 at 2 of "
    "its 12 checkpoints, is the only exception): no solver is near a locally attracting point after a few thousand "
    "steps at RMSProp 1e-3, and hamiltonian, whose radii are the closest to 1, fails. "
    "What separates the runs that keep all modes from those that lose them "
    "is the size of J's spectrum (largest |lambda|, most negative real part), not rho < 1. The S+r1 runs test "
    "this: the same three failing solvers with R1 in D's loss keep J's spectrum of order one and keep all eight "
    "modes (in the EMA generator), with radii still above 1.\n"
    "- **D std separates them too, with a caveat.** Without R1, simgd, extragradient and optimistic let D's "
    "logits spread from 0.02 to between 2 and 12 (D sharpens around the samples, the growth of J's real "
    "eigenvalues); the runs that keep all modes (consensus, sga, the S+r1 runs) hold the spread near 0.02 or "
    "below. A small spread is what an equilibrium looks like (there D is constant), but hamiltonian reaches an "
    "exactly constant D with G still at the centre: a small D std says D no longer tells samples apart, not why.\n"
    "- **Rotation explains only the start of simgd's oscillation.** Its modes keep jumping after the complex "
    "pairs have been overtaken by real eigenvalues.\n"
    "- **Why extragradient and optimistic collapse onto one mode while simgd spreads over several** is not "
    "visible in these quantities: all three have radii above 1 and large, real-dominated spectra.\n"
    "- **Measurement limits.** The linearisations hold near one point and one batch (the next step's); "
    "RMSProp's step sizes change every step, so neither radius is a long-run rate. The LI search at tol 1e-2 "
    "misses complex pairs that sit next to much larger real eigenvalues (flagged per run above). The runs are "
    "3,000 steps of one seed, a quarter of the recipe's schedule, before its learning-rate decay; "
    "docs/gan_results.md has the full-length results.")


def summary(solver: str, data: dict) -> str:
    """Sentences computed from the run's own files."""
    c = [cells(s, r) for s, r in data.items()]
    last = [x for x in c if x["G modes"] is not None][-1]
    out = [f"At the last step ({last['step']}) the live generator covers {fmt(last['G modes'])} modes with "
           f"{fmt(last['G HQ %'])}% high-quality samples (EMA: {fmt(last['EMA modes'])} modes)."]
    for key, what in (("rho frozen", "with RMSProp's steps frozen"), ("rho adaptive", "by equilib (adaptive=True)")):
        r = [x[key] for x in c if x[key] is not None]
        if r:
            out.append(f"The spectral radius {what} is above 1 at {sum(v > 1 for v in r)} of {len(r)} checkpoints "
                       f"(median {fmt(float(np.median(r)))}, max {fmt(max(r))}).")
    ratio = [abs(x["max Im"] / x["its Re"]) for x in c if x["max Im"] is not None and x["its Re"]]
    neg = [x["min Re"] for x in c if x["min Re"] is not None]
    missed = [x["step"] for x in c if x["max Im"] is not None and x["max Im (LM)"] is not None
              and x["max Im (LM)"] > x["max Im"] * 1.01 + 1e-9]
    if ratio:
        out.append(f"The eigenvalue of J with the largest imaginary part has |Im/Re| of median "
                   f"{fmt(float(np.median(ratio)))} (max {fmt(max(ratio))}); the smallest real part is negative "
                   f"at {sum(v < 0 for v in neg)} of {len(neg)} checkpoints (median {fmt(float(np.median(neg)))}).")
    if missed:
        out.append(f"At {len(missed)} checkpoints (steps {', '.join(map(str, missed))}) the LI search (tol 1e-2) "
                   "returned a smaller imaginary part than one of the six largest-magnitude eigenvalues recorded "
                   "in training: there the LI column understates the rotation (it is hidden next to much larger "
                   "real eigenvalues).")
    refused = next((r["analysis"].get("rho_adaptive_refused") for r in data.values()
                    if r.get("analysis", {}).get("rho_adaptive_refused")), None)
    if refused:
        out.append(f"equilib refuses the adaptive radius here: \"{refused}\".")
    return " ".join(out)


def table(data: dict) -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for step, row in data.items():
        x = cells(step, row)
        lines.append("| " + " | ".join(fmt(x[k]) for k in COLUMNS) + " |")
    return lines


def page(all_data: dict, figures: dict, page_path: Path, runs: Path, p: dict, tiny: bool) -> str:
    rel = {k: os.path.relpath(v, page_path.parent) for k, v in figures.items()}
    from gan.recipes import recipe

    configs = {s: json.loads((runs / f"ring-{slug(s)}" / "config.json").read_text()) for s in all_data}
    cfg, full = next(iter(configs.values())), recipe("ring", solver_and_r1(next(iter(configs)))[0])
    opts = "; ".join(f"{s}: {', '.join(f'{k} {v}' for k, v in c['solver_options'].items())}"
                     for s, c in configs.items() if c["solver_options"]) or "none"
    L = ["# Why methods fail on the ring: the diagnostics beside the metrics", "",
         "Generated by `python docs/make_gan_failures.py` (do not edit by hand): every number below is read from "
         f"the runs' own files in `{runs}` (`metrics.jsonl`, `diagnostics.jsonl`, `{ANALYSIS}`).", "",
         f"Each solver ran on the ring of 8 Gaussians with its recipe (`gan train --data ring --solver S`: "
         f"MLPs {cfg['depth']} x {cfg['width']}, {cfg['optimizer']}, batch {cfg['batch_size']}; "
         f"solver options {opts}), for {p['steps']} steps instead of the recipe's {full['steps']} (the "
         f"learning-rate decay starts at step {cfg['lr_decay_at']}), seed {SEED}, "
         f"with diagnostics, evaluation and a checkpoint every {p['every']} steps, at one learning rate, "
         f"{LR:g}, for every run (`--lr`: the ring recipes' rate when these runs were first made; extragradient's "
         "and cgd's recipes have since moved to 3e-3), and without the R1 penalty "
         f"(`--r1 0`) whatever the recipe sets, except the runs named S+r1: `--r1 {R1_WEIGHT:g}`, the penalty "
         f"{R1_WEIGHT:g}/2 E||grad_x D(x)||^2 on real data added to D's loss (Mescheder et al. 2018):", "",
         "    " + " ".join(command("S", runs / "ring-S", p)), "",
         "What each column is:", "",
         "- **G modes, G HQ %, EMA modes**: `metrics.jsonl` (2,500 samples; a mode is covered when a high-quality "
         "sample, within 3 std of a mean, is nearest to it).",
         "- **max abs (LM), max Im (LM), |xi|**: the largest |lambda| and the largest imaginary part among the six "
         "largest-magnitude eigenvalues of J, and the norm of the game gradient xi = (grad_G L_G, grad_D L_D), "
         "recorded during training by `gan train --diagnostics-every` (`diagnostics.jsonl`, on that step's own batch).",
         "- The other columns come from loading each checkpoint and taking the batch and noise of its next step: "
         "**max Im / its Re**: the eigenvalue of J with the largest imaginary part (Arnoldi `which='LI'`, k = 2, "
         "tol 1e-2) and its real part; **min Re**: the smallest real part (`which='SR'`, k = 4, tol 1e-3); "
         "**rotation**: `rotation_estimate`, |A|_F^2 / |J|_F^2 with A = (J - J^T)/2 (0: a potential game, "
         "1: pure rotation; Balduzzi et al. 2018); **D std**: the standard deviation of D's logits over that "
         "batch's real and generated samples (0: D gives every point the same value, so G gets no gradient).",
         "- **rho frozen**: the spectral radius of the solver's one-step map with RMSProp's per-coordinate step "
         "sizes P = lr / (sqrt(v') + eps), v' = alpha v + (1 - alpha) xi^2 (xi on the batch of that step), held fixed: simgd I - PJ, extragradient I - PJ + PJPJ, "
         "optimistic [[I - 2PJ, PJ], [I, 0]], consensus I - P(J + gamma J^T J), hamiltonian I - P J^T J (both "
         "without the term in xi's second derivatives, which vanishes at a stationary point; Arnoldi, tol 1e-3). Above 1: "
         "near this point the iteration pushes away along some direction instead of contracting.",
         "- **rho adaptive**: `equilib.diagnostics.spectral_radius(solver, adaptive=True)`, the Jacobian of the "
         "next RMSProp step on (theta, v), for the solvers that move once per step (refused for extragradient "
         "and optimistic, which step their base optimizer twice or combine moves). At step 0 RMSProp has no "
         "state yet, so neither radius is defined there.", "",
         "Linearisations hold locally: a radius above 1 says the point is not locally attracting under this "
         "map; it does not say where the iteration goes, and the batch changes every step.", "",
         "No timing is given here (the machine was shared); `/usr/bin/time gan train --data ring --solver S "
         f"--steps {p['steps']} --threads 1 --no-progress --out /tmp/t` measures one run.", "",
         "## Overview", "", f"![spectral radius and modes of every solver]({rel['overview']})", ""]
    for solver, data in all_data.items():
        L += [f"## {solver}", "", f"![{solver}: eigenvalues, spectral radius, modes]({rel[solver]})", "",
              summary(solver, data), ""]
        if not tiny and solver in INTERPRETATION:
            L += [INTERPRETATION[solver], ""]
        L += table(data) + [""]
    if not tiny and LIMITS:
        L += ["## What the diagnostics do not explain", "", LIMITS, ""]
    text = "\n".join(L)
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_text(text)
    return text


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs/failures", help="folder of the runs (reused or resumed if present)")
    ap.add_argument("--solvers", default=",".join(SOLVERS), help=f"comma-separated, among {', '.join(SOLVERS)}")
    ap.add_argument("--page", default=str(HERE / "gan_failures.md"), help="the page to write")
    ap.add_argument("--figures", default=str(HERE / "figures" / "gan_failures"), help="folder of the figures")
    a = ap.parse_args(argv)
    solvers = [s for s in a.solvers.split(",") if s]
    bad = [s for s in solvers if s not in SOLVERS]
    if bad or not solvers:
        ap.error(f"--solvers: unknown {', '.join(bad) or 'empty list'}; allowed: {', '.join(SOLVERS)}")
    torch.set_num_threads(1)
    p, tiny = plan(), bool(os.environ.get("GAN_FAILURES_TINY"))
    runs, figs = Path(a.runs), Path(a.figures)
    all_data = {}
    for s in solvers:
        run = runs / f"ring-{slug(s)}"
        ensure_run(s, run, p)
        ensure_analysis(run)
        all_data[s] = series(run)
    figures = {s: figure(s, d, figs / f"{slug(s)}.png", footer(s, runs, p)) for s, d in all_data.items()}
    note = footer("S", runs, p)
    figures["overview"] = overview(all_data, figs / "overview.png", note)
    page(all_data, figures, Path(a.page), runs, p, tiny)
    print(f"wrote {a.page} and {len(figures)} figures in {figs}")


if __name__ == "__main__":
    main()
