"""Measure everything docs/performance.md reports and write the page from the results.

    python tests/benchmarks/make_performance.py [--quick] [--out docs/performance.md]
    python tests/benchmarks/make_performance.py --only gan [--pairs N]   (GAN layer alone: printed, nothing written)
    python tests/benchmarks/make_performance.py --from-results           (the page again from the saved results)

Every figure is a ratio against a reference measured in the same run, by paired
(interleaved) timing: the two sides alternate call by call, so a slow drift of a shared
machine lands on both, and the ratio is of the medians. Raw rows go to
tests/benchmarks/results/performance.json beside the page. Run it on a quiet machine:
the page records the load average before and after. ``--quick`` cuts every count by 10
(to check the script, not to publish).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

import equilib as eq
from equilib.compare.machine import cpu_model

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "helpers")]

import paired as solver_pairs  # noqa: E402
import products  # noqa: E402
from handwritten import SOLVERS  # noqa: E402
import profile_misses  # noqa: E402
from performance_extra import compile_ratio, gan_layer, memory_table, recorder_overhead  # noqa: E402


def machine() -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "platform": platform.platform(), "processor": platform.machine(), "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "load_before": os.getloadavg()}


def solver_rows(scale: float) -> list[dict]:
    rows = []
    for name in SOLVERS:
        calls = max(5, int((60 if name in ("cgd", "unrolled", "lola", "sga") else 600) * scale))
        hand, ours = solver_pairs.paired(name, calls)
        rows.append({"solver": name, "hand_ms": hand, "equilib_ms": ours, "ratio": ours / hand, "pairs": calls})
        print(f"solver {name}: {ours / hand:.3f}", flush=True)
    return rows


def product_rows(scale: float) -> list[dict]:
    rows = []
    for zero_sum in (True, False):
        s = products.Setup(zero_sum)
        products.check(s)
        for name, fn in products.cases(s):
            ref, t = products.paired(s.reference, fn, max(20, int(400 * scale)))
            rows.append({"game": "zero-sum" if zero_sum else "general-sum", "product": name,
                         "reference_ms": ref, "ms": t, "ratio": t / ref})
    print("products done", flush=True)
    return rows


def cgds_rows(scale: float) -> list[dict] | str:
    try:
        import cgds_paired
    except ImportError:
        return "the CGDs package is not installed (`pip install -e '.[bench]'`): not measured"
    rows = []
    for name in ("cgd", "acgd"):
        r = cgds_paired.paired(name, max(5, int(100 * scale)))
        rows.append({"method": name, "peer": cgds_paired.PEER[name], **r, "ratio": r["ours"] / r["theirs"]})
    print("cgds done", flush=True)
    return rows


WHY = {  # why a missed target is missed; the cost ladders ("Where the time goes") show each part
    "each Jacobian product <= 1.5x one gradient evaluation":
        "a full product differentiates the whole backward graph of xi, about twice the work of the first "
        "backward pass; the block products CGD, ACGD and LOLA use are 0.6-0.8x",
    "GAN step <= 1.0x a hand-written loop":
        "gan's BCE losses evaluate the label-smoothing terms even at s = 0 (two softplus and two products more "
        "than the hand-written loss, forward and backward: about 45 us on the ring), and equilib checks the losses "
        "and xi finite once per step (one fused kernel); the batch and noise checks cost about 3 us",
    "altgd <= 1.03x hand-written":
        "two field evaluations per step, each paying the evaluation's bookkeeping (evaluation ladder), and the "
        "parameter snapshot that lets a NaN in the second player's gradient undo the first player's move (altgd "
        "ladder: about 2% of the step alone)",
    "consensus <= simgd + one J^T v":
        "xi must be built with its graph (create_graph) before J^T xi can be taken: about 10% over the plain "
        "gradient (second-order ladder), which the bound does not count; the hand-written consensus pays the same",
    "sga <= simgd + one J^T v + one J v":
        "in a general-sum game one J xi costs a second forward and backward pass in dual numbers (forward over "
        "reverse, the cheapest of the three paths for a single product: products table), while the bound counts "
        "the per-product double backward, which first needs a once-per-point pass; the hand-written sga pays the same",
    "Recorder at its default interval <= 1.03x":
        "one record (Arnoldi at tol 1e-3 for 6 eigenvalues and the spectral radius, 30-70 products) costs "
        "100-200 steps of this small game; its product count varies from record to record",
    "GAN throughput >= 1.2x a hand-written loop (fused steps, --compile where it helps)":
        "on this CPU the step is the models' own kernels; torch's fused Adam saves about 8% and inductor's "
        "compiled G and D are slower than eager (table below); pinned memory with non_blocking copies and "
        "channels_last apply to CUDA only, which nobody could measure here",
    "Field evaluation <= 1.03x autograd.grad":
        "per-call Python bookkeeping, 30-40 us on a 0.45-0.6 ms evaluation (evaluation ladder): Game.evaluate's "
        "structure and loss checks, then the Field's own (distributed check, loss connectivity check, the "
        "zero-sum sign flip of the maximizer's block, zero blocks)",
}


def targets(res: dict) -> list[list]:
    """(target, measured, met) rows computed from the results."""
    sol = {r["solver"]: r for r in res["solvers"]}
    prod = {(r["game"], r["product"]): r["ratio"] for r in res["products"]}
    rows = []

    def add(name, value, ok):
        rows.append([name, value, "met" if ok else "**missed**" + (f": {WHY[name]}" if name in WHY else "")])

    field = max(prod[(g, "Field(game, args) (xi only)")] for g in ("zero-sum", "general-sum"))
    add("Field evaluation <= 1.03x autograd.grad", f"{field:.2f}x (worse of zero-sum, general-sum)", field <= 1.03)
    for name in ("simgd", "altgd", "optimistic", "extragradient"):
        add(f"{name} <= 1.03x hand-written", f"{sol[name]['ratio']:.3f}x", sol[name]["ratio"] <= 1.03)
    if not isinstance(res["cgds"], str):
        for r in res["cgds"]:
            add(f"{r['method']} <= 1.0x CGDs' {r['peer']}", f"{r['ratio']:.3f}x", r["ratio"] <= 1.0)
    krylov = prod[("zero-sum", "block_jvp(G, D, v_D) = J_GD v_D")] + prod[("zero-sum", "block_jvp(D, G, v_G) = J_DG v_G")]
    add("one Krylov iteration <= 2.2x one gradient evaluation", f"{krylov:.2f}x (two block products)", krylov <= 2.2)
    vjp = prod[("general-sum", "Field.vjp(v) = J^T v")]
    jvp = prod[("general-sum", "J v by double backward (per product)")]
    cons = sol["consensus"]["equilib_ms"] / sol["simgd"]["equilib_ms"]
    add("consensus <= simgd + one J^T v", f"{cons:.2f}x simgd (simgd + J^T v: {1 + vjp:.2f}x)", cons <= 1 + vjp)
    sga = sol["sga"]["equilib_ms"] / sol["simgd"]["equilib_ms"]
    add("sga <= simgd + one J^T v + one J v", f"{sga:.2f}x simgd (bound {1 + vjp + jvp:.2f}x)", sga <= 1 + vjp + jvp)
    worst = max(r["ratio"] for r in res["products"] if "incl." not in r["product"] and "torch.func" not in r["product"]
                and "Field(" not in r["product"])
    add("each Jacobian product <= 1.5x one gradient evaluation", f"worst {worst:.2f}x", worst <= 1.5)
    gan_worst = max(r["fused_ratio"] for r in res["gan"])
    plain_worst = max(r["ratio"] for r in res["gan"])
    both_worst = max(r["both_fused_ratio"] for r in res["gan"])
    add("GAN step <= 1.0x a hand-written loop", f"worst {gan_worst:.3f}x with gan train's fused Adam (plain Adam: "
        f"{plain_worst:.3f}x; both sides fused: {both_worst:.3f}x)", gan_worst <= 1.0)
    if res.get("compile"):
        speed = {r["setup"]: r["ratio"] for r in res["compile"]}
        best = max(r["fused_ratio"] * min(1.0, speed.get(r["setup"], 1.0)) for r in res["gan"])
        add("GAN throughput >= 1.2x a hand-written loop (fused steps, --compile where it helps)",
            f"{1 / best:.2f}x (worst setup; --compile: {', '.join(f'{k} {v:.2f}x' for k, v in speed.items())} "
            "of the eager step)", best <= 1 / 1.2)
    add("Recorder at its default interval <= 1.03x", f"{res['recorder']['ratio']:.3f}x", res["recorder"]["ratio"] <= 1.03)
    return rows


def table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


GAN_HEADER = ["setup", "hand-written (ms)", "gan (ms)", "ratio", "gan fused (ms)", "ratio to hand-written",
              "hand-written fused (ms)", "ratio, both fused"]


def gan_table(rows: list[dict]) -> list[list]:
    return [[r["setup"], f"{r['hand_ms']:.2f}", f"{r['ours_ms']:.2f}", f"{r['ratio']:.3f}",
             f"{r['fused_ms']:.2f}", f"{r['fused_ratio']:.3f}", f"{r['hand_fused_ms']:.2f}",
             f"{r['both_fused_ratio']:.3f}"] for r in rows]


def render(res: dict, command: str) -> str:
    m = res["machine"]
    parts = [f"""# Performance

