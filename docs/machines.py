"""Which machine ran each report, and what changing the machine or its kernels does to a run: the machine tables
of docs/gan_results.md (imported by make_gan_results.py and targets.py, never run alone).

A run is deterministic on one machine. On another CPU the floating-point kernels may differ and a GAN's
trajectory amplifies the rounding: either the runs agree to the last digit (`identical_rows`) or they are new
draws, set seed by seed beside the first (`spread_rows`).
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

from gan.compare.runs import read_run
from gan.config import TrainConfig
from gan.run_state import read_environment

RESULTS = Path(__file__).resolve().parent / "results"
#: reports whose meta.json names no CPU (`gan compare` did not record it yet)
UNRECORDED = "CPU not recorded (the first machine)"
SECOND = "AuthenticAMD AMD EPYC (cpu family 26, model 2, stepping 1)"
#: sweeps record no machine: the CPU each ran on (gan_training.md says so where it describes them)
SWEEPS = {"ring-width": SECOND, "digits-lr": SECOND, "digits-lr-high": SECOND}

SECOND_CPU = "a second machine of the same kind (AMD EPYC, family 26, AVX512 kernels)"
THIRD_CPU = "a third machine of the same kind (AMD EPYC, family 25, AVX2 kernels)"
SCALAR = "the first machine with scalar kernels (ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2)"
#: (solver, report of the first runs, report of the same seeds rerun, what differs in the rerun, generator, metric,
#: target as (comparison, value) or None): how far a seed moves when only the floating-point arithmetic changes.
#: The solver is its method name in both tables, or (name in the first, name in the rerun) when a recipe change
#: renamed it
SPREAD = [("sga", "ring", "ring-machine", SCALAR, "ema", "high_quality", (">=", 0.97)),
          ("sga", "ring", "ring-second-cpu", SECOND_CPU, "ema", "high_quality", (">=", 0.97)),
          *((s, "ring-r1", "ring-second-cpu", SECOND_CPU, "ema", "high_quality", (">=", 0.97))
            for s in ("optimistic", "simgd", "lola", "altgd", "sos")),
          ("simgd", "grid-r1", "grid-second-cpu", SECOND_CPU, "ema", "high_quality", (">=", 0.96)),
          *((("simgd (loss=hinge)", "simgd"), "stacked-digits-w64", "stacked-digits-third-cpu", THIRD_CPU, "ema",
             metric, target) for metric, target in (("modes", (">=", 990)), ("kl", ("<=", 0.1)))),
          ("consensus", "digits-lr-x4", "digits-third-cpu", THIRD_CPU, "ema", "classes", (">=", 10)),
          ("consensus", "digits-lr-x4", "digits-third-cpu", THIRD_CPU, "ema", "kl", None)]
#: (report, report of the same configurations and seeds on another machine): did the two CPUs compute the same
#: numbers?
IDENTICAL = [("ring-second-cpu", "ring-third-cpu"), ("grid-second-cpu", "grid-third-cpu"),
             ("digits-lr-x4", "digits-third-cpu"), ("digits-second-cpu", "digits-second-cpu-rerun")]


def csv_rows(report: Path) -> list[dict[str, str]]:
    with open(report / "table.csv") as fh:
        return list(csv.DictReader(fh))


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def paired(first: list[dict[str, str]], second: list[dict[str, str]], solver: str | tuple[str, str],
           column: str) -> tuple[list[int], tuple[list[float], list[float]]]:
    """The seeds both tables ran ``solver`` on (a method name, or one per table), and ``column`` of each table on
    those seeds, in seed order."""
    names = (solver, solver) if isinstance(solver, str) else solver
    a, b = ({int(r["seed"]): r for r in t if r["method"] == name} for t, name in zip((first, second), names))
    seeds = sorted(set(a) & set(b))
    return seeds, ([float(a[s][column]) for s in seeds], [float(b[s][column]) for s in seeds])


def _formatter(metric: str):
    """Counts (modes, classes) with one decimal, fractions and divergences with four."""
    return (lambda v: f"{v:.1f}") if metric in ("modes", "classes") else (lambda v: f"{v:.4f}")


def _sd_text(values: list[float]) -> str:
    return "-" if len(values) < 2 else f"{sd(values):.2g}"


def _recorded_cpu(report: Path) -> str:
    """The CPU a report's meta.json names ("PLATFORM, N cores, CPU"), else UNRECORDED."""
    meta = json.loads((report / "meta.json").read_text()) if (report / "meta.json").exists() else {}
    parts = meta.get("machine", "").split(", ", 2)
    return parts[2] if len(parts) == 3 else UNRECORDED


def cpus(report: Path, root: Path = RESULTS.parent.parent) -> list[str]:
    """The CPUs a report's runs ran on: each run's own record (its environment.json, one entry per launch or
    resume), and for a run that records none (older code, or runs not kept) the CPU of the report's `gan compare`,
    from its meta.json. A report whose runs came from two machines names both."""
    found, fallback = set(), False
    for row in csv_rows(report) if (report / "table.csv").exists() else []:
        named = {e["cpu"] for e in read_environment(root / row["folder"]) if e.get("cpu")}
        found |= named
        fallback |= not named
    if fallback or not found:
        found.add(_recorded_cpu(report))
    return sorted(found)


