"""Contraction factors on f = x*y equal the closed forms (derived by hand per singular value; Gidel et al. 2019 for simgd, extragradient and optimistic),
and each solver's known behaviour there: simgd diverges, altgd cycles, the others converge."""

import math

import numpy as np
import pytest
import torch

import equilib as eq


def norm(game):
    return float(torch.cat(game.parameters()).norm())


# Solvers whose one-step map on xy is a scaled rotation: the norm changes by the same factor every step.
EXACT = {
    "simgd": ({}, lambda e: math.sqrt(1 + e * e)),
    "extragradient": ({}, lambda e: math.sqrt(1 - e * e + e ** 4)),
    "consensus": ({"gamma": 1.0}, lambda e: math.sqrt((1 - e) ** 2 + e * e)),
    "sga": ({"lam": 1.0}, lambda e: math.sqrt((1 - e) ** 2 + e * e)),
    "cgd": ({"tol": 1e-14}, lambda e: 1 / math.sqrt(1 + e * e)),
    "hamiltonian": ({}, lambda e: 1 - e),
    "lola": ({"alpha": 0.2}, lambda e: math.sqrt((1 - 0.4 * e) ** 2 + e * e)),
}


@pytest.mark.parametrize("eta", [0.1, 0.3, 0.7])
@pytest.mark.parametrize("name", list(EXACT))
def test_per_step_factor_is_closed_form(name, eta):
    options, rate = EXACT[name]
    game = eq.games.xy(0.8, -0.6, dtype=torch.float64)
    solver = eq.make_solver(name, game, lr=eta, **options)
    before = norm(game)
    for _ in range(20):
        solver.step()
        after = norm(game)
        assert after / before == pytest.approx(rate(eta), rel=1e-12)
        before = after


def test_consensus_rate_matches_published_number():
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("consensus", game, lr=0.1, gamma=1.0)
    before = norm(game)
    solver.step()
    assert norm(game) / before == pytest.approx(0.905539, abs=1e-6)


def asymptotic_rate(solver, game, burn=400, span=400):
    for _ in range(burn):
        solver.step()
    start = norm(game)
    for _ in range(span):
        solver.step()
    return (norm(game) / start) ** (1 / span)


@pytest.mark.parametrize("eta,published", [(0.1, 0.994936), (0.3, None), (0.5, 0.707107)])
def test_optimistic_rate(eta, published):
    """OGDA: spectral radius of the companion matrix [[I - 2 eta J, eta J], [I, 0]].

    At eta = 0.5 the companion matrix has a double (defective) eigenvalue, so the
    norm decays like t * rho^t: the estimate divides that factor out.
    """
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("optimistic", game, lr=eta)
    t1, t2 = (600, 1200) if eta < 0.5 else (150, 300)
    for t in range(1, t2 + 1):
        solver.step()
        if t == t1:
            n1 = norm(game)
    ratio = norm(game) / n1 * ((t1 / t2) if eta == 0.5 else 1.0)
    rate = ratio ** (1 / (t2 - t1))
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    C = np.block([[np.eye(2) - 2 * eta * J, eta * J], [np.eye(2), np.zeros((2, 2))]])
    assert rate == pytest.approx(max(abs(np.linalg.eigvals(C))), abs=2e-4)
    if published is not None:
        assert rate == pytest.approx(published, abs=2e-4)


@pytest.mark.parametrize("k,eta,unroll_lr", [(1, 0.1, 0.1), (5, 0.1, 0.1), (3, 0.2, 0.05)])
def test_unrolled_rate(k, eta, unroll_lr):
    """On xy the inner steps give phi_k = y + k*u*x, so x's gradient is y + 2 k u x:
    map [[1 - 2 k eta u, -eta], [eta, 1]]."""
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("unrolled", game, lr=eta, unroll_steps=k, unroll_lr=unroll_lr)
    T = np.array([[1 - 2 * k * eta * unroll_lr, -eta], [eta, 1.0]])
    # The map is linear on R^2: three consecutive iterates determine it exactly.
    iterates = [torch.cat(game.parameters()).numpy().copy()]
    for _ in range(2):
        solver.step()
        iterates.append(torch.cat(game.parameters()).numpy().copy())
    X0, X1 = np.stack(iterates[:2], 1), np.stack(iterates[1:], 1)
    np.testing.assert_allclose(X1 @ np.linalg.inv(X0), T, atol=1e-12)
    expected = max(abs(np.linalg.eigvals(T)))
    assert expected < 1
    for _ in range(1000):
        solver.step()
    assert norm(game) < 10 * expected ** 1000