Generated by `{command}` on {m['date']} from tests/benchmarks/results/performance.json (do not
edit by hand). Machine: {m['platform']} ({m['processor']}; CPU {m.get('cpu', 'not recorded by this run')}), {m['cores']} cores, Python {m['python']},
torch {m['torch']} (CPU build), {m['threads']} intra-op thread. Load average (1, 5, 15 min) before
the run: {', '.join(f'{x:.2f}' for x in m['load_before'])}; after: {', '.join(f'{x:.2f}' for x in m['load_after'])}
(nothing else of this project was running). Nothing here was run on a GPU.

Every figure is paired, interleaved timing against a reference in the same run (ratio of the
medians); a ratio below 1 means equilib is faster.
"""]
    parts.append("## Targets\n\nComputed from the tables below (issue 8's targets).\n\n"
                 + table(["target", "measured", "verdict"], targets(res)))
    parts.append("""## Solver steps against hand-written PyTorch

One step on a 2-player MLP GAN game of 99,971 parameters (G 64 -> 256 -> 256 -> 2, D 2 -> 128 -> 128 -> 1,
batch 256, non-saturating loss, plain SGD) against a hand-written step of the same method in its cheapest
form (tests/helpers/handwritten.py; `tests/test_solvers_handwritten.py` checks both take the same step).
Extragradient's reference is two hand-written evaluations with the look-ahead copy; cgd runs exactly 10
GMRES iterations on both sides (cross gradients, then one restricted backward pass per mixed product).

