"""The ``equilib`` command (also ``python -m equilib``): ``equilib compare [options]``.

Every argument is checked, the game functions imported and called once, and the report
folder created and written to, before any run starts; bad input is one line
``equilib: error: ...`` on stderr and exit status 2. Ctrl-C during the runs writes the
partial report (marked PARTIAL) and exits with status 130.
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import shlex
import sys
from pathlib import Path

import torch

import equilib as eq
from equilib.compare.games import BUILTIN, DEFAULT_GAMES, CompareError, resolve
from equilib.compare.machine import cpu_model
from equilib.compare.report import SCAN_MAX_PARAMETERS, Plan, compare, write_report
from equilib.compare.scan import parse_scan
from equilib.compare.table import legend, to_text

__all__ = ["main", "build_parser", "DEFAULT_LR", "DEFAULT_STEPS"]

DEFAULT_LR = 0.1
DEFAULT_STEPS = 500
DEFAULT_SCAN_STEPS = 40


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line ``equilib: error: ...`` and exit status 2."""

    def error(self, message: str):
        _fail(message)


def _fail(message: str):
    print(f"equilib: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="equilib", description="equilib command line: compare solvers on games.")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    c = sub.add_parser(
        "compare", help="run solvers on games and write a report (table, figures, report.html)",
        description="Run solvers on games and write a report folder: table.md, table.csv, scan.csv, "
                    "figures (PNG) and a self-contained report.html.",
        epilog="How to read the table and the figures: docs/compare.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    c.add_argument("--solvers", default=",".join(eq.SOLVERS),
                   help=f"comma-separated solver names; known: {', '.join(eq.SOLVERS)}")
    c.add_argument("--games", default=",".join(DEFAULT_GAMES),
                   help=f"comma-separated games; built in: {', '.join(BUILTIN)}; or module:function returning "
                        "an equilib.Game or (game, equilibrium)")
    lr = c.add_mutually_exclusive_group()
    lr.add_argument("--lr", type=float, default=DEFAULT_LR,
                    help="step size of every run; a coarse scan from lr/10 to 10 lr (at most 2) is drawn too "
                         "unless --no-scan")
    lr.add_argument("--lr-scan", metavar="LO:HI:N",
                    help="scan N log-spaced step sizes from LO to HI (e.g. 0.01:1:30); the table then shows each "
                         "solver at its step size of smallest measured contraction")
    c.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="steps per run")
    c.add_argument("--scan-steps", type=int, default=DEFAULT_SCAN_STEPS, help="steps per run of the scan")
    c.add_argument("--no-scan", action="store_true", help="skip the coarse step-size scan drawn with --lr")
    c.add_argument("--bound", type=float, default=1e3,
                   help="a run has diverged when its distance exceeds BOUND x max(start distance, 1)")
    c.add_argument("--seed", type=int, default=0, help="seed of the random games and of torch")
    c.add_argument("--out", default="runs/compare", help="report folder (created; files in it are replaced)")
    return parser


def _names(text: str, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise CompareError(f"--{what} is empty; give at least one name")
    return names


def _check_out(path: str) -> Path:
    """Create the report folder and prove it writable, before any work."""
    out = Path(path)
    probe = out / ".equilib-write-test"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise CompareError(f"--out {path!r} is not a writable folder ({exc.strerror or exc})") from None
    return out


def _plan(args) -> tuple[Plan, Path]:
    solvers = [s.lower() for s in _names(args.solvers, "solvers")]
    unknown = [s for s in solvers if s not in eq.SOLVERS]
    if unknown:
        raise CompareError(f"unknown solver(s) {', '.join(map(repr, unknown))} in --solvers; "
                           f"known solvers: {', '.join(eq.SOLVERS)}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise CompareError(f"--lr must be a finite number > 0, got {args.lr}")
    scan = parse_scan(args.lr_scan) if args.lr_scan is not None else None
    for flag, value, low in (("--steps", args.steps, 1), ("--scan-steps", args.scan_steps, 4)):
        if value < low:
            raise CompareError(f"{flag} must be an integer >= {low}, got {value}")
    if not (math.isfinite(args.bound) and args.bound > 1):
        raise CompareError(f"--bound must be a finite number > 1, got {args.bound}")
    specs = resolve(_names(args.games, "games"), args.seed)
    out = _check_out(args.out)
    plan = Plan(specs, list(dict.fromkeys(solvers)), args.lr, scan,
                args.steps, args.seed, args.bound, args.scan_steps, args.no_scan)
    if scan is not None:
        plan.lr = None
    return plan, out


def _meta(argv: list[str], plan: Plan) -> dict:
    setting = f"lr {plan.lr:g}" if plan.scan is None else \
        f"lr scan {plan.scan[0]:g} .. {plan.scan[-1]:g} ({len(plan.scan)} log-spaced)"
    return {
        "command": "equilib " + shlex.join(argv),
        "settings": f"{setting}, {plan.steps} steps per run, {plan.scan_steps} per scan run, bound {plan.bound:g}",
        "seed": plan.seed,
        "torch": torch.__version__,
        "machine": f"{platform.platform()}, {platform.machine()}, {cpu_model()}, "
                   f"python {platform.python_version()}, {torch.get_num_threads()} torch threads",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``equilib`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command != "compare":
        _fail("choose a command: compare (equilib compare --help)")
    try:
        plan, out = _plan(args)
    except CompareError as exc:
        _fail(str(exc))
    torch.manual_seed(plan.seed)
    meta = _meta(argv, plan)
    outcome = compare(plan)
    if outcome.partial:
        print(f"equilib: PARTIAL REPORT: {outcome.partial}; writing what finished", file=sys.stderr)
    try:
        paths = write_report(out, plan, outcome, meta)
    except KeyboardInterrupt:
        print("equilib: interrupted while writing the report; the folder may be incomplete", file=sys.stderr)
        return 130
    print(to_text(outcome.results, outcome.partial))
    for line in legend(outcome.results):
        print(line)
    if plan.scan is None and not plan.no_scan:
        print(f"(coarse step-size scan on games up to {SCAN_MAX_PARAMETERS} parameters: see scan.csv and the "
              "figures)")
    print(f"report: {paths['html']} (table.md, table.csv, figures in {out})")
    return 130 if outcome.partial else 0
