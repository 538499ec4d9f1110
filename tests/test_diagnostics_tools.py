"""Step-size scan, recorder and plots."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

import equilib as eq
from equilib import diagnostics as dg

PNG = b"\x89PNG\r\n\x1a\n"


# ---- step-size scan -------------------------------------------------------------------

def test_scan_on_xy_matches_closed_forms():
    etas = np.linspace(0.05, 1.5, 30)
    scan = dg.step_size_scan(eq.games.xy(dtype=torch.float64), ["simgd", "extragradient", ("consensus", {"gamma": 0.5}),
                                                               "cgd"], etas)
    np.testing.assert_allclose(scan.rho["simgd"], np.sqrt(1 + etas**2), atol=1e-12)
    np.testing.assert_allclose(scan.rho["extragradient"], np.sqrt(1 - etas**2 + etas**4), atol=1e-12)
    np.testing.assert_allclose(scan.rho["consensus(gamma=0.5)"], np.sqrt((1 - 0.5 * etas) ** 2 + etas**2), atol=1e-12)
    np.testing.assert_allclose(scan.rho["cgd"], 1 / np.sqrt(1 + etas**2), atol=1e-12)
    assert len(scan.converging("simgd")) == 0
    assert scan.converging("extragradient").max() < 1.0 <= etas[len(scan.converging("extragradient"))]
    assert [r["eta"] for r in scan.rows()] == pytest.approx(list(etas))


def test_scan_finds_extragradient_optimum_on_xy():
    etas = np.linspace(0.5, 0.9, 401)
    eta, rho = dg.step_size_scan(eq.games.xy(dtype=torch.float64), ["extragradient"], etas).best("extragradient")
    assert eta == pytest.approx(1 / math.sqrt(2), abs=1e-3) and rho == pytest.approx(math.sqrt(3) / 2, abs=1e-6)


def test_scan_agrees_with_spectral_radius_of_real_solvers():
    game = eq.games.random_quadratic((3, 2, 2), seed=7)
    etas = [0.03, 0.1, 0.2]
    ratios = {"p0": 1.0, "p1": 0.5, "p2": 2.0}
    specs = ["simgd", "optimistic", ("unrolled", {"unroll_steps": 2}), "lola", ("sga", {"lam": 0.3}), "altgd"]
    scan = dg.step_size_scan(game, specs, etas, ratios=ratios)
    for label, name, options in [("simgd", "simgd", {}), ("optimistic", "optimistic", {}),
                                 ("unrolled(unroll_steps=2)", "unrolled", {"unroll_steps": 2}),
                                 ("lola", "lola", {}), ("sga(lam=0.3)", "sga", {"lam": 0.3}), ("altgd", "altgd", {})]:
        for i, e in enumerate(etas):
            solver = eq.make_solver(name, game, lr={p: e * r for p, r in ratios.items()}, **options)
            assert scan.rho[label][i] == pytest.approx(dg.spectral_radius(solver), abs=1e-12)


def test_scan_from_spectrum_equals_scan_from_game():
    game = eq.games.random_quadratic((4, 3), seed=2)
    etas = np.linspace(0.02, 0.6, 15)
    names = ["simgd", "extragradient", "optimistic"]
    from_game = dg.step_size_scan(game, names, etas)
    from_spectrum = dg.step_size_scan(dg.eigenvalues(game), names, etas)
    for name in names:
        np.testing.assert_allclose(from_spectrum.rho[name], from_game.rho[name], atol=1e-7)


def test_scan_bad_input():
    xy = eq.games.xy()
    with pytest.raises(dg.DiagnosticsError, match="unknown solver 'nope'; known solvers"):
        dg.step_size_scan(xy, ["nope"], [0.1])
    with pytest.raises(dg.DiagnosticsError, match="etas must be a non-empty list of finite step sizes > 0"):
        dg.step_size_scan(xy, ["simgd"], [0.1, -1.0])
    with pytest.raises(dg.DiagnosticsError, match="cannot be scanned from eigenvalues alone.*simgd"):
        dg.step_size_scan(torch.tensor([1j, -1j]), ["consensus"], [0.1])
    with pytest.raises(dg.DiagnosticsError, match="ratios must name every player"):
        dg.step_size_scan(xy, ["simgd"], [0.1], ratios={"x": 1.0})


# ---- recorder ---------------------------------------------------------------------------

def test_recorder_rows_on_xy(tmp_path):
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("simgd", game, lr=0.1)
    rec = dg.Recorder(every=5, k=2, path_angle_points=7)
    snapshots = {}
    for step in range(11):
        if step % 5 == 0:
            snapshots[step] = torch.cat([t.detach().clone() for t in game.parameters()])
        rec(step, solver)
        solver.step()
    assert [r["step"] for r in rec.rows] == [0, 5, 10]
    for r in rec.rows:
        theta = snapshots[r["step"]]
        assert r["grad_norm_x"] == pytest.approx(abs(float(theta[1])))  # xi = (y, -x)
        assert r["grad_norm_y"] == pytest.approx(abs(float(theta[0])))
        assert sorted(z.imag for z in r["eigenvalues"]) == pytest.approx([-1.0, 1.0])
        assert r["spectral_radius"] == pytest.approx(math.sqrt(1.01), abs=1e-12)
    assert rec.rows[0]["distance"] == 0.0
    assert rec.rows[1]["distance"] == pytest.approx(float((snapshots[5] - snapshots[0]).norm()))
    # path-angle on x*y: xi(theta_a) = J theta_a and <J d, d> = 0, so cos = <J theta0, d> / (|J theta_a| |d|)
    d = snapshots[10] - snapshots[5]
    J = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    for a, c in zip(np.linspace(-0.1, 1.1, 7), rec.rows[2]["path_angle"]):
        point = snapshots[5] + a * d
        assert c == pytest.approx(float(J @ snapshots[5] @ d) / float((J @ point).norm() * d.norm()), abs=1e-12)

    rows = [json.loads(line) for line in rec.to_jsonl(tmp_path / "r.jsonl").read_text().splitlines()]
    assert rows[1]["eigenvalues"] == [[z.real, z.imag] for z in rec.rows[1]["eigenvalues"]]
    with open(rec.to_csv(tmp_path / "r.csv")) as fh:
        table = list(csv.DictReader(fh))
    assert float(table[2]["distance"]) == pytest.approx(rec.rows[2]["distance"])
    assert float(table[1]["eig1_im"]) == rec.rows[1]["eigenvalues"][1].imag
    traj = rec.trajectory()
    assert traj["eigenvalues"].shape == (3, 2) and list(traj["steps"]) == [0, 5, 10]


def test_recorder_matrix_free_and_unsupported_base():
    game = eq.games.monotone_quadratic(20, 20, mu=0.5, seed=0)
    rec = dg.Recorder(k=3, dense=False, tol=1e-10)
    row = rec(0, eq.make_solver("extragradient", game, lr=0.05))
    ref = dg.eigenvalues(game)[:3]
    np.testing.assert_allclose(sorted(abs(z) for z in row["eigenvalues"]), sorted(ref.abs().numpy()), atol=1e-8)
    assert row["spectral_radius"] == pytest.approx(dg.spectral_radius(eq.make_solver("extragradient", game, lr=0.05)),
                                                   abs=1e-8)
    assert row["products"] > 0
    adam = eq.make_solver("simgd", game, lr=0.05, optimizer="adam")
    assert "spectral_radius" not in dg.Recorder()(0, adam)  # auto: left out
    with pytest.raises(dg.DiagnosticsError, match="Adam"):
        dg.Recorder(spectral_radius=True)(0, adam)
    with pytest.raises(dg.DiagnosticsError, match="every must be an integer >= 1"):
        dg.Recorder(every=0)
    with pytest.raises(dg.DiagnosticsError, match="unknown which"):
        dg.Recorder(which="big")


# ---- plots --------------------------------------------------------------------------------

def test_plots_write_png_files(tmp_path):
    xy = eq.games.xy(dtype=torch.float64)
    p1 = dg.plot_eigenvalues(dg.eigenvalues(xy), tmp_path / "eig.png")
    solver = eq.make_solver("extragradient", xy, lr=0.3)
    p2 = dg.plot_eigenvalues(None, tmp_path / "sub" / "maps.png", unit_circle=True,
                             groups={"extragradient": torch.linalg.eigvals(dg.update_map(solver))})
    p3 = dg.plot_step_size_scan(dg.step_size_scan(xy, ["simgd", "extragradient"], np.linspace(0.1, 1, 10)),
                                tmp_path / "scan.png")
    rec = dg.Recorder(k=2)
    for step in range(3):
        rec(step, solver)
        solver.step()
    p4 = dg.plot_trajectory(rec, tmp_path / "traj.png")
    for p in (p1, p2, p3, p4):
        data = p.read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    with pytest.raises(dg.DiagnosticsError, match="at least one recorded row"):
        dg.plot_trajectory([], tmp_path / "empty.png")


def test_example_writes_its_plots(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "examples" / "diagnostics_xy.py"
    spec = importlib.util.spec_from_file_location("diagnostics_xy_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ["xy_jacobian_eigenvalues.png", "xy_update_maps.png", "xy_step_size_scan.png",
                 "dirac_trajectory_simgd.png", "dirac_trajectory_consensus.png"]:
        assert (tmp_path / name).read_bytes()[:8] == PNG
    out = capsys.readouterr().out
    checked = 0
    for line in out.splitlines():  # predicted and measured contraction agree on x*y (except altgd's rho = 1 cycle)
        if "predicted" in line and "measured" in line and "altgd" not in line and ":" not in line:
            words = line.split()
            assert words[2] == words[4], line
            checked += 1
    assert checked == 7
