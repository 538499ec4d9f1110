"""Every plain-step solver's iterates equal its paper's formula, to float64 precision.

The reference is tests/reference_updates.py: numpy, written from the formulas,
sharing no code with equilib.
"""

import numpy as np
import pytest
import torch

import equilib as eq
import reference_updates as ref

STEPS = 12


def bilinear_game(seed=0, m=3, n=4):
    rng = np.random.default_rng(seed)
    A, b, c = rng.normal(size=(m, n)), rng.normal(size=m), rng.normal(size=n)
    x0, y0 = rng.normal(size=m), rng.normal(size=n)
    game = eq.games.bilinear(A, b, c, x0, y0, dtype=torch.float64)
    M = np.block([[np.zeros((m, m)), A], [-A.T, np.zeros((n, n))]])

    def cross(th, i, j):  # grad_y L_x = A^T x + c ; grad_x L_y = -(A y + b)
        x, y = th[:m], th[m:]
        return A.T @ x + c if i == 0 else -(A @ y + b)

    return game, ref.Quadratic(M, np.concatenate([b, -c]), [m, n], cross)


def quadratic_game(seed=0, sizes=(2, 3)):
    game = eq.games.random_quadratic(sizes, mu=0.3, seed=seed)
    return game, ref.Quadratic(game.known_jacobian.numpy(), game.b.numpy(), sizes)


GAMES = {
    "xy": lambda: bilinear_game_xy(),
    "bilinear": lambda: bilinear_game(1),
    "quadratic2": lambda: quadratic_game(2, (2, 3)),
    "quadratic3": lambda: quadratic_game(3, (2, 1, 2)),
}


def bilinear_game_xy():
    game = eq.games.xy(1.0, 1.0, dtype=torch.float64)

    def cross(th, i, j):
        return th[:1] if i == 0 else -th[1:]

    return game, ref.Quadratic([[0.0, 1.0], [-1.0, 0.0]], [0.0, 0.0], [1, 1], cross)


def theta(game):
    return torch.cat([t.reshape(-1) for t in game.parameters()]).numpy().copy()


def lr_for(game, per_player):
    if not per_player:
        return 0.1, [0.1] * len(game.players)
    values = [0.05 + 0.04 * i for i in range(len(game.players))]
    return dict(zip(game.players, values)), values


