"""Spectral radii of every solver's update map on x*y against hand-derived closed forms.

f(x, y) = x y, J = [[0, 1], [-1, 0]], eta the common step size (derivations in docs/diagnostics.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import equilib as eq
from equilib import diagnostics as dg

ETAS = [0.05, 0.1, 0.3, 0.5, 0.7, 1.0, 1.5]


def optimistic_rho(eta):
    if eta <= 0.5:
        return math.sqrt((1 + math.sqrt(1 - 4 * eta**2)) / 2)
    return math.sqrt(1 + (2 * eta + math.sqrt(4 * eta**2 - 1)) ** 2) / 2


def unrolled_rho(eta, k, u):
    """M = [[1 - 2 eta k u, -eta], [eta, 1]]: lambda^2 - (2 - a) lambda + 1 - a + eta^2 = 0, a = 2 eta k u."""
    a = 2 * eta * k * u
    disc = a * a - 4 * eta * eta
    if disc < 0:
        return math.sqrt(1 - a + eta**2)
    return max(abs((2 - a + s * math.sqrt(disc)) / 2) for s in (1, -1))


def altgd_rho(eta):
    """M = [[1, -eta], [eta, 1 - eta^2]]: det 1, trace 2 - eta^2."""
    t = 2 - eta**2
    if abs(t) <= 2:
        return 1.0
    return (abs(t) + math.sqrt(t * t - 4)) / 2


CLOSED = {
    "simgd": (lambda e: math.sqrt(1 + e**2), {}),
    "extragradient": (lambda e: math.sqrt(1 - e**2 + e**4), {}),
    "optimistic": (optimistic_rho, {}),
    "consensus": (lambda e: math.sqrt((1 - 0.5 * e) ** 2 + e**2), {"gamma": 0.5}),
    "sga": (lambda e: math.sqrt((1 - 2 * e) ** 2 + e**2), {"lam": 2.0}),
    "hamiltonian": (lambda e: abs(1 - e), {}),
    "cgd": (lambda e: 1 / math.sqrt(1 + e**2), {}),
    "unrolled": (lambda e: unrolled_rho(e, 5, e), {}),
    "lola": (lambda e: math.sqrt((1 - 2 * e * e) ** 2 + e**2), {}),
    "altgd": (altgd_rho, {}),
}


@pytest.mark.parametrize("name", sorted(CLOSED))
@pytest.mark.parametrize("eta", ETAS)
def test_xy_spectral_radius_closed_forms(name, eta):
    formula, options = CLOSED[name]
    solver = eq.make_solver(name, eq.games.xy(dtype=torch.float64), lr=eta, **options)
    # optimistic at eta = 1/2 has a double (defective) eigenvalue: LAPACK's error is ~sqrt(machine eps)
    tol = 1e-7 if (name == "optimistic" and eta == 0.5) else 1e-12
    assert dg.spectral_radius(solver) == pytest.approx(formula(eta), abs=tol)


def test_xy_published_values():
    xy = eq.games.xy(dtype=torch.float64)
    rho = lambda name, eta, **o: dg.spectral_radius(eq.make_solver(name, xy, lr=eta, **o))  # noqa: E731
    assert rho("optimistic", 0.1) == pytest.approx(0.994936, abs=1e-6)
    assert rho("optimistic", 0.5) == pytest.approx(0.707107, abs=1e-6)
    assert rho("optimistic", 1.0) == pytest.approx(1.93185, abs=1e-5)
    assert rho("consensus", 0.1, gamma=1.0) == pytest.approx(0.905539, abs=1e-6)
    assert rho("extragradient", 1 / math.sqrt(2)) == pytest.approx(math.sqrt(3) / 2, abs=1e-12)


def test_xy_update_matrices_by_hand():
    """The dense maps themselves, entry by entry, at eta = 0.3 (x first, y second)."""
    xy = eq.games.xy(dtype=torch.float64)
    e = 0.3
    M = lambda name, **o: dg.update_map(eq.make_solver(name, xy, lr=e, **o)).numpy()  # noqa: E731
    np.testing.assert_allclose(M("simgd"), [[1, -e], [e, 1]], atol=1e-15)
    np.testing.assert_allclose(M("altgd"), [[1, -e], [e, 1 - e * e]], atol=1e-15)
    np.testing.assert_allclose(M("extragradient"), [[1 - e * e, -e], [e, 1 - e * e]], atol=1e-15)
    np.testing.assert_allclose(M("hamiltonian"), [[1 - e, 0], [0, 1 - e]], atol=1e-15)
    np.testing.assert_allclose(M("unrolled", unroll_steps=2, unroll_lr=0.4),
                               [[1 - 2 * e * 2 * 0.4, -e], [e, 1]], atol=1e-15)
    np.testing.assert_allclose(M("lola"), [[1 - 2 * e * e, -e], [e, 1 - 2 * e * e]], atol=1e-15)
    c = 1 / (1 + e * e)  # cgd on x*y is the proximal point step (I + eta J)^-1
    np.testing.assert_allclose(M("cgd"), [[c, -e * c], [e * c, c]], atol=1e-15)
    np.testing.assert_allclose(M("optimistic"), [[1, -2 * e, 0, e], [2 * e, 1, -e, 0],
                                                 [1, 0, 0, 0], [0, 1, 0, 0]], atol=1e-15)


def test_bilinear_per_singular_value():
    """On x^T A y each singular value s acts on its own block: simgd rho = sqrt(1 + eta^2 s_max^2),
    extragradient rho = max_s sqrt(1 - eta^2 s^2 + eta^4 s^4), cgd rho = 1/sqrt(1 + eta^2 s_min^2)."""
    A = torch.tensor([[2.0, 0.5, 0.0], [0.1, 1.0, 0.3], [0.0, 0.2, 0.6]], dtype=torch.float64)
    s = torch.linalg.svdvals(A).numpy()
    game = eq.games.bilinear(A, dtype=torch.float64)
    eta = 0.3
    rho = lambda name: dg.spectral_radius(eq.make_solver(name, game, lr=eta))  # noqa: E731
    assert rho("simgd") == pytest.approx(math.sqrt(1 + eta**2 * s.max() ** 2), abs=1e-12)
    assert rho("extragradient") == pytest.approx(np.sqrt(1 - eta**2 * s**2 + eta**4 * s**4).max(), abs=1e-12)
    assert rho("cgd") == pytest.approx(1 / math.sqrt(1 + eta**2 * s.min() ** 2), abs=1e-12)


def test_dirac_gan_simgd_spirals_out_at_h_02():
    """Mescheder et al. 2018: at the equilibrium J has eigenvalues +/- i/2 and simgd with h = 0.2
    has |1 - h lambda| = sqrt(1 + 0.01) = 1.0050 > 1; the gradient penalty gamma = 1 makes it converge."""
    game = eq.games.dirac_gan(0.0, 0.0, gamma=0.0, dtype=torch.float64)
    assert dg.spectral_radius(eq.make_solver("simgd", game, lr=0.2)) == pytest.approx(math.sqrt(1.01), abs=1e-12)
    reg = eq.games.dirac_gan(0.0, 0.0, gamma=1.0, dtype=torch.float64)
    assert dg.spectral_radius(eq.make_solver("simgd", reg, lr=0.2)) == pytest.approx(0.9, abs=1e-6)


def test_matrix_free_update_map_agrees_with_dense():
    game = eq.games.random_quadratic(sizes=(8, 6, 5), mu=0.5, seed=4)
    lr = {"p0": 0.05, "p1": 0.07, "p2": 0.04}
    for name, options in [("simgd", {}), ("optimistic", {}), ("consensus", {}), ("unrolled", {"unroll_steps": 2}),
                          ("lola", {}), ("sga", {}), ("altgd", {}), ("extragradient", {}), ("hamiltonian", {})]:
        solver = eq.make_solver(name, game, lr=lr, **options)
        dense = dg.update_map(solver, dense=True)
        op = dg.update_map(solver, dense=False)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(op.shape[0])
        np.testing.assert_allclose(op.matvec(x), dense.numpy() @ x, rtol=1e-10, atol=1e-12)
        info = {}
        free = dg.spectral_radius(solver, dense=False, info=info)
        assert free == pytest.approx(dg.spectral_radius(solver, dense=True), abs=1e-8), name
        assert info["matvecs"] > 0 and info["products"] >= info["matvecs"]


def test_matrix_free_cgd_agrees_with_dense():
    game = eq.games.random_quadratic(sizes=(12, 9), mu=0.5, seed=6)
    solver = eq.make_solver("cgd", game, lr={"p0": 0.1, "p1": 0.2})
    assert dg.spectral_radius(solver, dense=False) == pytest.approx(dg.spectral_radius(solver, dense=True), abs=1e-8)


def test_refuses_other_base_optimizers():
    xy = eq.games.xy()
    with pytest.raises(dg.DiagnosticsError, match="player 'x'.*Adam.*SGD base"):
        dg.spectral_radius(eq.make_solver("simgd", xy, lr=0.1, optimizer="adam"))
    with pytest.raises(dg.DiagnosticsError, match="momentum=-0.5.*not for 'optimistic'"):
        dg.update_map(eq.make_solver("optimistic", xy, lr=0.1, optimizer_options={"momentum": -0.5}))
    with pytest.raises(dg.DiagnosticsError, match="expected an equilib solver"):
        dg.spectral_radius(xy)


def test_matrix_free_momentum_map_agrees_with_dense():
    game = eq.games.random_quadratic(sizes=(8, 6, 5), mu=0.5, seed=4)
    for name in ("simgd", "altgd", "lola"):
        solver = eq.make_solver(name, game, lr=0.05, optimizer_options={"momentum": 0.3})
        assert dg.update_map(solver, dense=True).shape == (38, 38)
        assert dg.spectral_radius(solver, dense=False) == pytest.approx(dg.spectral_radius(solver, dense=True),
                                                                        abs=1e-8)
