"""``gan compare``: solvers x seeds on one data set, launched or resumed or read, into one report folder.

    gan compare --data ring --solvers simgd,unrolled --seeds 0-4 --out reports/ring
    gan compare --run runs/a --run runs/b --out reports/mine        # existing run folders only
    gan compare --best sweeps/ring.best.json --seeds 0-4 --out reports/ring-best   # a sweep's winners, 5 seeds

Missing runs are launched with each solver's recipe (``--set KEY=VALUE`` overrides any
configuration key for all of them, e.g. ``--set steps=2000``); a run that stopped early is
resumed; a finished one is read; a folder holding another configuration (say, left by another
``--set``) is refused before anything runs. ``--best`` launches each solver with the configuration a
``gan sweep`` chose for it (its ``.best.json``: the sweep's fixed keys, steps and the solver's
winning overrides), so a one-seed sweep is confirmed over more seeds at the same budget.
Ctrl-C writes a partial report that says it is partial.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .report import meta, write_report
from .runs import CompareError, Run, check_same_method, ensure_run, read_run, run_folder, status
from .table import Row, rows

__all__ = ["add_parser", "run_compare", "parse_seeds"]


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"0,1,7"`` -> a sorted list of distinct seeds >= 0."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                seeds.update(range(lo, hi + 1))
            else:
                seeds.add(int(part))
    except ValueError:
        raise CompareError(f"--seeds must look like 0-4 or 0,1,7 (integers >= 0), got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise CompareError(f"--seeds must look like 0-4 or 0,1,7 (integers >= 0), got {text!r}")
    return sorted(seeds)


def _solvers(text: str) -> list[str]:
    import equilib as eq
    known = sorted(eq.SOLVERS)
    names = known if text == "all" else [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in eq.SOLVERS]
    if unknown or not names:
        raise CompareError(f"--solvers: unknown solver(s) {unknown or [text]}; known: {', '.join(known)} (or all)")
    return names


def _value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise CompareError(f"--set takes KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(raw)
    except json.JSONDecodeError:
        return key.replace("-", "_"), raw


def add_parser(sub) -> argparse.ArgumentParser:
    c = sub.add_parser("compare", help="compare solvers on one data set (solvers x seeds) in one report",
                       description=__doc__.split("\n\n")[0] + ".",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    c.add_argument("--data", default=None, help="data set of the runs to launch (default: ring, or --best's)")
    c.add_argument("--solvers", default="simgd,unrolled", help="comma-separated solver names, or all")
    c.add_argument("--seeds", default="0-4", help="seeds, as 0-4 or 0,1,7")
    c.add_argument("--steps", type=int, default=None, help="training steps of launched runs (default: the recipe's)")
    c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="configuration key for every launched run, e.g. --set lr_d=1e-4 (repeatable)")
    c.add_argument("--best", metavar="FILE",
                   help="a gan sweep's .best.json: each solver launched with its winning configuration (sets --data)")
    c.add_argument("--write-recipes", action="store_true",
                   help="with --best, once every run is done: write each solver's winning configuration into "
                   "gan/recipes.json, its source naming the sweep and this rerun's mean +- std over the seeds")
    c.add_argument("--runs", default="runs", help="folder of the run folders (RUNS/DATA-SOLVER-seedSEED)")
    c.add_argument("--run", dest="run_folders", action="extend", nargs="+", default=[], metavar="FOLDER",
                   help="compare these existing run folders only (one or more, e.g. a shell glob; repeatable; "
                   "nothing is launched)")
    c.add_argument("--no-launch", dest="launch", action="store_false",
                   help="only read runs that exist; launch and resume nothing")
    c.add_argument("--no-figures", dest="figures", action="store_false", help="table only (no sample grid, no curves)")
    c.add_argument("--note", help="a sentence for the report's header (e.g. which code version made the runs)")
    c.add_argument("--out", required=True, help="report folder (table.md, table.csv, report.md, report.html, PNGs)")
    return c


def _check_out(out: str) -> Path:
    from gan.runs import check_writable
    check_writable(out, "--out")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise CompareError(f"--out {out}: exists and is not a folder")
    return path


def sweep_winners(path: str, solvers: list[str]) -> tuple[str, dict[str, dict[str, Any]]]:
    """(data, {solver: configuration}) from a ``gan sweep`` .best.json: the sweep's fixed keys and
    steps under each solver's winning overrides; a solver the sweep did not cover is refused."""
    try:
        best = json.loads(Path(path).read_text())
        data, fixed, winners = best["data"], {**best["fixed"], "steps": best["steps"]}, best["best"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"--best {path}: not a gan sweep .best.json ({exc})") from None
    missing = [s for s in solvers if s not in winners]
    if missing:
        raise CompareError(f"--best {path}: no configuration for solver(s) {missing}; it has: {', '.join(sorted(winners))}")
    return data, {s: {**fixed, **winners[s]["overrides"]} for s in solvers}


