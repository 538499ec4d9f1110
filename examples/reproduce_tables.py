"""Reproduce the GAN tables of docs/gan_results.md: every solver with its recipe, 5 seeds, per data set.

Each data set is one ``gan compare`` (runs launched with the recipes of gan/recipes.json,
resumed if stopped, read if finished) into its own report folder (table.md, table.csv,
report.md, report.html, figures):

    python examples/reproduce_tables.py                                  # everything: many CPU hours
    python examples/reproduce_tables.py --data ring --solvers unrolled --seeds 0-4
    python examples/reproduce_tables.py --data ring --solvers simgd --seeds 0 --steps 2000 --runs runs/quick   # a quick look

Start it again after any interruption: finished runs are read, not retrained. A quick look keeps its own
``--runs`` folder: gan compare refuses to read its shorter runs as the recipes' full ones.
"""

from __future__ import annotations

import argparse
import sys

import equilib as eq
from gan.cli import main as gan

DATA = ("ring", "grid", "digits", "stacked-digits")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", action="append", choices=DATA, help="data set (repeatable; default all four)")
    p.add_argument("--solvers", default=",".join(sorted(eq.SOLVERS)), help="comma-separated solver names")
    p.add_argument("--seeds", default="0-4", help="seeds, as 0-4 or 0,1,7")
    p.add_argument("--steps", type=int, help="steps of every run (default: each recipe's)")
    p.add_argument("--runs", default="runs/tables", help="folder of the run folders")
    p.add_argument("--out", default="reports", help="folder of the reports, one per data set")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="configuration key for every run, e.g. eval_samples=500 (repeatable)")
    args = p.parse_args()
    for data in args.data or DATA:
        argv = ["compare", "--data", data, "--solvers", args.solvers, "--seeds", args.seeds,
                "--runs", args.runs, "--out", f"{args.out}/{data}"]
        argv += ["--steps", str(args.steps)] if args.steps else []
        for item in args.overrides:
            argv += ["--set", item]
        print("gan " + " ".join(argv), flush=True)
        code = gan(argv)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
