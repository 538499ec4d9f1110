"""``gan sweep``: the same grid of configurations for every solver, scored the same way, resumable.

    gan sweep --data ring --solvers all --grid lr_g=1e-4,1e-3 --grid lr_d=1e-4,1e-3 --seeds 0-1 \\
        --steps 3000 --runs runs/sweep --out sweeps/ring.jsonl

Every solver gets the same budget: the Cartesian product of the ``--grid`` values (the same
number of configurations), the same seeds and the same steps. A value ``xF`` (``lr_d=x0.3,x1,x3``)
is F times the value the solver's recipe gives that key, so solvers whose recipes differ get the
same relative move (the result line keeps both, the absolute value under ``resolved``). Each
(solver, configuration, seed) is a run folder under ``--runs``; its final evaluation is appended as
one JSON line to ``--out`` (the raw results, kept). An interrupted sweep run again with the same command
skips what ``--out`` already holds, resumes a run folder that stopped midway and never counts
a configuration twice; a folder there made with other settings (folder names carry only the grid's
overrides: another ``--set`` or ``--steps``) is refused before anything runs. The best configuration
of each solver is the one whose mean score over the seeds is highest, the score being (modes,
high-quality fraction, -KL) for mixtures and (classes or modes, -KL, -Frechet distance) for images,
compared in that order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from .compare.runs import CompareError, check_same_method, ensure_run, flatten

__all__ = ["SweepError", "parse_grid", "configurations", "resolve_relative", "score", "run_sweep",
           "best_configurations", "sweep_source"]


class SweepError(CompareError):
    """A sweep that cannot run as asked (bad grid, bad name, unwritable output)."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["lr_g=1e-4,1e-3", "ema=0.999"]`` -> ``{"lr_g": [1e-4, 1e-3], "ema": [0.999]}`` (values as JSON
    where they parse, else strings; solver options as ``solver_options.KEY=...``)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise SweepError(f"--grid takes KEY=V1,V2,..., got {item!r}")
        if key in grid:
            raise SweepError(f"--grid {key} is given twice")
        if key in ("solver", "seed", "out", "data"):
            raise SweepError(f"--grid {key}: the sweep sets {key} itself; grid keys are configuration keys such as "
                             "lr_g, lr_d, optimizer, ema or solver_options.NAME")
        grid[key] = [_parse_value(v.strip()) for v in values.split(",")]
    return grid


def configurations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (one empty configuration for an empty grid)."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _factor(value: Any) -> float | None:
    """F of a relative grid value ``"xF"``, else None."""
    if isinstance(value, str) and value[:1] == "x":
        try:
            return float(value[1:])
        except ValueError:
            return None
    return None