def run(name, game_name, per_player=False, **options):
    game, g = GAMES[game_name]()
    lr, lrs = lr_for(game, per_player)
    solver = eq.make_solver(name, game, lr=lr, **options)
    th = theta(game)
    return game, g, solver, th, lrs


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("per_player", [False, True])
@pytest.mark.parametrize("name", ["simgd", "extragradient", "hamiltonian"])
def test_memoryless_first_order(name, game_name, per_player):
    game, g, solver, th, lrs = run(name, game_name, per_player)
    update = getattr(ref, name)
    for _ in range(STEPS):
        solver.step()
        th = update(g, th, lrs)
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("per_player", [False, True])
def test_altgd(game_name, per_player):
    game, _ = GAMES[game_name]()
    steps = {p: 1 + (i % 2) * 2 for i, p in enumerate(game.players)}
    game, g, solver, th, lrs = run("altgd", game_name, per_player, steps=steps)
    for _ in range(STEPS):
        solver.step()
        th = ref.altgd(g, th, lrs, list(steps.values()))
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("per_player", [False, True])
def test_optimistic(game_name, per_player):
    game, g, solver, th, lrs = run("optimistic", game_name, per_player)
    prev = None
    for _ in range(STEPS):
        solver.step()
        th, prev = ref.optimistic(g, th, prev, lrs)
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("per_player", [False, True])
def test_consensus(game_name, per_player):
    game, g, solver, th, lrs = run("consensus", game_name, per_player, gamma=0.7)
    for _ in range(STEPS):
        solver.step()
        th = ref.consensus(g, th, lrs, 0.7)
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("align", [True, False])
def test_sga(game_name, align):
    game, g, solver, th, lrs = run("sga", game_name, True, lam=0.8, align=align)
    for _ in range(STEPS):
        solver.step()
        th = ref.sga(g, th, lrs, 0.8, align=align)
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("k", [0, 1, 3])
def test_unrolled(game_name, k):
    game, g, solver, th, lrs = run("unrolled", game_name, True, unroll_steps=k,
                                   unroll_lr=0.2 if game_name != "quadratic3" else None)
    unroll_lr = [0.2] * len(lrs) if game_name != "quadratic3" else lrs
    for _ in range(STEPS):
        solver.step()
        th = ref.unrolled(g, th, lrs, k, unroll_lr)
        np.testing.assert_allclose(theta(game), th, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("game_name", ["xy", "bilinear", "quadratic2"])
@pytest.mark.parametrize("per_player", [False, True])
def test_cgd(game_name, per_player):
    game, g, solver, th, lrs = run("cgd", game_name, per_player, tol=1e-14, max_iter=50)
    for _ in range(STEPS):
        solver.step()
        th = ref.cgd(g, th, lrs)
        np.testing.assert_allclose(theta(game), th, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("game_name", list(GAMES))
def test_lola(game_name):
    game, g, solver, th, lrs = run("lola", game_name, True, alpha=0.3)
    for _ in range(STEPS):
        solver.step()
        th = ref.lola(g, th, lrs, [0.3] * len(lrs))
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


def test_lola_default_alpha_is_opponents_lr():
    game, g, solver, th, lrs = run("lola", "quadratic3", True)
    for _ in range(STEPS):
        solver.step()
        th = ref.lola(g, th, lrs, lrs)
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)


def test_sga_equals_consensus_on_bilinear():
    """On bilinear games J is antisymmetric, so SGA is consensus with gamma = lam."""
    a, _ = bilinear_game(4)
    b, _ = bilinear_game(4)
    sa = eq.make_solver("sga", a, lr=0.1, lam=0.6)
    sb = eq.make_solver("consensus", b, lr=0.1, gamma=0.6)
    for _ in range(STEPS):
        sa.step()
        sb.step()
    np.testing.assert_allclose(theta(a), theta(b), rtol=1e-12, atol=1e-14)


def run_sos(game_name, a, b, steps):
    game, g = GAMES[game_name]()
    lr, lrs = lr_for(game, True)
    solver = eq.solvers.SOS(game, lr=lr, alpha=0.3, a=a, b=b)
    th = theta(game)
    ps = []
    for _ in range(steps):
        solver.step()
        ps.append(solver.last_p)
        th = ref.sos(g, th, lrs, [0.3] * len(lrs), a=a, b=b)
        np.testing.assert_allclose(theta(game), th, rtol=1e-12, atol=1e-13)
    return ps


@pytest.mark.parametrize("game_name", list(GAMES))
@pytest.mark.parametrize("a,b", [(0.5, 0.1), (0.05, 0.9)])
def test_sos(game_name, a, b):
    run_sos(game_name, a, b, STEPS)


@pytest.mark.parametrize("game_name,a,b,branch", [
    ("xy", 0.5, 0.1, "p2"), ("bilinear", 0.05, 0.9, "p2"), ("quadratic2", 0.05, 0.1, "p1")])
def test_sos_scaled_branches_match(game_name, a, b, branch):
    """The runs reach p < 1 (p2 = |xi|^2 near a fixed point; p1 when shaping opposes look-ahead)."""
    assert min(run_sos(game_name, a, b, 150)) < 1.0


def test_sos_keeps_fixed_points_that_lola_leaves():
    """Tandem (Letcher et al. 2019): x + y = 1 are fixed points; LOLA settles at x + y = 4/3."""
    lola_game, sos_game = eq.games.tandem(0.0, 0.0, dtype=torch.float64), eq.games.tandem(0.0, 0.0, dtype=torch.float64)
    lola = eq.solvers.LOLA(lola_game, lr=0.05, alpha=0.1)
    sos = eq.solvers.SOS(sos_game, lr=0.05, alpha=0.1)
    for _ in range(2000):
        lola.step()
        sos.step()
    assert float(sum(sos_game.parameters())) == pytest.approx(1.0, abs=1e-9)
    assert float(sum(lola_game.parameters())) == pytest.approx(4.0 / 3.0, abs=1e-9)
    still = eq.games.tandem(0.25, 0.75, dtype=torch.float64)
    eq.solvers.SOS(still, lr=0.05, alpha=0.1).step()
    assert [float(t) for t in still.parameters()] == [0.25, 0.75]