def machine(report: Path, root: Path = RESULTS.parent.parent) -> str:
    """The CPUs of ``cpus`` as one phrase."""
    return " and ".join(cpus(report, root))


def machines_sentence(reports: list[Path]) -> str:
    """Which reports and sweeps ran on which CPU, for the page's header."""
    by_cpu: dict[str, list[str]] = {}
    for report in reports:
        for cpu in cpus(report):
            by_cpu.setdefault(cpu, []).append(f"`{report.name}`")
    for sweep, cpu in SWEEPS.items():
        by_cpu.setdefault(cpu, []).append(f"sweep `{sweep}`")
    named = [f"{cpu}: {', '.join(names)}" for cpu, names in sorted(by_cpu.items()) if cpu != UNRECORDED]
    return ("Machines (each a 2-core machine of the same kind; the CPU as each run recorded it, or where a run "
            "records none as the report's `gan compare` did; a report whose runs came from two machines is named "
            "under both): " + "; ".join(named) + f"; every other report: {UNRECORDED}.")


def trajectory(run: Path) -> list[dict]:
    """A run's evaluations (``gan.compare.runs.read_run``) without their timings (``seconds``, and the step count
    that later versions add to ``cost``): what two machines computing the same numbers write alike."""
    lines = []
    for record in read_run(run).evaluations:
        line = {k: v for k, v in record.items() if k != "seconds"}
        if isinstance(line.get("cost"), dict):
            line["cost"] = {k: v for k, v in line["cost"].items() if k != "steps"}
        lines.append(line)
    return lines


def _config_differences(a: Path, b: Path) -> dict[str, tuple]:
    """The options two runs' config.json set differently (``TrainConfig.differences``), where files go aside."""
    first, second = (TrainConfig.from_dict(read_run(r).config) for r in (a, b))
    return first.differences(second, ignore=("out", "progress"))


def identical_rows(root: Path = RESULTS.parent.parent) -> list[str]:
    """For each IDENTICAL pair: the runs of one configuration and seed in both, and how many agree on every
    logged number. A run pair whose configurations differ is an error in IDENTICAL, not a result."""
    rows = []
    for first, second in IDENTICAL:
        if not all((RESULTS / r / "table.csv").exists() for r in (first, second)):
            continue
        a = {(r["method"], int(r["seed"])): root / r["folder"] for r in csv_rows(RESULTS / first)}
        b = {(r["method"], int(r["seed"])): root / r["folder"] for r in csv_rows(RESULTS / second)}
        both = sorted(set(a) & set(b))
        for key in both:
            if differ := _config_differences(a[key], b[key]):
                raise ValueError(f"IDENTICAL pairs {a[key]} with {b[key]}, whose config.json differ: {differ}")
        same = [key for key in both if trajectory(a[key]) == trajectory(b[key])]
        runs = ", ".join(f"{m} {s}" for m, s in both)
        rows.append(f"| `{first}` / `{second}` | {machine(RESULTS / first)} / {machine(RESULTS / second)} | {runs} | "
                    f"{len(same)} of {len(both)} |")
    if not rows:
        return []
    return ["| reports | CPUs | runs (method, seed) | runs whose every logged number agrees |", "|---|---|---|---|",
            *rows, ""]


def spread_rows() -> list[str]:
    """For each SPREAD entry: the seeds of both reports side by side, their means and the target on each."""
    rows = []
    for solver, first, rerun, differs, gen, metric, target in SPREAD:
        if not all((RESULTS / r / "table.csv").exists() for r in (first, rerun)):
            continue
        seeds, (x, y) = paired(csv_rows(RESULTS / first), csv_rows(RESULTS / rerun), solver, f"{gen}.{metric}")
        if not seeds:
            continue
        mx, my, _num = statistics.fmean(x), statistics.fmean(y), _formatter(metric)
        per_seed = ", ".join(f"{_num(u)} / {_num(v)}" for u, v in zip(x, y))
        met = "no target" if target is None else f"{target[0]} {target[1]:g}: " + " and ".join(
            "yes" if (m >= target[1] if target[0] == ">=" else m <= target[1]) else "**no**" for m in (mx, my))
        name = solver if isinstance(solver, str) else " / ".join(dict.fromkeys(solver))
        rows.append(f"| {name} | `{first}` / `{rerun}` | {differs} | {gen} {metric.replace('_', ' ')} | "
                    f"{','.join(map(str, seeds))} | {per_seed} | {_num(mx)} ± {_sd_text(x)} | {_num(my)} ± {_sd_text(y)} | "
                    f"{'+' if my >= mx else '-'}{_num(abs(my - mx))} | {_num(max(abs(u - v) for u, v in zip(x, y)))} | "
                    f"{met} |")
    if not rows:
        return []
    return ["| solver | reports (first / rerun) | the rerun ran on | metric | seeds | per seed (first / rerun) | "
            "mean ± std, first | mean ± std, rerun | change of the mean | largest per-seed change | "
            "target: met first and rerun? |", "|---|---|---|---|---|---|---|---|---|---|---|", *rows, ""]
