"""spectral_radius predicts the per-step contraction of the actual solver runs (eq.make_solver).

On a quadratic game xi is affine, so one solver step is an affine map
s_{t+1} = M_run s_t + c on the state s_t = theta_t (for optimistic s_t = (theta_t, theta_{t-1})),
and the moves delta_t = s_{t+1} - s_t obey delta_{t+1} = M_run delta_t exactly, whatever the
map's fixed point (LOLA's and unrolled's fixed points are not the Nash equilibrium of a
general-sum game). M_run is identified from the solver's own trajectories by least squares,
independently of the diagnostics' formulas. Along a run, the coordinate c_t = w^H delta_t on the
dominant left eigenvector w of M_run obeys c_{t+1} = lambda c_t exactly, so |c_{t+1} / c_t| is
the measured per-step contraction factor; spectral_radius must equal it to 1e-6, and the
whole trajectory must follow the predicted M.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import equilib as eq
from equilib import diagnostics as dg
from equilib.diagnostics.update_maps import NO_MAP

CASES = [
    ("simgd", {}), ("altgd", {}), ("altgd", {"steps": {"p0": 2, "p1": 1, "p2": 3}}),
    ("extragradient", {}), ("optimistic", {}), ("consensus", {"gamma": 0.7}), ("hamiltonian", {}),
    ("sga", {"align": False, "lam": 0.8}), ("sga", {"align": True}), ("lola", {}), ("lola", {"alpha": 0.2}),
    ("unrolled", {"unroll_steps": 3}), ("unrolled", {"unroll_steps": 2, "unroll_lr": 0.15}),
]
LR3 = {"p0": 0.05, "p1": 0.09, "p2": 0.07}


def _state(game, solver, theta_star):
    e = torch.cat([t.detach().reshape(-1) for t in game.parameters()]).double() - theta_star
    return e


def _set(game, flat):
    with torch.no_grad():
        for t, v in zip(game.parameters(), eq.vec.unflatten(flat.clone(), game.parameters())):
            t.copy_(v)


def _trajectories(game, name, lr, options, theta_star, starts, length, optimizer_options=None):
    """Moves delta_t (columns) and their successors delta_{t+1} from the solver's own runs."""
    before, after = [], []
    for a in starts:
        _set(game, theta_star + a)
        solver = eq.make_solver(name, game, lr=lr, optimizer_options=optimizer_options, **options)
        states = [_state(game, solver, theta_star)]
        buffers = [torch.cat([states[0], torch.zeros_like(states[0])])]
        for _ in range(length):
            solver.step()
            states.append(_state(game, solver, theta_star))
            b = [solver.optimizers[p].state[t]["momentum_buffer"].reshape(-1)
                 for p in game.players for t in game.parameters(p)] if optimizer_options else []
            buffers.append(torch.cat([states[-1]] + b))
        if optimizer_options:  # state (theta_t, momentum buffer b_t), the buffer read from the optimizers
            states = buffers
        if name == "optimistic":  # state (e_t, e_{t-1}) from t = 1
            states = [torch.cat([states[t], states[t - 1]]) for t in range(1, len(states))]
        moves = [b - a for a, b in zip(states[:-1], states[1:])]
        before += moves[:-1]
        after += moves[1:]
    return torch.stack(before, 1).numpy(), torch.stack(after, 1).numpy()


def _measured_contraction(E0, E1, run):
    """Identify M_run, then measure |c_{t+1}/c_t| along ``run`` on its dominant left eigenvector."""
    M_run = E1 @ np.linalg.pinv(E0, rcond=1e-13)
    values, left = np.linalg.eig(M_run.T)
    w = left[:, np.argmax(np.abs(values))]
    c = w @ run
    ratios = np.abs(c[1:] / c[:-1])
    return M_run, ratios


def _check(game, name, lr, options, scale=1.0, seed=0, momentum=None):
    theta_star = torch.cat([game.equilibrium[p].reshape(-1) for p in game.players]).double()
    d = theta_star.numel()
    n = 2 * d if name == "optimistic" or momentum else d
    opt = None if momentum is None else {p: {"momentum": b} for p, b in momentum.items()}
    rng = torch.Generator().manual_seed(seed)
    starts = [scale * torch.randn(d, generator=rng, dtype=torch.float64) for _ in range(4)]
    E0, E1 = _trajectories(game, name, lr, options, theta_star, starts, length=n + 5, optimizer_options=opt)
    # the prediction, at the first start point (any point of a quadratic game gives the same M)
    _set(game, theta_star + starts[0])
    solver = eq.make_solver(name, game, lr=lr, optimizer_options=opt, **options)
    M = dg.update_map(solver).numpy()
    rho = dg.spectral_radius(solver)
    # the whole run follows the predicted map
    assert np.abs(E1 - M @ E0).max() <= 1e-9 * max(1.0, np.abs(E0).max())
    per_run = E0.shape[1] // len(starts)
    M_run, ratios = _measured_contraction(E0, E1, E0[:, :per_run])
    assert np.allclose(ratios, ratios.mean(), rtol=1e-8, atol=0)  # a constant per-step factor
    assert abs(ratios.mean() - rho) <= 1e-6, (name, options, ratios.mean(), rho)
    assert abs(np.abs(np.linalg.eigvals(M_run)).max() - rho) <= 1e-6
    return rho


