"""The comparison table: one row per (game, solver), as CSV (full precision), Markdown and terminal text.

Columns: outcome (with the step of divergence), final distance to the equilibrium (|xi| for
games without one, marked in the game column), first step with distance <= 1e-6, measured
contraction per step and the spectral radius predicted at the equilibrium, gradient
evaluations and backward passes per step (counted), wall time per step (milliseconds).
"""

from __future__ import annotations

import csv
import io

from equilib.compare.run import RunResult

__all__ = ["COLUMNS", "HEADERS", "cells", "csv_rows", "to_csv", "to_markdown", "to_text", "legend"]

COLUMNS = ["game", "solver", "lr", "measure", "status", "diverged_at", "final", "steps_to_1e-6", "contraction",
           "predicted_rho", "predicted_at", "grad_evals_per_step", "backward_per_step", "ms_per_step", "steps",
           "note"]

HEADERS = ["game", "solver", "lr", "outcome", "final dist.", "steps to 1e-6", "contraction", "predicted rho",
           "grad evals/step", "backward/step", "ms/step", "note"]


def csv_rows(results: list[RunResult]) -> list[dict]:
    """Raw values (floats at full precision; None as empty)."""
    rows = []
    for r in results:
        evals = r.per_step(r.evals[-1]) if r.evals else None
        rows.append({
            "game": r.game, "solver": r.solver, "lr": r.lr, "measure": r.measure, "status": r.status,
            "diverged_at": r.diverged_at, "final": r.final, "steps_to_1e-6": r.steps_to_tol,
            "contraction": r.contraction, "predicted_rho": r.predicted, "predicted_at": r.predicted_at,
            "grad_evals_per_step": evals, "backward_per_step": r.per_step(r.backward),
            "ms_per_step": None if not r.steps_done else 1e3 * r.seconds / r.steps_done,
            "steps": r.steps_done, "note": r.note,
        })
    return rows


def to_csv(results: list[RunResult]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(results):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def cells(r: RunResult) -> list[str]:
    row = csv_rows([r])[0]
    outcome = r.status + (f" @ {r.diverged_at}" if r.diverged_at is not None else "")
    evals = row["grad_evals_per_step"]
    return [
        r.game + (" (|xi|)" if r.measure != "distance" else ""), r.solver, f"{r.lr:g}", outcome,
        _num(r.final, ".3g"), _num(r.steps_to_tol, "d"), _num(r.contraction, ".6f"), _num(r.predicted, ".6f"),
        _num(evals, ".3g"), _num(row["backward_per_step"], ".3g"), _num(row["ms_per_step"], ".3f"), r.note,
    ]


def legend(results: list[RunResult]) -> list[str]:
    """Lines explaining the columns, under every rendering of the table."""
    lines = ["outcome: converged (final distance <= 1e-6), converging / diverging (measured contraction < or > 1 "
             "by 1e-4), bounded, stalled (the solver stopped at a point that is not the equilibrium), "
             "diverged @ step (NaN/Inf or distance above the bound; the run stopped there), n/a (the solver does "
             "not apply to the game).",
             "contraction: measured factor per step over the second half of the run (before round-off); "
             "predicted rho: spectral radius of the solver's one-step map at the equilibrium "
             "(equilib.diagnostics.spectral_radius).",
             "grad evals: evaluations of the game's losses with their gradients xi; backward: autograd backward "
             "passes (xi of a zero-sum pair is one, of an n-player general-sum game n; each Jacobian product one "
             "more). ms/step: wall time of the steps alone."]
    if any(r.measure != "distance" for r in results):
        lines.append("(|xi|): the game has no known equilibrium: distances are the norm of the simultaneous "
                     "gradient xi, and rho is predicted at the final point when the run converged.")
    return lines


def to_markdown(results: list[RunResult], partial: str | None = None) -> str:
    lines = []
    if partial:
        lines += [f"**PARTIAL REPORT: {partial}**", ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in results:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |")
    lines += [""] + [f"- {line}" for line in legend(results)]
    return "\n".join(lines) + "\n"


def to_text(results: list[RunResult], partial: str | None = None) -> str:
    """Aligned columns for the terminal (notes last, not padded)."""
    rows = [HEADERS] + [cells(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    out = [f"PARTIAL REPORT: {partial}"] if partial else []
    previous = None
    for k, row in enumerate(rows):
        if k > 1 and row[0] != previous:
            out.append("")
        previous = row[0]
        out.append("  ".join(c.ljust(w) if i < 2 or i == 3 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))) + ("  " + row[-1] if row[-1] else ""))
        if k == 0:
            out.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return "\n".join(out) + "\n"
