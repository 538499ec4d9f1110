"""docs/targets.py: the stacked-digits table names every solver, takes each one's rows from the report holding
the most runs of it (under the name that report gave them), computes the means from the rows, and grants the
target only to a five-seed mean that meets it."""

import sys
from pathlib import Path

import equilib as eq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import targets  # noqa: E402  (docs/targets.py imports docs/machines.py as a sibling)


def _report(results: Path, name: str, rows: list[tuple[str, int, float, float, float]]) -> None:
    (results / name).mkdir(parents=True)
    lines = ["method,seed,folder,ema.modes,ema.kl,ema.frechet"]
    lines += [f"{m},{s},runs/{name}-{s},{modes},{kl},{fr}" for m, s, modes, kl, fr in rows]
    (results / name / "table.csv").write_text("\n".join(lines) + "\n")


def test_stacked_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(targets, "RESULTS", tmp_path)
    monkeypatch.setattr(targets, "STACKED_RECIPE", ("five", "one"))
    monkeypatch.setattr(targets, "STACKED_NAMES", {"simgd (loss=hinge)": "simgd"})
    _report(tmp_path, "five", [("simgd (loss=hinge)", s, 1000 - s, 0.07 + 0.01 * s, 20.0) for s in range(5)]
            + [("altgd", s, 999, 0.2, 30.0) for s in range(5)])
    _report(tmp_path, "one", [("simgd", 0, 900, 0.5, 10.0), ("optimistic", 0, 1000, 0.05, 15.0)])
    rows = {r.split(" | ")[0].lstrip("| "): r for r in targets.stacked_rows()[2:]}
    assert sorted(rows) == sorted(eq.SOLVERS)  # every solver has a row, run or not
    # simgd: the five hinge rows, not the one-run report; mean modes 998, KL 0.09 (0.07..0.11), so met
    assert rows["simgd"] == "| simgd | 0,1,2,3,4 | 998 ± 1.6 | 0.09 ± 0.016 | 20 ± 0 | **yes** | five |"
    assert rows["altgd"].endswith("| 0.2 ± 0 | 30 ± 0 | no | five |")  # KL 0.2 > 0.1
    assert rows["optimistic"] == "| optimistic | 0 | 1000 | 0.05 | 15 | 1 seed, not yet 5 | one |"
    assert rows["cgd"] == "| cgd | not run | | | | | |"
