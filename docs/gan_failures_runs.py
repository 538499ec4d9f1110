"""The ring runs behind docs/gan_failures.md and their analysis: one ``gan train`` run per solver variant
(``S`` without R1, ``S+r1`` with it), reused or resumed, then every kept checkpoint loaded and analysed on the
batch of its next step into RUN/failure_analysis.jsonl (eigenvalues of J, rotational share, D's spread, the
spectral radius of the solver's update map with RMSProp's steps held fixed and equilib's adaptive one).
Used by docs/make_gan_failures.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

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


