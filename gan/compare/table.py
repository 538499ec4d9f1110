"""The comparison table: one row per method, every metric of the last evaluation as mean +- std over seeds.

Mean and sample standard deviation (n - 1) over the seeds of a method; with one seed the
deviation is left empty. Each metric names the generator it scores (``G`` the live
generator, ``ema`` its exponential moving average, ``uniform`` the uniform average). Beside the
wall time per step, ``evals/step`` and ``backward/step`` are the gradient evaluations and backward
passes of a step, counted by ``gan train`` on every step (mean over a run's steps, then over the
seeds; runs written before every step was counted give the mean of the steps before each
evaluation, and runs written before any count leave the cells empty).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .runs import Run, flatten, group_key

__all__ = ["Row", "rows", "settings_apart", "metric_names", "markdown", "write_csv"]

#: shown first, in this order, when present
PREFERRED = ("modes", "high_quality", "kl", "kl_digits", "kl_dependence", "classes", "frechet", "confidence")
#: parts of an evaluation line that are not a generator's metrics
NOT_METRICS = ("losses.", "nonfinite.", "cost.")


@dataclass
class Row:
    label: str
    runs: list[Run]
    config: dict = field(default_factory=dict)  # the method: the runs' configuration without seed and bookkeeping

    @property
    def seeds(self) -> list[int]:
        return sorted(r.seed for r in self.runs)

    def values(self, metric: str) -> list[float]:
        out = []
        for r in self.runs:
            v = flatten(r.last).get(metric)
            if v is not None and math.isfinite(v):
                out.append(v)
        return out

    def stat(self, metric: str) -> tuple[float, float]:
        v = self.values(metric)
        if not v:
            return math.nan, math.nan
        return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else math.nan)

    def seconds_per_step(self) -> float:
        v = [r.seconds_per_step() for r in self.runs]
        v = [x for x in v if math.isfinite(x)]
        return statistics.fmean(v) if v else math.nan

    def cost(self, kind: str) -> float:
        """Mean over the runs that counted it of :meth:`Run.cost` (``evaluations`` or ``backward``)."""
        v = [x for x in (r.cost(kind) for r in self.runs) if math.isfinite(x)]
        return statistics.fmean(v) if v else math.nan

    @property
    def complete(self) -> bool:
        return all(r.done for r in self.runs)


def rows(runs: list[Run]) -> list[Row]:
    """Group runs by method; label each group by its solver and what sets it apart from the
    other groups of the same solver."""
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(group_key(r), []).append(r)
    configs = {k: json.loads(k) for k in groups}
    out = []
    for key, members in groups.items():
        cfg = configs[key]
        same_solver = [configs[k] for k in groups if configs[k].get("solver") == cfg.get("solver") and k != key]
        differ = sorted({k for other in same_solver for k in set(cfg) | set(other) if cfg.get(k) != other.get(k)})
        label = str(cfg.get("solver"))
        if differ:
            label += " (" + ", ".join(f"{k}={cfg.get(k)}" for k in differ) + ")"
        out.append(Row(label, sorted(members, key=lambda r: r.seed), cfg))
    return sorted(out, key=lambda row: row.label)


def settings_apart(table: list[Row]) -> dict[str, list[str]]:
    """Per row label, ``KEY=VALUE`` for every setting (solver aside) on which the table's methods differ,
    across solvers: what a reader needs to see that, e.g., one solver trains with R1 and another without."""
    keys = sorted({k for row in table for k in row.config if k != "solver"
                   and len({json.dumps(r.config.get(k), sort_keys=True) for r in table}) > 1})
    return {row.label: [f"{k}={json.dumps(row.config.get(k), sort_keys=True)}" for k in keys] for row in table}


def metric_names(table: list[Row]) -> list[str]:
    """Every metric of the generators' evaluations (not losses, steps or seconds), preferred ones first."""
    names: set[str] = set()
    for row in table:
        for r in row.runs:
            names |= {k for k in flatten(r.last) if "." in k and not k.startswith(NOT_METRICS)}

    def order(name: str):
        who, _, what = name.partition(".")
        return ({"ema": 0, "G": 1}.get(who, 2), PREFERRED.index(what) if what in PREFERRED else len(PREFERRED), name)
    return sorted(names, key=order)


def _cell(mean: float, std: float) -> str:
    if math.isnan(mean):
        return ""
    digits = 2 if abs(mean) >= 1 or mean == 0 else 4
    return f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")


def _counted(table: list[Row]) -> bool:
    return any(not math.isnan(row.cost("evaluations")) for row in table)


def _count(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.3g}"


def markdown(table: list[Row]) -> str:
    metrics, counted = metric_names(table), _counted(table)
    head = ["method", "seeds", *metrics, "s/step", *(["evals/step", "backward/step"] if counted else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        seeds = ",".join(map(str, row.seeds)) + ("" if row.complete else " (partial)")
        cells = [*(_cell(*row.stat(m)) for m in metrics), f"{row.seconds_per_step():.4f}"]
        if counted:
            cells += [_count(row.cost("evaluations")), _count(row.cost("backward"))]
        lines.append("| " + " | ".join([row.label, seeds, *cells]) + " |")
    return "\n".join(lines) + "\n"


def write_csv(table: list[Row], path: Path) -> Path:
    """One line per run (not per method), so any statistic can be recomputed."""
    metrics = metric_names(table)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "seed", "step", "done", *metrics, "seconds_per_step", "evaluations_per_step",
                    "backward_per_step", "folder"])
        for row in table:
            for r in row.runs:
                flat = flatten(r.last)
                w.writerow([row.label, r.seed, r.last.get("step", ""), r.done,
                            *[flat.get(m, "") for m in metrics], r.seconds_per_step(),
                            _count(r.cost("evaluations")), _count(r.cost("backward")), str(r.path)])
    return path
