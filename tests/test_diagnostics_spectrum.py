"""Dense Jacobian and eigenvalues against closed forms and independent computations; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import equilib as eq
from equilib import diagnostics as dg
from equilib.diagnostics.spectrum import sort_eigenvalues


def mlp_game(h=12, seed=0, dtype=torch.float64, batchnorm=False):
    """A small non-saturating GAN on fixed 2-D data and noise (an independent test game)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    norm = [nn.BatchNorm1d(h)] if batchnorm else []
    G = nn.Sequential(nn.Linear(4, h), *norm, nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 2)).to(dtype)
    D = nn.Sequential(nn.Linear(2, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 1)).to(dtype)
    real = torch.randn(64, 2, generator=g, dtype=dtype)
    z = torch.randn(64, 4, generator=g, dtype=dtype)
    sp = nn.functional.softplus

    def losses(p):
        fake = p["G"](z)
        return {"G": sp(-p["D"](fake)).mean(), "D": sp(-p["D"](real)).mean() + sp(p["D"](fake)).mean()}
    return eq.Game({"G": G, "D": D}, losses)


def rowwise_jacobian(game):
    """Reference: J row by row with plain torch.autograd (no equilib Field)."""
    params = game.parameters()
    losses, _ = game.evaluate(None)
    xi = []
    for p in game.players:
        xi += list(torch.autograd.grad(losses[p], game.parameters(p), create_graph=True))
    flat = torch.cat([x.reshape(-1) for x in xi])
    rows = [torch.cat([r.reshape(-1) for r in torch.autograd.grad(flat[k], params, retain_graph=True,
                                                                    allow_unused=True, materialize_grads=True)])
            for k in range(flat.numel())]
    return torch.stack(rows)


def assert_same_set(a, b, tol):
    a, b = np.asarray(a), list(np.asarray(b))
    for z in a:
        j = int(np.argmin([abs(z - w) for w in b]))
        assert abs(z - b[j]) <= tol, (z, b[j])
        b.pop(j)


# ---- closed forms ------------------------------------------------------------------

def test_xy_eigenvalues_are_plus_minus_i():
    ev = dg.eigenvalues(eq.games.xy(dtype=torch.float64))
    assert ev.dtype == torch.complex128
    assert_same_set(ev.numpy(), [1j, -1j], 1e-15)


def test_bilinear_eigenvalues_are_i_times_singular_values():
    A = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ev = dg.eigenvalues(eq.games.bilinear(A, dtype=torch.float64))
    s = torch.linalg.svdvals(A).numpy()
    assert_same_set(ev.numpy(), list(1j * s) + list(-1j * s) + [0.0], 1e-12)  # 4 x 3: one zero eigenvalue


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 1.5])
def test_dirac_gan_eigenvalues_at_equilibrium(gamma):
    """Mescheder et al. 2018: gamma/2 +/- sqrt(gamma^2/4 - f'(0)^2), f'(0) = 1/2 (for our xi = -their field)."""
    ev = dg.eigenvalues(eq.games.dirac_gan(0.0, 0.0, gamma=gamma, dtype=torch.float64))
    root = np.sqrt(complex(gamma**2 / 4 - 0.25))
    assert_same_set(ev.numpy(), [gamma / 2 + root, gamma / 2 - root], 1e-7 if gamma == 1.0 else 1e-12)


def test_monotone_quadratic_eigenvalues_of_known_matrix():
    game = eq.games.monotone_quadratic(5, 4, mu=0.3, seed=2)
    torch.testing.assert_close(dg.jacobian(game), game.known_jacobian, rtol=0, atol=1e-14)
    ev = dg.eigenvalues(game)
    assert_same_set(ev.numpy(), np.linalg.eigvals(game.known_jacobian.numpy()), 1e-12)
    assert (ev.real >= 0.3 - 1e-12).all()  # strongly monotone: every real part >= mu


@pytest.mark.parametrize("make", [lambda: eq.games.random_quadratic((3, 2, 4), seed=1),
                                  lambda: eq.games.cyclic(5, mu=0.2, dtype=torch.float64),
                                  lambda: eq.games.dirac_gan(0.0, 0.0, gamma=0.3, dtype=torch.float64)])