def test_negative_momentum_alternating_converges():
    """Gidel et al. 2019: alternating heavy ball with beta = -0.5, eta = 0.5 converges at 0.962544."""
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("altgd", game, lr=0.5, optimizer="sgd", optimizer_options={"momentum": -0.5})
    e, b = 0.5, -0.5  # state (x_t, y_t, x_{t-1}, y_{t-1}); x moves first, y sees the new x
    X = np.array([[1 + b, -e, -b, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    Y = np.array([[1, 0, 0, 0], [e, 1 + b, 0, -b], [0, 0, 1, 0], [0, 1, 0, 0]])
    rho = max(abs(np.linalg.eigvals(Y @ X)))
    assert rho == pytest.approx(0.962544, abs=1e-6)
    # The map is not normal, so the norm ratio oscillates around rho: average over 1000 steps.
    assert asymptotic_rate(solver, game, burn=1000, span=1000) == pytest.approx(rho, abs=1e-4)


def test_positive_momentum_simultaneous_does_not_converge():
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("simgd", game, lr=0.1, optimizer="sgd", optimizer_options={"momentum": 0.5})
    assert asymptotic_rate(solver, game) > 1.0


def test_simgd_diverges():
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("simgd", game, lr=0.1)
    for _ in range(500):
        solver.step()
    assert norm(game) == pytest.approx(math.sqrt(2) * (1.01 ** 250), rel=1e-9)


def test_altgd_is_bounded_and_does_not_converge():
    """det of the alternating map is 1: iterates stay on an ellipse (trace 2 - eta^2 < 2)."""
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("altgd", game, lr=0.3)
    norms = []
    for _ in range(3000):
        solver.step()
        norms.append(norm(game))
    assert max(norms) < 2.0
    assert min(norms[-500:]) > 1.0


@pytest.mark.parametrize("name,options", [
    ("extragradient", {}), ("optimistic", {}), ("consensus", {"gamma": 1.0}), ("sga", {"lam": 1.0}),
    ("cgd", {}), ("hamiltonian", {}), ("unrolled", {"unroll_steps": 5}), ("lola", {}),
])
def test_converges_on_xy(name, options):
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver(name, game, lr=0.3, **options)
    for _ in range(800):
        solver.step()
    assert norm(game) < 1e-4


@pytest.mark.parametrize("name", ["simgd", "extragradient", "optimistic", "consensus", "cgd"])
def test_converges_on_strongly_monotone_game(name):
    game = eq.games.monotone_quadratic(3, 2, mu=0.5, seed=1)
    solver = eq.make_solver(name, game, lr=0.1)
    for _ in range(800):
        solver.step()
    star = torch.cat([game.equilibrium["x"], game.equilibrium["y"]])
    assert torch.allclose(torch.cat(game.parameters()), star, atol=1e-8)


@pytest.mark.parametrize("name", ["simgd", "extragradient", "optimistic", "consensus", "lola"])
def test_converges_on_cyclic_three_player_game(name):
    game = eq.games.cyclic(3, mu=0.5, dtype=torch.float64)
    solver = eq.make_solver(name, game, lr=0.1)
    for _ in range(800):
        solver.step()
    assert float(torch.cat(game.parameters()).norm()) < 1e-6


def test_dirac_gan_simgd_spirals_out_and_consensus_converges():
    """Mescheder et al. 2018: |1 + h lambda| = 1.0050 > 1 for simgd at h = 0.2."""
    game = eq.games.dirac_gan(1.0, 1.0, dtype=torch.float64)
    solver = eq.make_solver("simgd", game, lr=0.2)
    for _ in range(500):
        solver.step()
    assert norm(game) > math.sqrt(2)
    game = eq.games.dirac_gan(1.0, 1.0, dtype=torch.float64)
    solver = eq.make_solver("consensus", game, lr=0.2, gamma=1.0)
    for _ in range(3000):
        solver.step()
    assert norm(game) < 1e-3


def test_dirac_gan_gradient_penalty_converges_with_simgd():
    game = eq.games.dirac_gan(1.0, 1.0, gamma=1.0, dtype=torch.float64)
    solver = eq.make_solver("simgd", game, lr=0.2)
    for _ in range(3000):
        solver.step()
    assert norm(game) < 1e-6
