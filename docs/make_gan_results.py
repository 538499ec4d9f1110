"""Write docs/gan_results.md from the reports of `gan compare` and `gan sweep` (never typed by hand).

    python docs/make_gan_results.py

Each report folder under docs/results/ (written by ``gan compare ... --out docs/results/NAME``)
contributes its table and figures; docs/results/sweeps/*.md (written by ``gan sweep``) are linked
with their best configurations. Each run's config.json and metrics.jsonl are kept under
docs/results/runs/ so `gan compare --run docs/results/runs/... --no-figures` recomputes every
table; the targets (docs/targets.py) are checked from the tables' CSV files.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from gan.sweep import score_heading
from machines import csv_rows, identical_rows, machine, machines_sentence, paired, sd, spread_rows
from targets import (STACKED_COST, STACKED_STEPS, baseline_rows, best_of_rows, per_solver_rows, stacked_rows,
                     target_rows)

DOCS = Path(__file__).resolve().parent
RESULTS = DOCS / "results"

#: a sweep's winners rerun over seeds beside the same seeds of the recipe they replaced, on one machine:
#: (report of the winners, report of the old recipe, the sweep's .best.json naming each solver's generator,
#: metric ranked first by the sweep's score, the rate each report ran)
PAIRED = [("digits-lr", "digits-second-cpu", "sweeps/digits-lr.best.json", "kl", "lr 4e-4", "lr 2e-4"),
          ("digits-lr-x4", "digits-lr", "sweeps/digits-lr-high.best.json", "kl", "lr 8e-4", "lr 4e-4"),
          ("digits-lr-x4-rejected", "digits-lr", "sweeps/digits-lr-high.best.json", "kl", "lr 8e-4", "lr 4e-4"),
          ("digits-lr-x4-lola", "digits-lola-third-cpu", "sweeps/digits-lr-high.best.json", "kl", "lr 8e-4",
           "lr 2e-4")]


def _paired_rows() -> list[str]:
    out = []
    for new, old, best_file, metric, new_words, old_words in PAIRED:
        if not all((RESULTS / r / "table.csv").exists() for r in (new, old)) or not (RESULTS / best_file).exists():
            continue
        best = json.loads((RESULTS / best_file).read_text())["best"]
        a_lines, b_lines = csv_rows(RESULTS / new), csv_rows(RESULTS / old)
        rows = []
        for solver in sorted({r["method"] for r in a_lines}):
            gen = best[solver]["generator"]
            seeds, (x, y) = paired(a_lines, b_lines, solver, f"{gen}.{metric}")
            if not seeds:
                continue
            _, (fx, fy) = paired(a_lines, b_lines, solver, f"{gen}.frechet")
            lower = sum(u < v for u, v in zip(x, y))
            rows.append(f"| {solver} | {gen} | {','.join(map(str, seeds))} | {statistics.fmean(x):.4f} ± {sd(x):.2g} | "
                        f"{statistics.fmean(y):.4f} ± {sd(y):.2g} | {lower} of {len(seeds)} | "
                        f"{statistics.fmean(fx):.1f} | {statistics.fmean(fy):.1f} |")
        out += [f"### `{new}` against `{old}`", "",
                f"Each solver's generator as the sweep scored it ({best_file}); {metric} and Frechet distance are "
                "means over the seeds both reports ran.", "",
                f"| solver | generator | seeds | {metric}, {new_words} (`{new}`) | {metric}, {old_words} (`{old}`) | "
                f"seeds where {new_words} is lower | Frechet, {new_words} | Frechet, {old_words} |",
                "|---|---|---|---|---|---|---|---|", *rows, ""]
    return out


def _kept(report: Path) -> str:
    """Whether the report's runs (config.json, metrics.jsonl) are in the repository, so the table recomputes."""
    folders = [Path(r["folder"]) for r in csv_rows(report)]
    if all((DOCS.parent / f / "metrics.jsonl").is_file() for f in folders):
        recorded = sum((DOCS.parent / f / "environment.json").is_file() for f in folders)
        environment = ("" if not recorded else " and environment.json (solver options in effect, CPU kernels)"
                       + ("" if recorded == len(folders) else f" for {recorded} of its {len(folders)} runs"))
        return (f"Its runs' config.json and metrics.jsonl{environment} are in the repository: `gan compare "
                "--no-figures` with `--run` on those folders recomputes the table.")
    return ("Its run folders are **not** in the repository (a `.gitignore` rule for `runs/` excluded "
            "docs/results/runs/ when the report was committed, whatever its note says): the table is the report "
            "as written and cannot be recomputed from files here.")


def folded(command: str, root: Path = DOCS.parent) -> str:
    """The command with its run folders (``--run A --run B`` or ``--run A B``) shown as one glob when they are
    every folder of one folder under ``root``, and its ``--note`` (shown apart) elided."""
    head, _, tail = command.partition(" --note ")
    span = re.search(r"( --run( (?!--)\S+)+)+", head)
    runs = {t for t in span.group(0).split() if t != "--run"} if span else set()
    parent = Path(next(iter(runs))).parent if runs else None
    if len(runs) > 1 and (root / parent).is_dir() \
            and runs == {str(parent / d.name) for d in (root / parent).iterdir() if d.is_dir()}:
        head = head[:span.start()] + f" --run {parent}/*" + head[span.end():]
    if tail:
        head += " --note ..." + (" --out " + tail.rsplit(" --out ", 1)[1] if " --out " in tail else "")
    return head