""" + table(["solver", "hand-written (ms)", "equilib (ms)", "ratio", "pairs"],
            [[r["solver"], f"{r['hand_ms']:.2f}", f"{r['equilib_ms']:.2f}", f"{r['ratio']:.3f}", r["pairs"]]
             for r in res["solvers"]]))
    parts.append("""## Jacobian products against one gradient evaluation

The issue's game: tanh MLPs G 8 -> 128 -> 2, D 2 -> 128 -> 1, batch 256, as a zero-sum game (losses V, -V)
and as a general-sum one (non-saturating G loss). Reference: `torch.autograd.grad` of the losses, each over
its player (one pass for the zero-sum value). Product rows reuse one `Field` built once (its cost is the first
row); the general-sum rows "incl." pay the once-per-point pass as well (`python tests/benchmarks/products.py`).

""" + table(["game", "product", "gradient evaluation (ms)", "product (ms)", "ratio"],
            [[r["game"], r["product"], f"{r['reference_ms']:.3f}", f"{r['ms']:.3f}", f"{r['ratio']:.2f}"]
             for r in res["products"]]))
    cg = res["cgds"]
    body = cg if isinstance(cg, str) else table(
        ["method", "CGDs class", "CGDs (ms)", "equilib (ms)", "ratio", "Krylov iterations per step (CGDs / equilib)"],
        [[r["method"], r["peer"], f"{r['theirs']:.2f}", f"{r['ours']:.2f}", f"{r['ratio']:.3f}",
          f"{r['iters_theirs']:.1f} / {r['iters_ours']:.1f}"] for r in cg])
    parts.append("""## cgd and acgd against the CGDs package

The same zero-sum GAN game in float32, the package's default tolerances (BCGD and ACGD: tol 1e-12,
atol 1e-20 on squared norms, i.e. tol 1e-6, atol 1e-10 here), warm starts on both sides, iterates checked
to agree in tests/benchmarks/test_bench_cgds.py (`python tests/benchmarks/cgds_paired.py`).

""" + body)
    parts.append("""## GAN training step against a hand-written loop

One simultaneous non-saturating step with Adam (betas 0.5, 0.999): `gan.GANGame` + `make_solver("simgd",
optimizer="adam")` against a hand-written step that draws z, runs D on the real and the generated batch and
steps one Adam per player.

The "fused" columns use torch's fused Adam (`fused=True`, one kernel per player and step), which
`gan train` uses by default (`--no-fused` switches it off): against the plain hand-written step (the issue's
target), and against a hand-written step that is fused too (like for like).

""" + table(GAN_HEADER, gan_table(res["gan"])))
    if res.get("compile"):
        parts.append("""### With --compile

