"""Write docs/gan_results.md from the reports of `gan compare` and `gan sweep` (never typed by hand).

    python docs/make_gan_results.py

Each report folder under docs/results/ (written by ``gan compare ... --out docs/results/NAME``)
contributes its table and figures; docs/results/sweeps/*.md (written by ``gan sweep``) are linked
with their best configurations. Each run's config.json and metrics.jsonl are kept under
docs/results/runs/ so `gan compare --run docs/results/runs/... --no-figures` recomputes every
table; the targets below are checked from the tables' CSV files.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from gan.sweep import score_heading
from machines import csv_rows, identical_rows, machine, machines_sentence, paired, sd, spread_rows

DOCS = Path(__file__).resolve().parent
RESULTS = DOCS / "results"

#: the stacked-digits reports
STACKED = ("stacked-digits", "stacked-digits-mbd", "stacked-digits-pack", "stacked-digits-sn",
           "stacked-digits-probes", "stacked-digits-w64", "stacked-digits-third-cpu",
           "stacked-digits-solvers")

#: (reports, method prefix, metric, comparison, value, the issue's words): the best (report, method, generator)
#: counts, the generator being the live ``G`` or an average (``ema``, ``uniform``)
TARGETS = [
    (("ring-unrolled", "ring"), "unrolled", "modes", ">=", 8.0, "unrolled (10 steps): 8.0 ring modes, 5 seeds"),
    (("ring-unrolled", "ring"), "unrolled", "high_quality", ">=", 0.90, "unrolled (10 steps): >= 90% high quality"),
    (STACKED, "", "modes", ">=", 990, "stacked-digits: >= 990 of 1,000 modes"),
    (STACKED, "", "kl", "<=", 0.1, "stacked-digits: KL <= 0.1"),
]


def _target_rows() -> list[str]:
    rows = ["| target | measured (mean over runs) | runs | met? |", "|---|---|---|---|"]
    for names, method, metric, op, value, words in TARGETS:
        found = []  # (mean, report, method, runs)
        for name in names:
            if not (RESULTS / name / "table.csv").exists():
                continue
            table = [r for r in csv_rows(RESULTS / name) if r["method"].startswith(method)]
            for m in sorted({r["method"] for r in table}):
                lines = [r for r in table if r["method"] == m]
                for col in (k for k in lines[0] if k.endswith("." + metric)):
                    if all(r[col] != "" for r in lines):
                        found.append((statistics.fmean(float(r[col]) for r in lines), name, f"{m}, {col}", len(lines)))
        if not found:
            rows.append(f"| {words} | not run | 0 | no |")
            continue
        meets = [f for f in found if (f[0] >= value if op == ">=" else f[0] <= value)]
        if meets:  # of the rows that meet it, the one over the most runs, then the best
            mean, name, m, n = max(meets, key=lambda f: (f[3], f[0] if op == ">=" else -f[0]))
        else:
            mean, name, m, n = max(found) if op == ">=" else min(found)
        met = bool(meets)
        rows.append(f"| {words} | {mean:.4g} ({m}, {name}) | {n} | {'**yes**' if met else 'no'} |")
    return rows


#: per data set, the reports that hold each solver's recipe rows: the first report holding a solver counts
#: (a solver whose recipe moved, e.g. to R1 1, has its older rows in a later report)
RECIPE_REPORTS = {"ring": ("ring-lr", "ring-r1", "ring-width", "ring", "ring-unrolled"),
                  "grid": ("grid-r1", "grid-solvers", "grid-cgd", "grid-acgd", "grid"),
                  "digits": ("digits-lr-x4", "digits-lr-x4-lola", "digits-lr", "digits")}
#: per-solver targets (hamiltonian is exempt): (reports, metric, comparison, value, the issue's words)
PER_SOLVER = [
    (RECIPE_REPORTS["ring"], "modes", ">=", 7.5, "ring >= 7.5 modes (its recipe)"),
    (RECIPE_REPORTS["digits"], "classes", ">=", 10, "digits 10/10 classes (its recipe)"),
]
#: (reports, modes, high quality, KL, the issue's words): the best (report, method, generator) over the reports
BEST_OF = [(("ring", "ring-r1", "ring-lr", "ring-width"), 8.0, 0.97, 0.01, "at least one solver: ring 8.0 modes, >= 97% high quality, KL <= 0.01"),
           (("grid", "grid-r1", "grid-solvers", "grid-cgd"), 25.0, 0.96, None, "at least one solver: grid 25.0 modes, >= 96% high quality"),
           (("ring-second-cpu", "ring-width"), 8.0, 0.97, 0.01, "the ring target again, the best solvers' seeds rerun on a second "
            "machine of the same kind"),
           (("grid-second-cpu",), 25.0, 0.96, None, "the grid target again, its best solver's seeds rerun on a second "
            "machine of the same kind"),
           (("ring-third-cpu",), 8.0, 0.97, 0.01, "the ring target again, its best solver's seeds rerun on a third "
            "machine of the same kind")]
#: BEST_OF's targets are over 5 seeds: rows of fewer runs (probes, checks of one seed) do not count there
TARGET_RUNS = 5


def _best_generator_means(lines: list[dict[str, str]], metric: str) -> tuple[float, str] | None:
    """The highest mean of ``GEN.metric`` over the runs, among the generators the runs scored."""
    gens = sorted({k.split(".", 1)[0] for k in lines[0] if k.endswith("." + metric)})
    means = [(statistics.fmean(float(r[f"{g}.{metric}"] or "nan") for r in lines), g) for g in gens]
    means = [(m, g) for m, g in means if m == m]
    return max(means) if means else None


def _per_solver_rows() -> list[str]:
    rows = ["| solver | " + " | ".join(words for *_, words in PER_SOLVER) + " |",
            "|---|" + "---|" * len(PER_SOLVER)]
    tables = {name: csv_rows(RESULTS / name) for names, *_ in PER_SOLVER for name in names
              if (RESULTS / name / "table.csv").exists()}
    solvers = sorted({r["method"] for t in tables.values() for r in t} - {"hamiltonian"})
    for solver in solvers:
        cells = []
        for names, metric, op, value, _ in PER_SOLVER:
            found = [(name, lines) for name in names
                     if (lines := [r for r in tables.get(name, []) if r["method"] == solver])]
            best = _best_generator_means(found[0][1], metric) if found else None
            if best is None:
                cells.append("not run")
                continue
            (mean, gen), (name, lines) = best, found[0]
            met = mean >= value if op == ">=" else mean <= value
            runs = f"{len(lines)} run" + ("s" if len(lines) != 1 else "")
            cells.append(f"{gen} {mean:.3g} ({runs}, {name}): {'**yes**' if met else 'no'}")
        rows.append(f"| {solver} | " + " | ".join(cells) + " |")
    return rows


def _best_of_rows() -> list[str]:
    rows = []
    for names, modes, hq, kl, words in BEST_OF:
        found = []
        for name in (n for n in names if (RESULTS / n / "table.csv").exists()):
            table = csv_rows(RESULTS / name)
            for solver in sorted({r["method"] for r in table}):
                lines = [r for r in table if r["method"] == solver]
                if len(lines) < TARGET_RUNS:
                    continue
                for g in sorted({k.split(".", 1)[0] for k in lines[0] if k.endswith(".high_quality")}):
                    try:
                        m = [statistics.fmean(float(r[f"{g}.{k}"]) for r in lines)
                             for k in ("modes", "high_quality", "kl")]
                    except ValueError:  # a run without a KL (no mode captured)
                        continue
                    ok = m[0] >= modes and m[1] >= hq and (kl is None or m[2] <= kl)
                    found.append((ok, m[1], solver, g, m, len(lines), name))
        if not found:
            rows.append(f"| {words} | no run scored | 0 | no |")
            continue
        ok, _, solver, g, m, n, name = max(found)
        rows.append(f"| {words} | best: {solver} ({g}, {name}) {m[0]:.3g} / {m[1]:.3f} / {m[2]:.3g} | {n} | "
                    f"{'**yes**' if ok else 'no'} |")
    return rows


#: plain Adam, simultaneous and alternating, as users run it today, beside the best solver of the same data set
#: with its recipe (RECIPE_REPORTS): (data set, report of the baseline runs, their methods, metrics shown, words)
BASELINES = [
    ("ring", "ring-adam", ("simgd", "altgd"), ("modes", "high_quality", "kl"),
     "plain Adam (lr 2e-4, betas 0.5, 0.999), the ring recipe otherwise"),
    ("grid", "grid-adam", ("simgd", "altgd"), ("modes", "high_quality", "kl"),
     "plain Adam (lr 2e-4, betas 0.5, 0.999), the grid recipe otherwise"),
    ("digits", "digits-second-cpu", ("simgd", "altgd"), ("classes", "frechet", "kl"),
     "plain Adam as DCGAN sets it (lr 2e-4, betas 0.5, 0.999), the digits recipe otherwise (the recipe before the "
     "digits-lr sweep moved simgd and altgd to 4e-4), on the machine of report digits-lr"),
]


def _scored(lines: list[dict[str, str]], metrics: tuple[str, ...]) -> tuple[tuple, str, list[float]] | None:
    """(sort key, generator, means of ``metrics``) for the generator with the best mean first metric."""
    best = None
    for g in sorted({k.split(".", 1)[0] for k in lines[0] if k.endswith("." + metrics[0])}):
        means = []
        for k in metrics:
            values = [float(r.get(f"{g}.{k}") or "nan") for r in lines]
            means.append(statistics.fmean(values) if all(v == v for v in values) else float("nan"))
        key = (means[0], means[1] if metrics[1] != "frechet" else -means[1])
        if means[0] == means[0] and (best is None or key > best[0]):
            best = (key, g, means)
    return best


def _baseline_rows() -> list[str]:
    rows = []
    for data, report, methods, metrics, _ in BASELINES:
        if not (RESULTS / report / "table.csv").exists():
            continue
        base = csv_rows(RESULTS / report)
        entries = [(f"{m}, plain Adam (baseline)", report, [r for r in base if r["method"] == m]) for m in methods]
        recipe_rows: dict[str, tuple[str, list[dict[str, str]]]] = {}  # solver -> (report, its rows)
        for name in (n for n in RECIPE_REPORTS[data] if (RESULTS / n / "table.csv").exists()):
            for line in csv_rows(RESULTS / name):
                if name == report and line["method"] in methods:  # the baseline's own rows
                    continue
                if recipe_rows.setdefault(line["method"], (name, []))[0] == name:
                    recipe_rows[line["method"]][1].append(line)
        scored = [(s, m, name, lines) for m, (name, lines) in recipe_rows.items() if (s := _scored(lines, metrics))]
        if scored:
            _, m, name, lines = max(scored, key=lambda x: x[0][0])
            entries.append((f"{m} (the best solver with its recipe)", name, lines))
        for label, name, lines in entries:
            if not lines or not (s := _scored(lines, metrics)):
                continue
            _, g, means = s
            score = ", ".join(f"{k.replace('_', ' ')} " + ("n/a" if v != v else f"{v:.3g}") for k, v in zip(metrics, means))
            rows.append(f"| {data} | {label} | {len(lines)} | {g} | {score} | {name} |")
    if not rows:
        return []
    notes = " ".join(f"{data}: {words}." for data, *_, words in BASELINES)
    return ["| data set | method | runs | generator | score (means over the runs) | report |",
            "|---|---|---|---|---|---|", *rows, "", notes + " KL is n/a where a run's generator captured no mode."]


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


def _folded(command: str) -> str:
    """The command with its run of ``--run FOLDER`` arguments shown as one glob when they share a folder,
    and its ``--note`` (shown apart) elided."""
    head, _, tail = command.partition(" --note ")
    runs = re.findall(r" --run (\S+)", head)
    parents = {str(Path(r).parent) for r in runs}
    if len(runs) > 1 and len(parents) == 1:
        head = re.sub(r"( --run \S+)+", f" --run {parents.pop()}/*", head, count=1)
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
           "## Targets", "", *_target_rows(), *_best_of_rows(), "",
           "Per solver (the issue: every solver except hamiltonian; the mean over the report's runs of the "
           "generator, live `G` or its average `ema`, that scores higher):", "", *_per_solver_rows(), "",
           "Baselines: what a plain Adam loop (simultaneous or alternating) gives on the same data, beside the best "
           "solver (the generator with the higher mean of the first metric; means over the runs):", "",
           *_baseline_rows(), ""]
    for report in reports:
        meta = json.loads((report / "meta.json").read_text()) if (report / "meta.json").exists() else {}
        note = f"Note: {meta['note']}" if meta.get("note") else ""
        out += [f"## {report.name}", "", f"Command: `{_folded(meta.get('command', '?'))}` ({meta.get('date', '?')}, "
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