def confirmed_sources(best_file: str, table: list[Row]) -> dict[str, str]:
    """``{solver: source}`` for the recipes a ``--best`` rerun writes: the sweep's source line, then the seeds
    of the rerun and, for the generator the sweep scored best, the mean +- std of its score's metrics."""
    from gan.sweep import sweep_source
    best = json.loads(Path(best_file).read_text())
    results = best.get("results") or Path(best_file).name.removesuffix(".best.json") + ".jsonl"
    swept = sweep_source(best["data"], best["grid"], best["seeds"], best["steps"], results)
    out = {}
    for row in table:
        who = best["best"][row.runs[0].solver]["generator"]
        metrics = [m for m in ("modes", "high_quality", "classes", "kl", "frechet") if row.values(f"{who}.{m}")]
        shown = ", ".join("{} {:.4g} +- {:.2g}".format(m.replace("_", " "), *row.stat(f"{who}.{m}")) for m in metrics)
        out[row.runs[0].solver] = (f"{swept}, rerun over seeds {row.seeds} by gan compare --best "
                                   f"({who}: {shown})")
    return out


def run_compare(args: argparse.Namespace, argv: list[str]) -> int:
    if args.write_recipes and (not args.best or args.run_folders):
        raise CompareError("--write-recipes writes the winners of a sweep rerun here: give the sweep's .best.json "
                           "with --best, and no --run")
    out = _check_out(args.out)
    info = meta(argv)
    if args.note:
        info["note"] = args.note
    found: list[Run] = []
    partial = None
    if args.run_folders:
        found = [read_run(p) for p in args.run_folders]
    else:
        solvers, seeds = _solvers(args.solvers), parse_seeds(args.seeds)
        per_solver: dict[str, dict[str, Any]] = {s: {} for s in solvers}
        if args.best:
            data, per_solver = sweep_winners(args.best, solvers)
            if args.data not in (None, data):
                raise CompareError(f"--data {args.data}: --best {args.best} is a sweep on {data}")
            args.data = data
        args.data = args.data or "ring"
        overrides = dict(_value(t) for t in args.overrides)
        if args.steps is not None:
            if args.steps < 1:
                raise CompareError(f"--steps must be an integer >= 1, got {args.steps}")
            overrides["steps"] = args.steps
        plan = [(s, seed, run_folder(Path(args.runs), args.data, s, seed),
                 {"data": args.data, "solver": s, "seed": seed, "progress": False, **per_solver[s], **overrides})
                for s in solvers for seed in seeds]
        for _, _, folder, config in plan:  # every folder already there is checked before anything runs
            check_same_method(folder, config)
        try:
            for k, (solver, seed, folder, config) in enumerate(plan, 1):
                what = status(folder)
                action = what if what == "done" or not args.launch else {"missing": "launching",
                                                                         "partial": "resuming"}[what]
                print(f"[{k}/{len(plan)}] {args.data} {solver} seed {seed}: {action} ({folder})", file=sys.stderr,
                      flush=True)
                run = ensure_run(folder, config, launch=args.launch)
                if run is not None:
                    found.append(run)
        except KeyboardInterrupt:
            partial = f"interrupted after {len(found)} of {len(plan)} runs"
    if not found:
        raise CompareError("no runs to compare: none exists yet (drop --no-launch to launch them)")
    if partial is None and not all(r.done for r in found):
        partial = "some runs stopped before their last step (marked partial in the table)"
    table = rows(found)
    paths = write_report(out, table, info, partial=partial, draw=args.figures)
    print(paths["table.md"].read_text(), end="")
    print(f"report: {paths['report.html']}" + (f" (PARTIAL: {partial})" if partial else ""))
    if args.write_recipes:
        if partial:
            raise CompareError(f"--write-recipes: nothing written, the comparison is partial ({partial})")
        from gan.recipes import update_recipes
        winners = json.loads(Path(args.best).read_text())["best"]
        for solver, source in confirmed_sources(args.best, table).items():
            path = update_recipes(args.data, {solver: winners[solver]["overrides"]}, source)
            print(f"recipe of {args.data} {solver} updated: {path}")
    return 130 if partial and partial.startswith("interrupted") else 0
