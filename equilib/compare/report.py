"""Run the comparison and write the report folder.

:func:`compare` runs, per game, the step-size scan (if any) and then every solver for
``steps`` steps at its step size (the given ``lr``, or with ``--lr-scan`` the scanned step
size of smallest measured contraction), and :func:`write_report` writes

    table.md, table.csv      the table (:mod:`equilib.compare.table`)
    scan.csv                 predicted and measured contraction per (game, solver, lr), if scanned
    <game>_trajectories.png  2-parameter games; <game>_distance.png; <game>_scan.png;
    <game>_eigenvalues.png   (:mod:`equilib.compare.figures`)
    report.html              all of it in one self-contained page

A KeyboardInterrupt stops the runs; what finished is written, marked PARTIAL at the top.
"""

from __future__ import annotations

import csv
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from equilib.compare import figures as figs
from equilib.compare.html import write_html
from equilib.compare.run import RunResult, run_one
from equilib.compare.scan import GameScan, coarse_grid, scan_game
from equilib.compare.table import to_csv, to_markdown

__all__ = ["Plan", "Outcome", "compare", "write_report", "SCAN_MAX_PARAMETERS"]

SCAN_MAX_PARAMETERS = 100  # the default coarse scan runs on games up to this size (dense maps are cheap)


@dataclass
class Plan:
    """What to run: game specs, solver names, step size or scan grid, steps, seed, bound."""

    specs: list
    solvers: list[str]
    lr: float | None
    scan: np.ndarray | None  # --lr-scan grid; None: the coarse default scan around lr (unless no_scan)
    steps: int
    seed: int
    bound: float
    scan_steps: int
    no_scan: bool = False


@dataclass
class Outcome:
    results: list[RunResult] = field(default_factory=list)
    scans: dict[str, GameScan] = field(default_factory=dict)
    done_games: list[str] = field(default_factory=list)
    partial: str | None = None


