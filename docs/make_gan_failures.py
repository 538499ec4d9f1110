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
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling modules below, also when this file is loaded by path (tests)

from gan_failures_figures import figure, footer, overview  # noqa: E402
from gan_failures_runs import (ANALYSIS, LR, R1_WEIGHT, SEED, SOLVERS, cells, command, ensure_analysis,  # noqa: E402
                               ensure_run, fmt, plan, series, slug, solver_and_r1)

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