def main() -> None:
    reports = sorted(p for p in RESULTS.iterdir() if (p / "table.md").exists())
    out = ["# GAN results (generated)", "",
           "Generated by `python docs/make_gan_results.py` from the report folders under `docs/results/` (do not "
           "edit by hand). Every table below is a `gan compare` or `gan sweep` output; each report names its "
           "command, machine, torch version and seeds. All runs ran on a 2-core CPU with one torch thread per run, "
           "while other runs and test suites shared the machine, so seconds per step are upper bounds. "
           + machines_sentence(reports) + " The section \"The same seeds on other kernels and another CPU\" "
           "shows what a change of machine moves.", "",
           "## Targets", "", *target_rows(), *best_of_rows(), "",
           "Per solver (the issue: every solver except hamiltonian; the mean over the report's runs of the "
           "generator, live `G` or its average `ema`, that scores higher):", "", *per_solver_rows(), "",
           "Baselines: what a plain Adam loop (simultaneous or alternating) gives on the same data, beside the best "
           "solver (the generator with the higher mean of the first metric; means over the runs):", "",
           *baseline_rows(), "",
           "Stacked digits, every solver with its recipe (stacked_digits.md's, found by hand runs of simgd; "
           "gan/recipes.json adds only solver options, not swept, for consensus, sga and unrolled and the SGD base "
           "of acgd), the EMA generator, the report holding the most runs of each; s/step and backward passes per "
           "step are the runs' means (two runs sharing the 2 cores, so upper bounds), hours per run those seconds "
           f"times the recipe's {STACKED_STEPS:,} steps; for a solver that has not run the recipe they come from "
           f"the few-step runs of report {STACKED_COST}:", "", *stacked_rows(), ""]
    for report in reports:
        meta = json.loads((report / "meta.json").read_text()) if (report / "meta.json").exists() else {}
        note = f"Note: {meta['note']}" if meta.get("note") else ""
        out += [f"## {report.name}", "", f"Command: `{folded(meta.get('command', '?'))}` ({meta.get('date', '?')}, "
                f"torch {meta.get('torch', '?')}, {machine(report)}). Full report with figures: [{report.name}/report.md]"
                f"(results/{report.name}/report.md). {_kept(report)}", "", *([note, ""] if note else []),
                (report / "table.md").read_text().strip(), ""]
    if spread := spread_rows():
        out += ["## The same seeds on other kernels and another CPU", "",
                "A run is deterministic on one machine: the same command and seed give bit-identical metrics "
                "(simgd's run of gan_failures.md, trained again from scratch, reproduced every metric, eigenvalue "
                "and spectral radius of the earlier run; only the timings differ). Another machine's CPU "
                "can run other floating-point kernels, and a GAN's trajectory amplifies their rounding "
                "differences.", "",
                *(["Two CPUs may also compute the same numbers. These reports ran the same configurations and "
                   "seeds on two CPUs; the last column counts the runs whose metrics.jsonl agree on every logged "
                   "number (timings aside):", "", *same] if (same := identical_rows()) else []),
                "Where the numbers differ, the rows below rerun the seeds of the targets' best solvers, with the "
                "same commands and configurations, either with other kernels forced on the first machine or on "
                "another machine of the same kind (how: the note of the rerun's report), and set each seed's "
                "result beside the first:", "",
                *spread]
    sweeps = sorted((RESULTS / "sweeps").glob("*.md")) if (RESULTS / "sweeps").exists() else []
    for sweep in sweeps:
        best = json.loads(sweep.with_suffix(".best.json").read_text())
        lines = [r for r in map(json.loads, sweep.with_suffix(".jsonl").read_text().splitlines()) if r["data"] == best["data"]]
        out += [f"## Sweep: {sweep.stem}", "",
                f"Every solver got the same {len(best.get('configurations', [])) or 'grid of'} configurations "
                f"(grid {json.dumps(best['grid'])}, fixed {json.dumps(best['fixed'])}, seeds {best['seeds']}, "
                f"{best['steps']} steps); every run is in [sweeps/{sweep.name}](results/sweeps/{sweep.name}).", "",
                f"| solver | best configuration | generator | score ({score_heading(lines)}) |",
                "|---|---|---|---|"]
        for solver, b in sorted(best["best"].items()):
            score = ", ".join(f"{x:.4g}" for x in b["mean_score"])
            swept = f" ({json.dumps(b['as_swept'])})" if b.get("as_swept", b["overrides"]) != b["overrides"] else ""
            out.append(f"| {solver} | `{json.dumps(b['overrides'])}`{swept} | {b.get('generator', '')} | {score} |")
        out.append("")
    if paired := _paired_rows():
        out += ["## Sweep winners against the recipes they replaced, seed by seed", "",
                "A sweep's winner on seed 0 becomes a recipe only when it beats the old recipe over five seeds; "
                "where both ran on one machine, the seeds pair up:", "", *paired]
    out += ["## Why methods fail", "", "The diagnostics recorded during training explain (or fail to explain) "
            "the failures: [gan_failures.md](gan_failures.md).", "",
            "## Earlier results", "", "The first round's hand-copied tables (consensus and SGA on the ring and the "
            "grid, four solvers on digits) are kept, marked as such, in "
            "[gan_results_first_round.md](gan_results_first_round.md); their run folders no longer exist, and "
            "`python examples/reproduce_tables.py` regenerates their rows with today's recipes.", ""]
    (DOCS / "gan_results.md").write_text("\n".join(out))
    print(f"wrote {DOCS / 'gan_results.md'}")


if __name__ == "__main__":
    main()