class _Progress:
    """A tqdm bar on a terminal; otherwise one line per game on stderr."""

    def __init__(self, total: int):
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, file=sys.stderr, unit="run", dynamic_ncols=True, leave=False)

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def game_done(self, name: str, runs: int, seconds: float) -> None:
        if self.bar is None:
            print(f"equilib compare: {name}: {runs} runs in {seconds:.1f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _scan_grids(plan: Plan, spec) -> tuple[np.ndarray, np.ndarray] | None:
    if plan.scan is not None:
        return plan.scan, plan.scan
    if plan.no_scan or spec.make()[0].num_parameters() > SCAN_MAX_PARAMETERS:
        return None
    return coarse_grid(plan.lr)


def compare(plan: Plan) -> Outcome:
    """Run everything in ``plan``; on KeyboardInterrupt return what finished, marked partial."""
    out = Outcome()
    grids = {spec.name: _scan_grids(plan, spec) for spec in plan.specs}
    total = sum(len(plan.solvers) * (1 + (len(g[1]) if g is not None else 0)) for g in grids.values())
    progress = _Progress(total)
    runs_done = 0
    try:
        for spec in plan.specs:
            start = time.perf_counter()
            torch.manual_seed(plan.seed)
            grid = grids[spec.name]
            best = {}
            if grid is not None:
                progress.describe(f"{spec.name}: scan")

                def tick():
                    nonlocal runs_done
                    runs_done += 1
                    progress.tick()
                out.scans[spec.name] = scan_game(spec, plan.solvers, grid[0], grid[1], plan.scan_steps,
                                                 plan.bound, on_run=tick)
                if plan.scan is not None:
                    best = {s: out.scans[spec.name].best(s) for s in plan.solvers}
            for name in plan.solvers:
                progress.describe(f"{spec.name}: {name}")
                lr = plan.lr if plan.scan is None else (best.get(name) or float(plan.scan[len(plan.scan) // 2]))
                out.results.append(run_one(spec, name, lr, plan.steps, bound=plan.bound))
                runs_done += 1
                progress.tick()
            out.done_games.append(spec.name)
            progress.game_done(spec.name, len(plan.solvers) * (1 + (len(grid[1]) if grid is not None else 0)),
                               time.perf_counter() - start)
    except KeyboardInterrupt:
        out.partial = (f"interrupted (KeyboardInterrupt) after {runs_done} of {total} runs; "
                       f"complete games: {', '.join(out.done_games) or 'none'}")
    finally:
        progress.close()
    return out


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _write_scan_csv(path: Path, scans: dict[str, GameScan]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["game", "solver", "lr", "predicted", "measured", "status"],
                                lineterminator="\n")
        writer.writeheader()
        for scan in scans.values():
            for row in scan.rows():
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def _figures(out_dir: Path, plan: Plan, outcome: Outcome) -> dict[str, list[tuple[str, Path | None]]]:
    """Draw every game's figures; a figure that fails is listed with the reason and path None."""
    sections: dict[str, list[tuple[str, Path | None]]] = {}
    for spec in plan.specs:
        results = [r for r in outcome.results if r.game == spec.name]
        if not results and spec.name not in outcome.scans:
            continue
        _, star = spec.make()
        base = out_dir / slug(spec.name)
        section = sections.setdefault(f"{spec.name}: {spec.description}", [])
        jobs = []
        if any(r.points for r in results):
            jobs.append(("each solver's iterates in the plane over the field -xi (grey streamlines and arrows, darker "
                         "where |xi| is larger); black dot: start, red star: equilibrium",
                         lambda p: figs.plot_trajectories(spec, star, results, p), "_trajectories.png"))
        if results:
            jobs.append(("distance (log scale) against steps, gradient evaluations and backward passes: a straight "
                         "line is linear convergence, its slope the log of the contraction per step",
                         lambda p: figs.plot_distances(spec, results, p), "_distance.png"))
        if spec.name in outcome.scans:
            jobs.append(("step-size scan: spectral radius predicted at the equilibrium (lines) and measured "
                         "contraction of short runs (dots); below 1 (green) the solver converges locally",
                         lambda p: figs.plot_scan(outcome.scans[spec.name], p), "_scan.png"))
        jobs.append(("eigenvalues of the game Jacobian J in the complex plane: imaginary parts mean rotation "
                     "(simultaneous descent spirals), real parts < 0 (shaded) directions that repel gradient play",
                     lambda p: figs.plot_jacobian_eigenvalues(spec, star, p), "_eigenvalues.png"))
        for caption, draw, suffix in jobs:
            try:
                section.append((caption, draw(Path(str(base) + suffix))))
            except Exception as exc:  # a figure that cannot be drawn must not lose the report
                section.append((f"{caption}: not drawn ({type(exc).__name__}: {exc})", None))
    return sections


def write_report(out_dir: Path, plan: Plan, outcome: Outcome, meta: dict) -> dict[str, Path]:
    """Write every file of the report into ``out_dir``; returns {kind: path}."""
    out_dir = Path(out_dir)
    paths = {"md": out_dir / "table.md", "csv": out_dir / "table.csv", "html": out_dir / "report.html"}
    banner = f"**PARTIAL REPORT: {outcome.partial}**\n\n" if outcome.partial else ""
    head = "# equilib compare\n\n" + "".join(f"- {k}: {v}\n" for k, v in meta.items()) + "\n"
    paths["md"].write_text(banner + head + to_markdown(outcome.results), encoding="utf-8")
    paths["csv"].write_text(to_csv(outcome.results), encoding="utf-8")
    if outcome.scans:
        paths["scan"] = out_dir / "scan.csv"
        _write_scan_csv(paths["scan"], outcome.scans)
    sections = _figures(out_dir, plan, outcome)
    write_html(paths["html"], outcome.results, sections, meta, outcome.partial)
    return paths
