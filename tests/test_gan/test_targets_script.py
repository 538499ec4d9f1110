"""docs/targets.py: the stacked-digits table names every solver, takes each one's rows from the report holding
the most runs of it (under the name that report gave them), computes the means from the rows, and grants the
target only to a five-seed mean that meets it."""

import sys
from pathlib import Path

import equilib as eq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import targets  # noqa: E402  (docs/targets.py imports docs/machines.py as a sibling)


def _report(results: Path, name: str, rows: list[tuple[str, int, float, float, float]], seconds: float = 0.072,
            backward: float = 2.0) -> None:
    (results / name).mkdir(parents=True)
    lines = ["method,seed,folder,ema.modes,ema.kl,ema.frechet,seconds_per_step,backward_per_step"]
    lines += [f"{m},{s},runs/{name}-{s},{modes},{kl},{fr},{seconds + 0.001 * s},{backward}"
              for m, s, modes, kl, fr in rows]
    (results / name / "table.csv").write_text("\n".join(lines) + "\n")


def test_stacked_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(targets, "RESULTS", tmp_path)
    monkeypatch.setattr(targets, "STACKED_RECIPE", ("five", "one"))
    monkeypatch.setattr(targets, "STACKED_NAMES", {"simgd (loss=hinge)": "simgd"})
    monkeypatch.setattr(targets, "STACKED_COST", "probe")
    _report(tmp_path, "five", [("simgd (loss=hinge)", s, 1000 - s, 0.07 + 0.01 * s, 20.0) for s in range(5)]
            + [("altgd", s, 999, 0.2, 30.0) for s in range(5)])
    _report(tmp_path, "one", [("simgd", 0, 900, 0.5, 10.0), ("optimistic", 0, 1000, 0.05, 15.0)])
    _report(tmp_path, "probe", [("cgd", 0, 99, 4.0, 3000.0), ("optimistic", 0, 99, 4.0, 3000.0)], seconds=0.18,
            backward=12.5)
    rows = {r.split(" | ")[0].lstrip("| "): r for r in targets.stacked_rows()[2:]}
    assert sorted(rows) == sorted(eq.SOLVERS)  # every solver has a row, run or not
    # simgd: the five hinge rows, not the one-run report; mean modes 998, KL 0.09 (0.07..0.11), so met; seconds
    # 0.072..0.076, mean 0.074: 0.074 * 50,000 / 3,600 = 1.03 hours
    assert rows["simgd"] == "| simgd | 0,1,2,3,4 | 998 ± 1.6 | 0.09 ± 0.016 | 20 ± 0 | 0.074 | 2 | 1 | **yes** | five |"
    assert rows["altgd"].endswith("| 0.2 ± 0 | 30 ± 0 | 0.074 | 2 | 1 | no | five |")  # KL 0.2 > 0.1
    # optimistic ran the recipe: its row is its run's, not the probe's
    assert rows["optimistic"] == "| optimistic | 0 | 1000 | 0.05 | 15 | 0.072 | 2 | 1 | 1 seed, not yet 5 | one |"
    # cgd did not: the probe's cost, 0.18 s * 50,000 = 2.5 hours, and no score
    assert rows["cgd"] == "| cgd | not run | | | | 0.18 | 12.5 | 2.5 | | probe |"
    assert rows["sos"] == "| sos | not run | | | | | | | | |"
