"""SOS's update map at a fixed point is look-ahead's: I - D (J - H_o diag(alpha) J)."""

import numpy as np
import torch

import equilib as eq
from equilib.diagnostics import spectral_radius, update_map


def at_equilibrium(offset=0.0):
    game = eq.games.random_quadratic((2, 3), mu=0.5, seed=1)
    with torch.no_grad():
        for t, p in zip(game.parameters(), game.players):
            t.copy_(game.equilibrium[p] + offset)
    return game


def lookahead_map(game, lr, alpha):
    J = game.known_jacobian.numpy()
    Ho = J.copy()
    Ho[:2, :2] = 0
    Ho[2:, 2:] = 0
    return np.eye(5) - lr * (J - alpha * Ho @ J)


def test_sos_map_at_equilibrium_is_lookahead():
    game = at_equilibrium()
    solver = eq.make_solver("sos", game, lr=0.05, alpha=0.2)
    M = lookahead_map(game, 0.05, 0.2)
    np.testing.assert_allclose(np.asarray(update_map(solver, dense=True)), M, atol=1e-12)
    assert abs(spectral_radius(solver) - max(abs(np.linalg.eigvals(M)))) < 1e-12


def step_from(k, h):
    game = at_equilibrium()
    with torch.no_grad():
        flat = torch.cat(game.parameters())
        flat[k] += h
        game.parameters()[0].copy_(flat[:2])
        game.parameters()[1].copy_(flat[2:])
    eq.make_solver("sos", game, lr=0.05, alpha=0.2).step()
    return torch.cat(game.parameters()).numpy()


def test_sos_step_near_equilibrium_follows_the_map():
    """Column k of the map by central differences of one real step around theta*
    (p = |xi|^2 is O(h^2) and even in h, so its effect cancels to O(h^2))."""
    h = 1e-5
    columns = [(step_from(k, h) - step_from(k, -h)) / (2 * h) for k in range(5)]
    np.testing.assert_allclose(np.stack(columns, 1), lookahead_map(at_equilibrium(), 0.05, 0.2), atol=1e-8)