def test_jacobian_matches_known_jacobian(make):
    game = make()
    torch.testing.assert_close(dg.jacobian(game), game.known_jacobian.to(torch.float64), rtol=0, atol=1e-14)


def test_jacobian_of_networks_matches_rowwise_autograd():
    game = mlp_game(10)
    torch.testing.assert_close(dg.jacobian(game), rowwise_jacobian(game), rtol=1e-12, atol=1e-12)


def test_decomposition_potential_and_hamiltonian():
    xy = dg.decompose(eq.games.xy(dtype=torch.float64))
    assert xy.rotation == 1.0 and not xy.stable and xy.max_rotation_angle == pytest.approx(math.pi / 2)
    torch.testing.assert_close(xy.symmetric, torch.zeros(2, 2, dtype=torch.float64))
    S = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)  # a potential game: J symmetric
    pot = dg.decompose(eq.games.quadratic(S, sizes=[1, 1], dtype=torch.float64))
    assert pot.rotation == 0.0 and pot.stable and pot.summary()["monotone"]
    mono = eq.games.monotone_quadratic(3, 3, mu=0.5, seed=0)
    d = dg.decompose(mono)
    J = mono.known_jacobian
    expected = float(((J - J.T) ** 2).sum() / 4 / (J * J).sum())
    assert d.rotation == pytest.approx(expected, rel=1e-12)
    torch.testing.assert_close(d.symmetric + d.antisymmetric, J)
    assert d.summary()["min_symmetric_eigenvalue"] >= 0.5 - 1e-12 and d.stable


# ---- matrix-free ---------------------------------------------------------------------

def test_matrix_free_agrees_with_dense_on_a_2000_parameter_network_game():
    game = mlp_game(29)  # 2,000 parameters... give or take
    d = game.num_parameters()
    assert 1800 <= d <= 2200
    dense = dg.eigenvalues(game)
    info = {}
    top = dg.eigenvalues(game, k=6, which="LM", info=info)
    ref = sort_eigenvalues(dense, "LM")[:6]
    assert_same_set(top.numpy(), ref.numpy(), 1e-8)
    assert 0 < info["matvecs"] < 1000


@pytest.mark.parametrize("which", ["LM", "LR", "SR"])
def test_matrix_free_which_codes_on_network(which):
    game = mlp_game(12)
    ref = sort_eigenvalues(dg.eigenvalues(game), which)[:4]
    assert_same_set(dg.eigenvalues(game, k=4, which=which).numpy(), ref.numpy(), 1e-8)


@pytest.mark.parametrize("which", ["LI", "SI", "LM"])
def test_matrix_free_imaginary_codes(which):
    game = eq.games.monotone_quadratic(150, 150, mu=0.1, seed=0)  # rotation-dominated: separated imaginary parts
    ref = sort_eigenvalues(torch.linalg.eigvals(game.known_jacobian), which)[:6]
    got = dg.eigenvalues(game, k=6, which=which)
    assert_same_set(got.numpy(), ref.numpy(), 1e-8)
    if which == "LI":
        assert (got.imag > 0).all()


def test_eigenvectors_satisfy_the_eigen_equation():
    game = mlp_game(8)
    J = dg.jacobian(game).numpy()
    values, vectors = dg.eigenvalues(game, k=3, return_eigenvectors=True)
    for lam, v in zip(values.numpy(), vectors.numpy().T):
        assert np.linalg.norm(J @ v - lam * v) <= 1e-8 * np.linalg.norm(v)


# ---- modules: buffers and modes left alone -------------------------------------------

def test_batchnorm_buffers_and_modes_are_restored():
    game = mlp_game(6, batchnorm=True)
    G = game.params["G"]
    G.train()
    game.params["D"].eval()
    before = [b.clone() for b in game.buffers()]
    J_train = dg.jacobian(game)
    dg.eigenvalues(game, k=2)
    J_eval = dg.jacobian(game, eval_mode=True)
    assert G.training and not game.params["D"].training
    for b, v in zip(game.buffers(), before):
        assert torch.equal(b, v)
    assert not torch.allclose(J_train, J_eval)  # eval-mode BatchNorm is another function
    torch.testing.assert_close(J_train, rowwise_jacobian(game), rtol=1e-10, atol=1e-10)