def resolve_relative(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with each ``"xF"`` value replaced by F times what ``config``'s recipe resolves for
    that key (``lr_d=x3`` with a recipe lr of 1e-3 -> 0.003); other values unchanged."""
    from .config import ConfigError, TrainConfig
    relative = {k: f for k, v in overrides.items() if (f := _factor(v)) is not None}
    if not relative:
        return dict(overrides)
    try:
        absolute = {k: v for k, v in overrides.items() if k not in relative}
        base = TrainConfig.from_dict(_apply(config, absolute)).resolved()
    except ConfigError as exc:
        raise SweepError(f"--grid: cannot resolve {sorted(relative)} against the recipe: {exc}") from None
    out = dict(overrides)
    for key, factor in relative.items():
        value = getattr(base, key, None) if "." not in key else (base.solver_options or {}).get(key.split(".", 1)[1])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SweepError(f"--grid {key}={overrides[key]}: a relative value xF needs a numeric {key} in the recipe "
                             f"of {config['data']!r} and {config['solver']!r}, which gives {value!r}")
        out[key] = float(f"{value * factor:.12g}")
    return out


def _apply(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for key, value in overrides.items():
        if key.startswith("solver_options."):
            out.setdefault("solver_options", {})[key.split(".", 1)[1]] = value
        else:
            out[key] = value
    return out


def config_id(overrides: dict[str, Any]) -> str:
    """A short stable name of a configuration (its folder name and its key in the results)."""
    return hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]


def _score_of(flat: dict[str, float], who: str) -> tuple[float, ...]:
    def get(name, sign=1.0):
        v = flat.get(f"{who}.{name}")
        return -math.inf if v is None or not math.isfinite(v) else sign * v
    if f"{who}.high_quality" in flat:
        return get("modes"), get("high_quality"), get("kl", -1.0)
    return get("classes") if f"{who}.classes" in flat else get("modes"), get("kl", -1.0), get("frechet", -1.0)


def score(evaluation: dict[str, Any]) -> tuple[tuple[float, ...], str]:
    """Higher is better: (modes, high quality, -KL) on mixtures; (classes or modes, -KL, -Frechet) on
    images. Each generator the run scored (live ``G``, ``ema``, ``uniform``) is scored; the best one
    counts, and its name is returned with the score (keeping an average is part of a recipe)."""
    flat = flatten(evaluation)
    gens = sorted({k.split(".", 1)[0] for k in flat if "." in k and not k.startswith(("losses.", "nonfinite."))})
    if not gens:
        return (-math.inf,), "none"
    return max((_score_of(flat, g), g) for g in gens)


def _read_results(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill is rewritten when the run is read again
            continue
    return out


def _folder(runs: Path, data: str, solver: str, overrides: dict[str, Any], seed: int) -> Path:
    return runs / f"{data}-{solver}-{config_id(overrides)}-seed{seed}"


def run_sweep(data: str, solvers: list[str], grid: dict[str, list[Any]], seeds: list[int], steps: int,
              runs: Path, out: Path, fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the sweep and return every result line, one per (solver, configuration, seed)."""
    results = _read_results(out)
    seen = {(r["solver"], r["config_id"], r["seed"]) for r in results}

    def base(solver: str, seed: int) -> dict[str, Any]:
        return {"data": data, "solver": solver, "seed": seed, "steps": steps, "progress": False, **(fixed or {})}

    # every relative value resolved before anything runs, so a bad one stops the sweep at the start
    plan = [(s, c, resolve_relative(base(s, seed), c), seed) for s in solvers for c in configurations(grid)
            for seed in seeds]
    for solver, overrides, resolved, seed in plan:  # a folder left by another sweep (--set, --steps) stops it here
        if (solver, config_id(overrides), seed) not in seen:
            check_same_method(_folder(runs, data, solver, overrides, seed), _apply(base(solver, seed), resolved))
    out.parent.mkdir(parents=True, exist_ok=True)
    for k, (solver, overrides, resolved, seed) in enumerate(plan, 1):
        cid = config_id(overrides)
        if (solver, cid, seed) in seen:
            continue
        print(f"[{k}/{len(plan)}] {data} {solver} {overrides} seed {seed}", file=sys.stderr, flush=True)
        run = ensure_run(_folder(runs, data, solver, overrides, seed), _apply(base(solver, seed), resolved))
        line = {"data": data, "solver": solver, "config_id": cid, "overrides": overrides, "seed": seed,
                **({"resolved": resolved} if resolved != overrides else {}),
                "steps": steps, "evaluation": run.last, "seconds_per_step": run.seconds_per_step(),
                "score": list(score(run.last)[0]), "generator": score(run.last)[1], "folder": str(run.path)}
        with open(out, "a") as fh:  # one line per finished run, appended whole
            fh.write(json.dumps(line) + "\n")
        results.append(line)
        seen.add((solver, cid, seed))
    return results


def best_configurations(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per solver, the configuration (and generator) with the best mean score over its seeds; ties go
    to the first in grid order. Scores are recomputed from each line's evaluation. ``overrides`` are
    absolute (a relative grid value resolved for the solver); ``as_swept`` is the grid's own value."""
    by: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results:
        flat = flatten(r["evaluation"])
        for who in sorted({k.split(".", 1)[0] for k in flat if "." in k and not k.startswith(("losses.", "nonfinite."))}):
            by.setdefault((r["solver"], r["config_id"], who), []).append({**r, "score": _score_of(flat, who)})
    best: dict[str, dict[str, Any]] = {}
    for (solver, cid, who), lines in by.items():
        mean = tuple(statistics.fmean(col) for col in zip(*[r["score"] for r in lines]))
        if solver not in best or mean > tuple(best[solver]["mean_score"]):
            best[solver] = {"overrides": lines[0].get("resolved", lines[0]["overrides"]),
                            "as_swept": lines[0]["overrides"], "config_id": cid, "generator": who,
                            "mean_score": list(mean), "seeds": sorted(r["seed"] for r in lines)}
    return best


def add_parser(sub):
    import argparse
    s = sub.add_parser("sweep", help="the same grid of configurations for every solver (resumable)",
                       description=__doc__.split("\n\n")[0] + ".",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--data", default="ring", help="data set")
    s.add_argument("--solvers", default="all", help="comma-separated solver names, or all")
    s.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="configuration key and its values (repeatable; the product is every solver's budget); "
                        "a value xF is F times the solver's recipe value, e.g. lr_d=x0.3,x1,x3")
    s.add_argument("--set", dest="fixed", action="append", default=[], metavar="KEY=VALUE",
                   help="configuration key fixed for every run (repeatable)")
    s.add_argument("--seeds", default="0", help="seeds, as 0-4 or 0,1,7")
    s.add_argument("--steps", type=int, required=True, help="training steps of every run")
    s.add_argument("--runs", default="runs/sweep", help="folder of the sweep's run folders")
    s.add_argument("--out", required=True, help="results file (JSON lines, appended; the sweep's raw results)")
    s.add_argument("--write-recipes", action="store_true",
                   help="set each solver's best configuration as its recipe for --data in gan/recipes.json")
    return s


def sweep_source(data: str, grid: dict[str, list[Any]], seeds: list[int], steps: int, results: str) -> str:
    """The ``source`` line of a recipe a sweep chose."""
    return (f"gan sweep on {data}: best of {len(configurations(grid))} configurations {json.dumps(grid)} "
            f"over seeds {seeds} at {steps} steps (raw results: {results})")


_HEADINGS = {"modes": "modes", "classes": "classes", "high_quality": "high quality", "kl": "KL", "frechet": "Frechet"}


def score_columns(results: list[dict[str, Any]]) -> tuple[str, ...]:
    """The metrics the score of these result lines is made of, in its order (see :func:`score`): those of
    mixtures, or of images (classes or modes)."""
    names = {k.split(".", 1)[1] for r in results for k in flatten(r["evaluation"]) if "." in k}
    if "high_quality" in names or not names:
        return ("modes", "high_quality", "kl")
    return ("classes" if "classes" in names else "modes", "kl", "frechet")


def score_heading(results: list[dict[str, Any]]) -> str:
    """The score's parts as a heading, lower-is-better ones negated: ``"modes, high quality, -KL"``."""
    return ", ".join(("-" if c in ("kl", "frechet") else "") + _HEADINGS[c] for c in score_columns(results))


def summary(results: list[dict[str, Any]], best: dict[str, dict[str, Any]], info: str) -> str:
    """The sweep as Markdown: every configuration of every solver (best marked), from the result lines."""
    columns = score_columns(results)
    lines = ["# Sweep results (generated)", "", f"Generated by `gan sweep` (do not edit by hand). {info}", "",
             "Each row is one run; the score columns are those of the generator that scores best (live `G`, `ema`, "
             "`uniform`): modes, high-quality fraction and KL on mixtures; classes (or modes), KL and Frechet "
             "distance on images; the best configuration of each solver is the highest mean score over its seeds "
             "(**bold**).", "",
             "| solver | configuration | seed | generator | " + " | ".join(_HEADINGS[c] for c in columns)
             + " | s/step |", "|---" * (len(columns) + 5) + "|"]
    for r in sorted(results, key=lambda r: (r["solver"], r["config_id"], r["seed"])):
        sc, who = score(r["evaluation"])
        flat = flatten(r["evaluation"])
        mark = "**" if best.get(r["solver"], {}).get("config_id") == r["config_id"] else ""
        cells = [f"{flat.get(f'{who}.{m}', float('nan')):.4g}" for m in columns]
        swept = json.dumps(r["overrides"]) + (f" = {json.dumps(r['resolved'])}" if "resolved" in r else "")
        lines.append(f"| {mark}{r['solver']}{mark} | {mark}{swept}{mark} | {r['seed']} | {who} | "
                     + " | ".join(cells) + f" | {r['seconds_per_step']:.4f} |")
    return "\n".join(lines) + "\n"


def main_sweep(args) -> int:
    from .compare.cli import _solvers, _value, parse_seeds
    from .runs import check_writable
    out = Path(args.out)
    check_writable(out.parent if str(out.parent) else ".", "--out")
    if out.exists() and not out.is_file():
        raise SweepError(f"--out {out}: exists and is not a file")
    if args.steps < 1:
        raise SweepError(f"--steps must be an integer >= 1, got {args.steps}")
    solvers, seeds, grid = _solvers(args.solvers), parse_seeds(args.seeds), parse_grid(args.grid)
    fixed = dict(_value(t) for t in args.fixed)
    results = run_sweep(args.data, solvers, grid, seeds, args.steps, Path(args.runs), out, fixed)
    best = best_configurations([r for r in results if r["data"] == args.data and r["solver"] in solvers])
    best_path = out.with_name(out.stem + ".best.json")
    best_path.write_text(json.dumps({"data": args.data, "grid": grid, "seeds": seeds, "steps": args.steps,
                                     "fixed": fixed, "results": out.name, "best": best}, indent=1))
    info = (f"Data {args.data}; grid {json.dumps(grid)}; fixed {json.dumps(fixed)}; seeds {seeds}; "
            f"{args.steps} steps; every solver the same {len(configurations(grid))} configurations.")
    out.with_suffix(".md").write_text(summary([r for r in results if r["data"] == args.data], best, info))
    for solver, b in sorted(best.items()):
        print(f"{solver:14s} {json.dumps(b['overrides'])}  score {b['mean_score']}")
    if args.write_recipes:
        from .recipes import update_recipes
        source = sweep_source(args.data, grid, seeds, args.steps, out.name)
        path = update_recipes(args.data, {s: b["overrides"] for s, b in best.items()}, source)
        print(f"recipes updated: {path}")
    print(f"results: {out}; best per solver: {best_path}; table: {out.with_suffix('.md')}")
    return 0