The same fused step with G and D compiled by `torch.compile` (inductor backend, what `gan train --compile`
does; the first-order solvers only, since torch.compile has no double backward), against it eager. The first
call compiles, timed on its own (short when torch's on-disk compile cache already holds the graphs, as here); a
ratio above 1 means the compiled step is slower.

""" + table(["setup", "eager (ms)", "compiled (ms)", "ratio", "compilation (s)"],
            [[r["setup"], f"{r['eager_ms']:.2f}", f"{r['compiled_ms']:.2f}", f"{r['ratio']:.3f}",
              f"{r['compile_s']:.0f}"] for r in res["compile"]]))
    rec = res["recorder"]
    parts.append(f"""## Diagnostics: the Recorder at its default interval

{rec['steps']} simgd steps (SGD) on the ring MLP game of the GAN table, with `Recorder()` (a record every
{rec['every']} steps, step 0 included: top-6 eigenvalues by Arnoldi on Field products at tol 1e-3, spectral
radius, gradient norms) against the same loop without it, the two runs alternated {rec['repeats']} times: {rec['with_s']:.2f} s against
{rec['without_s']:.2f} s (medians), ratio **{rec['ratio']:.3f}**; one record costs {rec['record_s']:.3f} s.
""")
    if res.get("profiles"):
        ladders = []
        for ladder, rows in res["profiles"].items():
            ladders += [[ladder if i == 0 else "", r["stage"], f"{r['ms']:.3f}", f"{r['ratio']:.3f}"]
                        for i, r in enumerate(rows)]
        parts.append("""## Where the time goes in the missed targets

Cost ladders (`python tests/benchmarks/profile_misses.py`): each stage adds one thing to the one before and is
timed paired with the ladder's first stage, so the step between two ratios is the price of what was added.
Evaluation: the hand-written losses and `torch.autograd.grad`, then the same through `Game.evaluate`, then a
whole `Field` (the products benchmark's game). Second order (general-sum): the gradient, the same with
`create_graph=True` (what consensus and SGA build before any product), then J^T xi, then J xi as well.
altgd: the hand-written and equilib steps, and the parameter snapshot that lets a NaN in the second
player's gradient undo the first player's move, timed alone.

""" + table(["ladder", "stage", "ms", "ratio to the first stage"], ladders))
    mem = res["memory"]
    parts.append("""## Memory: peak of one step, relative to simgd

One step of each solver on the 32x32 DCGAN pair (width 32, batch 32, z 64, Adam bases except cgd, acgd:
SGD). Peak = the largest sum of live tensor storage allocated during the step, read from the torch
profiler's memory events (CPU allocations; parameters and optimizer state that exist before the step are
not counted). On CUDA, `torch.cuda.max_memory_allocated` gives the same figure; not run here.

""" + table(["solver", "peak during the step (MB)", "relative to simgd"],
            [[r["solver"], f"{r['peak_mb']:.1f}", f"{r['ratio']:.2f}"] for r in mem]))
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of every count (a smoke run)")
    parser.add_argument("--out", default=str(HERE.parents[1] / "docs" / "performance.md"))
    parser.add_argument("--only", choices=["gan"], help="measure this part alone and print it (the page is kept)")
    parser.add_argument("--pairs", type=int, default=300, help="paired calls per GAN-layer pair (with --only gan)")
    parser.add_argument("--from-results", action="store_true",
                        help="measure nothing: write the page from tests/benchmarks/results/performance.json")
    opts = parser.parse_args()
    if opts.from_results:
        res = json.loads((HERE / "results" / "performance.json").read_text())
        Path(opts.out).write_text(render(res, res["machine"].get("command", "python tests/benchmarks/make_performance.py")))
        print(f"wrote {opts.out} from the results of {res['machine']['date']}")
        return
    torch.set_num_threads(1)
    if opts.only == "gan":
        before = os.getloadavg()
        rows = gan_layer(opts.pairs)
        print(table(GAN_HEADER, gan_table(rows)))
        print(f"load average before: {', '.join(f'{x:.2f}' for x in before)}; "
              f"after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    scale = 0.1 if opts.quick else 1.0
    res = {"machine": machine()}
    t0 = time.perf_counter()
    res["solvers"] = solver_rows(scale)
    res["products"] = product_rows(scale)
    res["cgds"] = cgds_rows(scale)
    res["gan"] = gan_layer(max(10, int(300 * scale)))
    res["compile"] = compile_ratio(max(10, int(200 * scale)))
    every = eq.diagnostics.Recorder().every
    res["recorder"] = recorder_overhead(every if opts.quick else 2 * every, repeats=2 if opts.quick else 3)
    res["memory"] = memory_table()
    res["profiles"] = profile_misses.run(max(20, int(600 * scale)))
    res["machine"]["load_after"] = os.getloadavg()
    res["machine"]["seconds"] = time.perf_counter() - t0
    command = "python tests/benchmarks/make_performance.py" + (" --quick" if opts.quick else "")
    res["machine"]["command"] = command
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "performance.json").write_text(json.dumps(res, indent=1, default=str))
    Path(opts.out).write_text(render(res, command))
    print(f"wrote {opts.out} in {res['machine']['seconds']:.0f} s ({statistics.mean(res['machine']['load_after']):.2f} load)")


if __name__ == "__main__":
    main()
