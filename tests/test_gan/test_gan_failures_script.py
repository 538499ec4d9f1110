"""docs/make_gan_failures.py (with gan_failures_runs.py and gan_failures_figures.py): the page names every
figure it drew, its numbers are the runs' own, and the frozen-step update maps give the closed-form spectral
radii on a bilinear game."""

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import equilib as eq

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "make_gan_failures.py"


def _module(name="gan_failures_runs"):
    """A docs module loaded by path (the runs and analysis live in docs/gan_failures_runs.py)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPT.parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _close(cell, value):
    if value is None:
        return cell == "-"
    return math.isclose(float(cell), value, rel_tol=1e-3, abs_tol=1e-9)   # the page prints 4 significant digits


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("failures")
    env = {**os.environ, "GAN_FAILURES_TINY": "1", "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, str(SCRIPT), "--runs", str(tmp / "runs"), "--solvers", "simgd,consensus,simgd+r1",
                    "--page", str(tmp / "page" / "gan_failures.md"), "--figures", str(tmp / "page" / "figs")],
                   check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return tmp


def test_page_names_every_figure_it_drew(tiny):
    page = (tiny / "page" / "gan_failures.md").read_text()
    drawn = sorted(p.name for p in (tiny / "page" / "figs").glob("*.png"))
    assert drawn == ["consensus.png", "overview.png", "simgd-r1.png", "simgd.png"]
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
    assert sorted(Path(x).name for x in linked) == drawn
    for x in linked:
        assert (tiny / "page" / x).is_file()


def test_page_numbers_are_the_runs_own(tiny):
    page = (tiny / "page" / "gan_failures.md").read_text()
    for solver in ("simgd", "consensus", "simgd+r1"):
        run = tiny / "runs" / f"ring-{solver.replace('+', '-')}"
        # R1 is the variant's, never the recipe's: 1 for S+r1, 0 otherwise
        config = json.loads((run / "config.json").read_text())
        assert config["r1"] == (1.0 if solver.endswith("+r1") else 0.0)
        assert config["lr_g"] == config["lr_d"] == 1e-3   # one rate for every run, whatever the recipe says
        metrics = {r["step"]: r for r in _jsonl(run / "metrics.jsonl")}
        diags = {r["step"]: r for r in _jsonl(run / "diagnostics.jsonl")}
        analysis = {r["step"]: r for r in _jsonl(run / "failure_analysis.jsonl")}
        assert sorted(metrics) == [20, 40] and sorted(diags) == [20, 40] and sorted(analysis) == [0, 20, 40]
        section = page.split(f"## {solver}\n", 1)[1].split("\n## ", 1)[0]
        rows = [line.strip("|").split("|") for line in section.splitlines() if re.match(r"\| \d", line)]
        assert [int(r[0]) for r in rows] == [0, 20, 40]
        for r in rows:
            step, c = int(r[0]), [x.strip() for x in r]
            m, d, a = metrics.get(step), diags.get(step), analysis[step]
            assert _close(c[1], m and m["G"]["modes"]) and _close(c[3], m and m["ema"]["modes"])
            assert _close(c[2], m and 100 * m["G"]["high_quality"])
            assert _close(c[4], a["rho_frozen"]) and _close(c[5], a["rho_adaptive"])
            top = max(a["LI"], key=lambda z: z[1])
            assert _close(c[6], top[1]) and _close(c[7], top[0])
            assert _close(c[8], min(z[0] for z in a["SR"])) and _close(c[9], a["rotation"])
            assert _close(c[10], a["D_std"]) and a["D_std"] >= 0
            assert _close(c[11], d and max(math.hypot(*z) for z in d["eigenvalues"]))
            assert _close(c[12], d and max(z[1] for z in d["eigenvalues"]))
            assert _close(c[13], d and math.hypot(d["grad_norm_G"], d["grad_norm_D"]))
        # the last evaluation's modes are quoted in the summary sentence
        assert f"At the last step (40) the live generator covers {metrics[40]['G']['modes']} modes" in section
        assert a["rho_frozen"] is not None and a["rho_adaptive"] is not None


@pytest.mark.parametrize("name, closed_form", [
    ("simgd", lambda h, g: math.sqrt(1 + h * h)),
    ("extragradient", lambda h, g: math.sqrt(1 - h * h + h ** 4)),
    ("consensus", lambda h, g: math.sqrt((1 - h * g) ** 2 + h * h)),
    ("optimistic", lambda h, g: math.sqrt((1 + math.sqrt(1 - 4 * h * h)) / 2)),   # h <= 1/2
    ("hamiltonian", lambda h, g: abs(1 - h)),                                       # J^T J = I
])
def test_frozen_maps_match_closed_forms_on_a_bilinear_game(name, closed_form):
    """x^T y in R^6 x R^6: J has eigenvalues +/- i (docs/diagnostics.md's x*y closed forms, per coordinate)."""
    mod = _module()
    n, h, gamma = 6, 0.3, 0.7
    game = eq.games.bilinear(torch.eye(n, dtype=torch.float64), x0=[1.0] * n, y0=[0.5] * n, dtype=torch.float64)
    rho = mod.frozen_radius(game, (), name, torch.full((2 * n,), h, dtype=torch.float64), gamma=gamma, tol=1e-10)
    assert rho == pytest.approx(closed_form(h, gamma), rel=1e-8)


def test_unknown_solver_is_refused_naming_the_allowed_ones(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--runs", str(tmp_path), "--solvers", "simgd,adam"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--solvers: unknown adam; allowed: simgd" in r.stderr
    assert not any(tmp_path.iterdir())


def test_a_row_written_before_d_std_gets_that_column_alone_and_the_same_value(tiny, monkeypatch):
    mod = _module()
    monkeypatch.setattr(mod, "analyse", lambda *a: pytest.fail("the full analysis ran again"))
    run = tiny / "runs" / "ring-simgd"
    path = run / "failure_analysis.jsonl"
    full = _jsonl(path)
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "D_std"}) + "\n" for r in full))
    again = mod.ensure_analysis(run)
    assert again == full   # D_std measured again, on the batch the full analysis used