# ---- bad input ---------------------------------------------------------------------------

def test_too_large_dense_request_says_how_large_and_suggests_k():
    game = eq.games.random_quadratic((30, 30), seed=0)
    with pytest.raises(dg.DiagnosticsError, match=r"60 x 60 float64 .*max_bytes=1,000.*eigenvalues\(game, k=6\)"):
        dg.eigenvalues(game, max_bytes=1000)
    big = eq.Game({"a": torch.zeros(20000), "b": torch.zeros(20000)},
                  lambda p: {"a": (p["a"] * p["b"]).sum(), "b": -(p["a"] * p["b"]).sum()})
    with pytest.raises(dg.DiagnosticsError, match=r"40,000 x 40,000 float64 = 11.92 GiB"):
        dg.jacobian(big)


def test_k_too_large():
    game = eq.games.random_quadratic((3, 3), seed=0)
    with pytest.raises(dg.DiagnosticsError, match="k=5 is too large: the game has 6 parameters.*k=None"):
        dg.eigenvalues(game, k=5)
    with pytest.raises(dg.DiagnosticsError, match="k must be an integer >= 1"):
        dg.eigenvalues(game, k=0)


def test_unknown_which_lists_allowed_codes():
    with pytest.raises(dg.DiagnosticsError, match="unknown which='XX'; allowed codes: LM .*LR .*SR .*LI .*SI"):
        dg.eigenvalues(eq.games.xy(), k=1, which="XX")


def test_non_finite_names_the_player():
    def losses(p):
        return {"a": (p["a"] * p["b"]).sum(), "b": (torch.log(p["b"]) * p["a"]).sum()}
    game = eq.Game({"a": torch.ones(2, dtype=torch.float64), "b": -torch.ones(2, dtype=torch.float64)}, losses)
    with pytest.raises(dg.NonFiniteJacobianError, match="player 'b'") as err:
        dg.jacobian(game)
    assert err.value.player == "b"
    with pytest.raises(dg.NonFiniteJacobianError, match="the loss in the block of player 'b'"):
        dg.eigenvalues(game, k=1)

    def inf_grad(p):  # d sqrt(b)/db = inf at b = 0, finite losses
        return {"a": (p["a"] * p["b"]).sum(), "b": (torch.sqrt(p["b"]) * p["a"]).sum()}
    game = eq.Game({"a": torch.ones(2, dtype=torch.float64), "b": torch.zeros(2, dtype=torch.float64)}, inf_grad)
    with pytest.raises(dg.NonFiniteJacobianError, match="the gradient xi in the block of player 'b'"):
        dg.jacobian(game)
    solver = eq.make_solver("simgd", game, lr=0.1)
    with pytest.raises(dg.NonFiniteJacobianError, match="player 'b'"):
        dg.spectral_radius(solver, dense=False)


def test_arnoldi_non_convergence_is_reported():
    game = mlp_game(8)
    with pytest.raises(dg.ArnoldiNoConvergence, match=r"Arnoldi did not converge: only \d+ of the k=4") as err:
        dg.eigenvalues(game, k=4, which="SR", maxiter=1, ncv=9)
    assert err.value.k == 4 and len(err.value.converged) < 4


def test_rotation_estimate_matrix_free():
    """Hutchinson's estimate of |A|_F^2 / |J|_F^2: exact for purely rotational and potential games."""
    assert dg.rotation_estimate(eq.games.xy(dtype=torch.float64), samples=3) == pytest.approx(1.0, abs=1e-15)
    S = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    assert dg.rotation_estimate(eq.games.quadratic(S, sizes=[1, 1], dtype=torch.float64), samples=3) == 0.0
    for game in (eq.games.monotone_quadratic(150, 150, mu=0.5, seed=0), eq.games.random_quadratic((100, 100), seed=0)):
        info = {}
        est = dg.rotation_estimate(game, samples=50, info=info)
        assert est == pytest.approx(dg.decompose(game).rotation, abs=0.03) and info["products"] == 100
    with pytest.raises(dg.DiagnosticsError, match="samples must be an integer >= 1"):
        dg.rotation_estimate(eq.games.xy(), samples=0)
