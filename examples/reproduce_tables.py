"""Reproduce the mode-coverage tables (ring of 8, grid of 25) and the digits table, every solver, 5 seeds.

Each row is one ``gan train`` run with the recipe of the data set and the named solver (gan/recipes.json)
(the commands are printed and written to the table), scored with the VEEGAN/PacGAN
protocol on 2,500 samples (modes captured, high-quality fraction, KL of the captured-mode
histogram from uniform) for the live generator and its exponential moving average.
Digits rows report the classes generated, the KL of the class histogram and the offline
Frechet distance (gan.metrics.digits_metrics).

    python examples/reproduce_tables.py                       # everything (hours on a 2-core CPU)
    python examples/reproduce_tables.py --data ring --solvers consensus simgd --seeds 0 1 2 3 4
    python examples/reproduce_tables.py --data ring --solvers consensus --seeds 0 --steps 2000  # a quick look
    python examples/reproduce_tables.py --data ring --solvers sga --extra "--solver-option lam=0.5"

Results go to ``--out`` (default ``runs/tables``): one run folder per row, ``results.jsonl``
(one line per finished run; finished runs are skipped when the script is started again)
and ``tables.md`` (means over seeds, and every row).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from gan.cli import main as gan_main
from gan.config import SOLVER_NAMES
from gan.training import METRICS

MIXTURE_KEYS = ("modes", "high_quality", "kl")
DIGITS_KEYS = ("classes", "kl", "frechet")
PUBLISHED = {
    "ring": [("VEEGAN (Srivastava et al. 2017)", "8", "52.9", "-"),
             ("unrolled GAN, as run by VEEGAN", "7.6", "35.6", "-"),
             ("PacGAN2 (Lin et al. 2018)", "7.9", "95.6", "0.07")],
    "grid": [("VEEGAN (Srivastava et al. 2017)", "24.6", "40", "-"),
             ("PacGAN4 (Lin et al. 2018)", "24.8", "93.6", "0.04")],
}


def command(data: str, solver: str, seed: int, out: Path, steps: int | None, extra: list[str]) -> list[str]:
    args = ["train", "--data", data, "--solver", solver, "--seed", str(seed), "--device", "cpu",
            "--out", str(out), "--no-progress", "--threads", "1"]
    if steps is not None:
        args += ["--steps", str(steps)]
    return args + extra


def run_one(args: list[str]) -> dict:
    out = Path(args[args.index("--out") + 1])
    t0 = time.perf_counter()
    status = gan_main(args)
    seconds = time.perf_counter() - t0
    last = {}
    if (out / METRICS).exists():
        lines = (out / METRICS).read_text().splitlines()
        last = json.loads(lines[-1]) if lines else {}
    return {"status": status, "wall_seconds": round(seconds, 1), "train_seconds": last.get("seconds"),
            "step": last.get("step"), "G": last.get("G"), "ema": last.get("ema")}


def _fmt(values: list[float], pct: bool = False) -> str:
    if not values:
        return "-"
    scale = 100.0 if pct else 1.0
    m = statistics.fmean(v * scale for v in values)
    s = statistics.pstdev([v * scale for v in values]) if len(values) > 1 else 0.0
    return f"{m:.1f} ± {s:.1f}" if pct else f"{m:.3g} ± {s:.2g}"


def tables(results: list[dict]) -> str:
    lines = []
    for data in ("ring", "grid", "digits"):
        rows = [r for r in results if r["data"] == data]
        if not rows:
            continue
        keys = DIGITS_KEYS if data == "digits" else MIXTURE_KEYS
        lines += [f"## {data}", ""]
        if data in PUBLISHED:
            lines += ["Published (modes / high-quality % / KL):", ""]
            lines += [f"- {name}: {m} / {hq} / {kl}" for name, m, hq, kl in PUBLISHED[data]] + [""]
        head = " | ".join(keys)
        lines += [f"| solver | generator | seeds | {head} | seconds |", "|---" * (5 + len(keys) - 1) + "|"]
        for solver in dict.fromkeys(r["solver"] for r in rows):
            for gen in ("ema", "G"):
                ok = [r for r in rows if r["solver"] == solver and r.get(gen) and r["status"] == 0]
                if not ok:
                    continue
                cells = []
                for k in keys:
                    vals = [r[gen][k] for r in ok if isinstance(r[gen].get(k), (int, float))]
                    cells.append(_fmt(vals, pct=(k == "high_quality")))
                secs = _fmt([r["train_seconds"] for r in ok if r["train_seconds"] is not None])
                lines.append(f"| {solver} | {gen} | {len(ok)} | {' | '.join(cells)} | {secs} |")
            failed = [r for r in rows if r["solver"] == solver and r["status"] != 0]
            for r in failed:
                lines.append(f"| {solver} | - | seed {r['seed']} | failed (exit {r['status']}) |")
        lines += ["", "Every run:", ""]
        for r in rows:
            vals = {g: r.get(g) for g in ("ema", "G")}
            lines.append(f"- `gan {r['command']}`: {json.dumps(vals)}, {r['train_seconds']} s")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", default=["ring", "grid", "digits"], choices=["ring", "grid", "digits"])
    p.add_argument("--solvers", nargs="+", default=list(SOLVER_NAMES), choices=list(SOLVER_NAMES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    p.add_argument("--out", default="runs/tables")
    p.add_argument("--extra", default="", help="more gan train flags for every run, e.g. '--ema 0.9995' or '--solver-option gamma=5'")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    results = [json.loads(x) for x in results_path.read_text().splitlines()] if results_path.exists() else []
    done = {(r["data"], r["solver"], r["seed"]) for r in results}
    extra = shlex.split(a.extra)
    for data in a.data:
        for solver in a.solvers:
            for seed in a.seeds:
                if (data, solver, seed) in done:
                    continue
                run_dir = out / f"{data}-{solver}-seed{seed}"
                args = command(data, solver, seed, run_dir, a.steps, extra)
                print("gan " + shlex.join(args), flush=True)
                rec = {"data": data, "solver": solver, "seed": seed, "command": shlex.join(args), **run_one(args)}
                print(json.dumps(rec), flush=True)
                results.append(rec)
                with open(results_path, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                (out / "tables.md").write_text(tables(results))
    (out / "tables.md").write_text(tables(results))
    print(f"tables: {out / 'tables.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
