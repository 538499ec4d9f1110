"""Every solver's iterates equal its paper's formula, to float64 precision.

One table (``EXACT``: solver -> cases of options, reference step, games, rate layouts) drives
the test, and a test checks that it names every solver in ``equilib.SOLVERS``. The references
are tests/reference_updates.py: numpy, written from the formulas, sharing no code with equilib.
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
    # acgd's (it runs on two-player games only)
    "bilinear-5x6": lambda: bilinear_game(1, 5, 6),    # zero-sum: acgd's conjugate gradient on the scaled system
    "monotone": lambda: monotone_game(),               # zero-sum with own-curvature blocks P, Q
    "quadratic-3x4": lambda: quadratic_game(2, (3, 4)),  # general-sum: acgd's GMRES
}


def monotone_game(seed=3, m=3, n=4):
    """Zero-sum with own-curvature blocks P, Q (which the local bilinear game leaves out)."""
    game = eq.games.monotone_quadratic(m, n, seed=seed)
    x0 = torch.cat([game.params["x"], game.params["y"]]).numpy()
    M = game.known_jacobian.numpy()
    b = eq.Field(game).xi  # xi(theta0) = M theta0 + b
    b = torch.cat([t.reshape(-1) for t in b]).numpy() - M @ x0
    return game, ref.Quadratic(M, b, [m, n])


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


BASE_GAMES = ("xy", "bilinear", "quadratic2", "quadratic3")


def memoryless(update, **options):
    """A reference step of a solver without state: (g, th, state, lrs) -> (th, None)."""
    return lambda g, th, state, lrs: (update(g, th, lrs, **options), None)


def altgd_steps(game):
    """altgd's per-player step counts used below: 1, 3, 1, ..."""
    return {p: 1 + (i % 2) * 2 for i, p in enumerate(game.players)}


def unrolled_case(k):
    """unrolled with k inner steps at unroll_lr 0.2 (3-player game: the default, the players' own rates)."""
    def options(game):
        return {"unroll_steps": k, "unroll_lr": 0.2 if len(game.players) == 2 else None}

    def reference(g, th, state, lrs):
        return ref.unrolled(g, th, lrs, k, [0.2] * len(lrs) if len(lrs) == 2 else lrs), None
    return options, reference


class Case:
    """One row of the exactness table: solver ``options`` (a dict, or game -> dict), the reference
    step (g, th, state, lrs) -> (th, state) from tests/reference_updates.py, the games and rate
    layouts it runs on, and the tolerance."""

    def __init__(self, label, options, reference, games=BASE_GAMES, per_player=(False, True), rtol=1e-12):
        self.label, self.options, self.reference = label, options, reference
        self.games, self.per_player, self.rtol = games, per_player, rtol


ACGD_GAMES = ("bilinear-5x6", "monotone", "quadratic-3x4")
ACGD_SOLVE = {"tol": 1e-14, "atol": 0.0, "max_iter": 50}


def acgd_case(label, options, beta, eps):
    """acgd against the paper's dense solve; beta and eps as the reference takes them (defaults: CGDs')."""
    return Case(label, {**ACGD_SOLVE, **options},
                lambda g, th, state, lrs: ref.acgd(g, th, lrs, state, beta, eps), ACGD_GAMES, rtol=1e-10)


# The table: every solver, each with the option sets its reference covers.
EXACT = {
    "simgd": [Case("plain", {}, memoryless(ref.simgd))],
    "extragradient": [Case("plain", {}, memoryless(ref.extragradient))],
    "hamiltonian": [Case("plain", {}, memoryless(ref.hamiltonian))],
    "altgd": [Case("steps 1,3", lambda game: {"steps": altgd_steps(game)},
                   lambda g, th, state, lrs: (ref.altgd(g, th, lrs, [1 + (i % 2) * 2 for i in range(len(lrs))]),
                                              None))],
    "optimistic": [Case("plain", {}, lambda g, th, state, lrs: ref.optimistic(g, th, state, lrs))],
    "consensus": [Case("gamma 0.7", {"gamma": 0.7}, memoryless(ref.consensus, gamma=0.7))],
    "sga": [Case(f"align {a}", {"lam": 0.8, "align": a}, memoryless(ref.sga, lam=0.8, align=a), per_player=(True,))
            for a in (True, False)],
    "unrolled": [Case(f"k {k}", *unrolled_case(k), per_player=(True,), rtol=1e-11) for k in (0, 1, 3)],
    "cgd": [Case("tol 1e-14", {"tol": 1e-14, "max_iter": 50}, memoryless(ref.cgd),
                 games=("xy", "bilinear", "quadratic2"), rtol=1e-10)],
    "acgd": [acgd_case(f"{label} warm {w}", {**options, "warm_start": w}, beta, eps)
             for label, options, beta, eps in [("defaults", {}, 0.99, 1e-5),
                                               ("beta 0.9", {"beta": 0.9, "eps": 1e-2}, 0.9, 1e-2)]
             for w in (True, False)],
    "lola": [Case("alpha 0.3", {"alpha": 0.3}, memoryless(ref.lola, alpha=[0.3] * 3), per_player=(True,))],
    "sos": [Case(f"a {a} b {b}", {"alpha": 0.3, "a": a, "b": b}, memoryless(ref.sos, alpha=[0.3] * 3, a=a, b=b),
                 per_player=(True,)) for a, b in [(0.5, 0.1), (0.05, 0.9)]],
}


def test_table_covers_every_solver():
    assert sorted(EXACT) == sorted(eq.SOLVERS)


CASES = [pytest.param(name, case, game_name, per_player,
                      id=f"{name}-{case.label}-{game_name}-{'per-player' if per_player else 'one-lr'}")
         for name, cases in EXACT.items() for case in cases
         for game_name in case.games for per_player in case.per_player]


@pytest.mark.parametrize("name,case,game_name,per_player", CASES)
def test_iterates_match_the_reference(name, case, game_name, per_player):
    """STEPS steps of the solver equal STEPS steps of its reference, and the run moves."""
    game, g = GAMES[game_name]()
    lr, lrs = lr_for(game, per_player)
    options = case.options(game) if callable(case.options) else case.options
    solver = eq.make_solver(name, game, lr=lr, **options)
    th = start = theta(game)
    state = None
    for _ in range(STEPS):
        solver.step()
        th, state = case.reference(g, th, state, lrs)
        np.testing.assert_allclose(theta(game), th, rtol=case.rtol, atol=case.rtol / 10)
        info = getattr(solver, "last_info", None)
        if isinstance(info, dict) and "converged" in info:
            assert info["converged"]
    assert np.abs(th - start).max() > 1e-2


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