@pytest.mark.parametrize("name,options", CASES, ids=lambda c: str(c))
def test_prediction_three_player_general_sum(name, options):
    game = eq.games.random_quadratic(sizes=(2, 2, 2), mu=0.5, seed=3)
    scale = 1e-3 if options.get("align") else 1.0  # near the equilibrium SGA's sign is locally constant
    _check(game, name, LR3, options, scale=scale)


@pytest.mark.parametrize("name,options", [("cgd", {"tol": 1e-13}), ("unrolled", {}), ("lola", {}),
                                          ("optimistic", {}), ("consensus", {"gamma": 2.0})], ids=str)
def test_prediction_two_player(name, options):
    game = eq.games.random_quadratic(sizes=(3, 2), mu=0.3, seed=5)
    _check(game, name, {"p0": 0.08, "p1": 0.05}, options)


@pytest.mark.parametrize("name", sorted(set(eq.SOLVERS) - set(NO_MAP)))
def test_prediction_zero_sum_monotone(name):
    game = eq.games.monotone_quadratic(3, 2, mu=0.4, seed=1)
    options = {"tol": 1e-13} if name == "cgd" else {}
    rho = _check(game, name, {"x": 0.1, "y": 0.06}, options)
    assert 0 < rho


def test_distance_ratio_over_a_long_run_approaches_rho():
    """Without any identification: (|e_{t+K}| / |e_t|)^(1/K) after the transient is rho (to 1e-3)."""
    game = eq.games.monotone_quadratic(3, 3, mu=0.5, seed=2)
    theta_star = torch.cat([game.equilibrium[p] for p in game.players]).double()
    solver = eq.make_solver("extragradient", game, lr=0.2)
    rho = dg.spectral_radius(solver)
    norms = []
    for _ in range(151):
        solver.step()
        norms.append(float(_state(game, solver, theta_star).norm()))
    measured = (norms[150] / norms[50]) ** (1 / 100)  # |e| stays far above rounding (1e-16 |theta*|)
    assert rho < 1 and abs(measured - rho) < 1e-3


MOMENTUM = [("simgd", {}), ("altgd", {"steps": {"p0": 2, "p1": 1, "p2": 1}}), ("consensus", {}), ("hamiltonian", {}),
            ("sga", {"align": False}), ("lola", {}),
            ("unrolled", {"unroll_steps": 2, "unroll_optimizer": "sgd"})]  # the map's inner rule: plain steps


@pytest.mark.parametrize("name,options", MOMENTUM, ids=str)
def test_prediction_with_heavy_ball_momentum(name, options):
    """Per-player momentum, positive and negative: the map on (theta, buffer b) predicts the run
    (b read from the base optimizers' state)."""
    game = eq.games.random_quadratic(sizes=(2, 2, 2), mu=0.5, seed=3)
    _check(game, name, LR3, options, momentum={"p0": 0.4, "p1": -0.3, "p2": 0.2})


def test_prediction_cgd_with_momentum():
    game = eq.games.random_quadratic(sizes=(3, 2), mu=0.3, seed=5)
    _check(game, "cgd", {"p0": 0.08, "p1": 0.05}, {"tol": 1e-13}, momentum={"p0": 0.5, "p1": -0.2})


def test_alternating_negative_momentum_on_xy_published_value():
    """Gidel et al. 2019 (AISTATS): alternating gradient with momentum -0.5, eta 0.5 on x*y: rho = 0.962544;
    simultaneous heavy ball never goes below 1."""
    xy = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("altgd", xy, lr=0.5, optimizer_options={"momentum": -0.5})
    assert dg.spectral_radius(solver) == pytest.approx(0.962544, abs=1e-6)
    for beta in (-0.5, -0.2, 0.3, 0.8):
        for eta in (0.05, 0.3, 1.0):
            simultaneous = eq.make_solver("simgd", xy, lr=eta, optimizer_options={"momentum": beta})
            assert dg.spectral_radius(simultaneous) > 1.0


def test_momentum_refused_where_base_steps_twice():
    with pytest.raises(dg.DiagnosticsError, match="momentum=0.5.*not for 'extragradient'"):
        dg.spectral_radius(eq.make_solver("extragradient", eq.games.xy(), lr=0.1, optimizer_options={"momentum": 0.5}))


def test_acgd_has_no_update_map_and_says_why():
    game = eq.games.monotone_quadratic(3, 2, mu=0.4, seed=1)
    solver = eq.make_solver("acgd", game, lr=0.1)
    for call in (lambda: dg.spectral_radius(solver), lambda: dg.update_map(solver),
                 lambda: dg.step_size_scan(game, ["cgd", "acgd"], [0.1, 0.2])):
        with pytest.raises(dg.DiagnosticsError, match="no update map for solver 'acgd': its per-coordinate steps "
                                                      "are state .*grow towards lr/eps"):
            call()


def test_unrolled_copying_a_momentum_base_has_no_derived_map():
    game = eq.games.random_quadratic(sizes=(2, 2), seed=3)
    solver = eq.make_solver("unrolled", game, lr=0.1, optimizer_options={"momentum": 0.5}, unroll_steps=2)
    with pytest.raises(eq.diagnostics.DiagnosticsError, match="unroll_optimizer='same'\\) is not derived"):
        eq.diagnostics.spectral_radius(solver)
