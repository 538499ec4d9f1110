"""`equilib compare`: closed forms on x*y, counted costs, report files, reproducibility, user games.

On f(x, y) = x y every one of simgd, extragradient, cgd, consensus and hamiltonian maps theta to
a multiple of a rotation of theta (docs/diagnostics.md), so the distance to the equilibrium is
exactly rho^t times its start and the measured contraction must equal the closed form.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
import sys
import textwrap
from html import escape as html_escape
from pathlib import Path

import pytest

import equilib as eq
from equilib.compare.cli import main
from equilib.compare.games import builtin
from equilib.compare.run import run_one

ETA = 0.1
CLOSED = {  # per-step factor on x*y at step size eta
    "simgd": lambda e: math.sqrt(1 + e * e),
    "extragradient": lambda e: math.sqrt(1 - e * e + e ** 4),
    "cgd": lambda e: 1 / math.sqrt(1 + e * e),
    "consensus": lambda e: math.sqrt((1 - e) ** 2 + e * e),  # gamma = 1
    "hamiltonian": lambda e: abs(1 - e),
}


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_cli(args, capsys):
    """main(args) in-process: (exit status, stdout, stderr)."""
    try:
        status = main(args)
    except SystemExit as exc:
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture(scope="module")
def xy_report(tmp_path_factory):
    """One run of the command on x*y at lr 0.1 (no scan), shared by the closed-form tests."""
    out = tmp_path_factory.mktemp("xy")
    status = main(["compare", "--games", "xy", "--solvers", ",".join(CLOSED), "--lr", str(ETA), "--steps", "100",
                   "--no-scan", "--out", str(out)])
    return status, out, {r["solver"]: r for r in read_csv(out / "table.csv")}


def test_measured_and_predicted_contraction_match_closed_forms_on_xy(xy_report):
    status, _, rows = xy_report
    assert status == 0
    for name, rho in CLOSED.items():
        assert float(rows[name]["contraction"]) == pytest.approx(rho(ETA), abs=1e-6), name
        assert float(rows[name]["predicted_rho"]) == pytest.approx(rho(ETA), abs=1e-9), name
        assert rows[name]["predicted_at"] == "equilibrium"
    assert rows["simgd"]["status"] == "diverging"
    # distance after 100 steps: sqrt(2) rho^100 exactly
    assert float(rows["extragradient"]["final"]) == pytest.approx(math.sqrt(2) * CLOSED["extragradient"](ETA) ** 100,
                                                                  rel=1e-9)


def test_diverged_with_the_step_and_converged_with_steps_to_tolerance(tmp_path, capsys):
    eta, bound = 0.5, 1000.0
    solvers = ["simgd", "extragradient", "cgd", "consensus", "hamiltonian"]
    status, _, _ = run_cli(["compare", "--games", "xy", "--solvers", ",".join(solvers), "--lr", str(eta),
                            "--steps", "200", "--no-scan", "--out", str(tmp_path)], capsys)
    assert status == 0
    rows = {r["solver"]: r for r in read_csv(tmp_path / "table.csv")}
    # simgd: |theta_t| = sqrt(2) (1 + eta^2)^(t/2) first exceeds 1000 sqrt(2) at this step
    first = math.floor(math.log(bound) / math.log(CLOSED["simgd"](eta))) + 1
    assert rows["simgd"]["status"] == "diverged" and int(rows["simgd"]["diverged_at"]) == first
    assert int(rows["simgd"]["steps"]) == first  # the run stopped there
    for name in solvers[1:]:
        rho = CLOSED[name](eta)
        assert rows[name]["status"] == "converged", name
        expected = math.ceil(math.log(1e-6 / math.sqrt(2)) / math.log(rho)) if rho > 0 else 1
        assert int(rows[name]["steps_to_1e-6"]) == expected, name
    table_md = (tmp_path / "table.md").read_text()
    assert f"diverged @ {first}" in table_md


def test_gradient_evaluations_and_backward_passes_per_step_are_counted():
    specs = builtin(0)
    # (game, solver) -> (losses evaluated per step, backward passes per step), derived:
    # xi of a zero-sum pair is 1 backward, of an n-player general-sum game n; extragradient
    # evaluates xi twice; consensus and hamiltonian add J^T xi (one backward); altgd evaluates
    # each player's block in turn.
    expected = {
        ("xy", "simgd"): (1, 1), ("xy", "extragradient"): (2, 2), ("xy", "optimistic"): (1, 1),
        ("xy", "consensus"): (1, 2), ("xy", "hamiltonian"): (1, 2), ("xy", "altgd"): (2, 2),
        ("quadratic", "simgd"): (1, 2), ("quadratic", "extragradient"): (2, 4),
        ("cyclic", "simgd"): (1, 3), ("cyclic", "extragradient"): (2, 6), ("cyclic", "altgd"): (3, 3),
    }
    for (game, solver), (evals, backward) in expected.items():
        r = run_one(specs[game], solver, 0.05, 7, predict=False)
        assert r.steps_done == 7
        assert r.per_step(r.evals[-1]) == evals, (game, solver)
        assert r.per_step(r.backward) == backward, (game, solver)
        assert r.evals == [evals * t for t in range(8)]


def test_report_files_and_self_contained_html(tmp_path, capsys):
    status, out, err = run_cli(["compare", "--games", "xy,cyclic", "--solvers", "simgd,extragradient",
                                "--lr", "0.2", "--steps", "30", "--scan-steps", "8", "--out", str(tmp_path)], capsys)
    assert status == 0
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["cyclic_distance.png", "cyclic_eigenvalues.png", "cyclic_scan.png", "xy_distance.png",
                    "xy_eigenvalues.png", "xy_scan.png", "xy_trajectories.png"]  # trajectories: 2-D games only
    html = (tmp_path / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(pngs)
    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in images)
    assert not re.search(r'src="(?!data:)', html)  # nothing outside the page
    for needle in ("seed", "torch", eq.__name__, "machine", "date", "<table>", "extragradient", "PARTIAL") :
        assert (needle in html) == (needle != "PARTIAL"), needle
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():  # the machine line names the CPU as Linux does: its first "model name" line
        name = next(line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name"))
        assert html_escape(name) in html
    rows = read_csv(tmp_path / "table.csv")
    assert [(r["game"], r["solver"]) for r in rows] == [("xy", "simgd"), ("xy", "extragradient"),
                                                        ("cyclic", "simgd"), ("cyclic", "extragradient")]
    md = (tmp_path / "table.md").read_text()
    assert md.count("\n| xy |") == 2 and md.count("\n| cyclic |") == 2
    scan = read_csv(tmp_path / "scan.csv")
    measured = [r for r in scan if r["game"] == "xy" and r["solver"] == "simgd" and r["measured"]]
    assert len(measured) == 5  # the coarse default scan: 5 measured step sizes
    for r in measured:  # simgd on x*y: measured = predicted = sqrt(1 + lr^2)
        assert float(r["measured"]) == pytest.approx(CLOSED["simgd"](float(r["lr"])), abs=1e-9)
        assert float(r["predicted"]) == pytest.approx(CLOSED["simgd"](float(r["lr"])), abs=1e-9)
    assert "extragradient" in out and "report:" in out
    # no terminal: one line per game on stderr, no progress bar
    assert [line.split(":")[1].strip() for line in err.strip().splitlines()] == ["xy", "cyclic"]


def test_progress_bar_only_on_a_terminal(tmp_path, capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["compare", "--games", "xy", "--solvers", "simgd,optimistic", "--steps", "5", "--no-scan",
                 "--out", str(tmp_path)]) == 0
    shown = terminal.getvalue()
    assert "0/2 [" in shown and "run/s" in shown and "xy: optimistic" in shown  # tqdm's bar, with the run
    assert "equilib compare: xy:" not in shown  # the log line is for non-terminals only
    capsys.readouterr()


def test_same_seed_same_table_except_wall_time(tmp_path, capsys):
    def table(seed, name):
        status, _, _ = run_cli(["compare", "--games", "bilinear", "--solvers", "simgd,optimistic",
                                "--steps", "40", "--no-scan", "--seed", str(seed), "--out", str(tmp_path / name)],
                               capsys)
        assert status == 0
        return [{k: v for k, v in r.items() if k != "ms_per_step"} for r in read_csv(tmp_path / name / "table.csv")]

    first, again, other = table(3, "a"), table(3, "b"), table(4, "c")
    assert first == again
    assert [r["final"] for r in first] != [r["final"] for r in other]  # the seed draws the random games


def test_lr_scan_picks_the_best_measured_step_size(tmp_path, capsys):
    status, _, _ = run_cli(["compare", "--games", "xy", "--solvers", "extragradient,simgd", "--lr-scan",
                            "0.1:0.5:3", "--steps", "50", "--scan-steps", "20", "--out", str(tmp_path)], capsys)
    assert status == 0
    rows = {r["solver"]: r for r in read_csv(tmp_path / "table.csv")}
    # extragradient's factor sqrt(1 - eta^2 + eta^4) decreases up to eta = 1/sqrt(2): the largest of the grid
    assert float(rows["extragradient"]["lr"]) == pytest.approx(0.5)
    assert float(rows["extragradient"]["contraction"]) == pytest.approx(CLOSED["extragradient"](0.5), abs=1e-9)
    assert float(rows["simgd"]["lr"]) == pytest.approx(0.1)  # sqrt(1 + eta^2) is smallest at the smallest
    scan = [r for r in read_csv(tmp_path / "scan.csv") if r["solver"] == "extragradient"]
    assert [float(r["lr"]) for r in scan] == pytest.approx([0.1, math.sqrt(0.05), 0.5])
    for r in scan:
        assert float(r["predicted"]) == pytest.approx(CLOSED["extragradient"](float(r["lr"])), abs=1e-9)


GAME_MODULE = '''
import torch, equilib as eq

def start():
    return {"x": torch.tensor([1.0], dtype=torch.float64), "y": torch.tensor([1.0], dtype=torch.float64)}

def pair():
    game = eq.ZeroSumGame(start(), value=lambda p: (p["x"] * p["y"]).sum())
    return game, {"x": torch.zeros(1), "y": torch.zeros(1)}

def plain():
    return pair()[0]

def blows_up():  # the loss is NaN once |x| > 2
    return eq.ZeroSumGame(start(), value=lambda p: (p["x"] * p["y"] + torch.log(4 - p["x"] ** 2)).sum())
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_games.py").write_text(textwrap.dedent(GAME_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_games"


def test_module_function_games_with_and_without_equilibrium(tmp_path, capsys, user_module):
    status, _, _ = run_cli(["compare", "--games", f"{user_module}:pair,{user_module}:plain", "--solvers", "simgd",
                            "--lr", "0.1", "--steps", "50", "--no-scan", "--out", str(tmp_path / "r")], capsys)
    assert status == 0
    rows = read_csv(tmp_path / "r" / "table.csv")
    assert [r["measure"] for r in rows] == ["distance", "|xi|"]
    for r in rows:  # on x*y, |xi| = |theta|: the same factor either way
        assert float(r["contraction"]) == pytest.approx(CLOSED["simgd"](0.1), abs=1e-6)
    assert f"{user_module}:plain (\\|xi\\|)" in (tmp_path / "r" / "table.md").read_text()
    assert rows[1]["predicted_rho"] == ""  # no equilibrium and not converged: nothing to predict at


def test_non_finite_loss_is_reported_as_diverged_not_a_crash(tmp_path, capsys, user_module):
    status, _, _ = run_cli(["compare", "--games", f"{user_module}:blows_up", "--solvers", "simgd,extragradient",
                            "--lr", "0.5", "--steps", "100", "--bound", "1e9", "--no-scan",
                            "--out", str(tmp_path)], capsys)
    assert status == 0
    for r in read_csv(tmp_path / "table.csv"):  # extragradient's look-ahead point also leaves |x| < 2
        assert r["status"] == "diverged" and "non-finite loss" in r["note"], r
        assert int(r["diverged_at"]) == int(r["steps"]) + 1  # the failed step is not counted as done
        assert 0 < int(r["steps"]) < 100
