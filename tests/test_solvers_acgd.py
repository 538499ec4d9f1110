"""acgd beyond the exactness table of tests/test_solvers_exact.py (where its iterates equal an
independent numpy implementation of the paper's update, a dense np.linalg.solve): the Krylov
method per game type, bit-identical resume, the base optimizers it takes, bad input."""

import io

import numpy as np
import pytest
import torch

import equilib as eq
import reference_updates as ref
from test_solvers_exact import bilinear_game, monotone_game, quadratic_game, theta


GAMES = {
    "bilinear": lambda: bilinear_game(1, 5, 6),   # zero-sum: conjugate gradient on the scaled system
    "monotone": lambda: monotone_game(),          # zero-sum with P, Q
    "quadratic2": lambda: quadratic_game(2, (3, 4)),  # general-sum: GMRES
}


def test_adaptive_steps_differ_from_cgd():
    """Same game, same lr: acgd's per-coordinate steps are not cgd's scalar ones (else the
    exactness table could not tell the two apart)."""
    a, _ = GAMES["bilinear"]()
    c, _ = GAMES["bilinear"]()
    eq.make_solver("acgd", a, lr=0.1, tol=1e-14).step()
    eq.make_solver("cgd", c, lr=0.1, tol=1e-14).step()
    assert np.abs(theta(a) - theta(c)).max() > 1e-3


@pytest.mark.parametrize("game_name,used,unused", [("bilinear", "cg", "gmres"), ("monotone", "cg", "gmres"),
                                                    ("quadratic2", "gmres", "cg")])
def test_zero_sum_solve_is_conjugate_gradient(monkeypatch, game_name, used, unused):
    """Zero-sum: CG on the symmetric positive definite scaled system, exact within dim(x) = 5
    iterations (+1 for round-off); general-sum: GMRES. The other solver is made to fail."""
    import equilib.solvers.cgd as cgd_module

    def refuse(*args, **kwargs):
        raise AssertionError(f"{unused} called for {game_name}")

    calls = []
    real = getattr(cgd_module, used)
    monkeypatch.setattr(cgd_module, unused, refuse)
    monkeypatch.setattr(cgd_module, used, lambda *a, **k: calls.append(1) or real(*a, **k))
    game, _ = GAMES[game_name]()
    solver = eq.make_solver("acgd", game, lr=0.1, tol=1e-12, atol=0.0, warm_start=False)
    for _ in range(5):
        solver.step()
        assert solver.last_info["converged"] and solver.last_info["iterations"] <= 6
    assert len(calls) == 5


def test_state_dict_resume_is_bit_identical():
    game, _ = GAMES["bilinear"]()
    solver = eq.make_solver("acgd", game, lr={"x": 0.05, "y": 0.2}, tol=1e-4)
    for _ in range(5):
        solver.step()
    buf = io.BytesIO()
    torch.save({"state": solver.state_dict(), "params": {k: v.clone() for k, v in game.params.items()}}, buf)
    for _ in range(5):
        solver.step()
    expected = theta(game)

    buf.seek(0)
    saved = torch.load(buf, weights_only=False)

    def resumed(load):
        game2, _ = GAMES["bilinear"]()
        with torch.no_grad():
            for k, v in saved["params"].items():
                game2.params[k].copy_(v)
        solver2 = eq.make_solver("acgd", game2, lr={"x": 0.05, "y": 0.2}, tol=1e-4)
        if load:
            solver2.load_state_dict(saved["state"])
        for _ in range(5):
            solver2.step()
        return theta(game2)

    assert np.array_equal(resumed(True), expected)
    assert np.abs(resumed(False) - expected).max() > 1e-6  # the running averages matter


def test_nan_leaves_the_running_averages_as_they_were():
    def losses(p):
        v = (p["x"] * p["y"]).sum()
        bad = torch.where(p["x"] < 0.5, torch.tensor(float("nan")), torch.tensor(0.0)).sum()
        return {"x": v + bad, "y": -v}

    game = eq.Game({"x": torch.tensor([1.0]), "y": torch.tensor([1.0])}, losses)
    solver = eq.make_solver("acgd", game, lr=0.3)
    for _ in range(20):
        state = {k: (dict(v) if isinstance(v, dict) else v) for k, v in solver.state_dict()["state"].items()}
        try:
            solver.step()
        except eq.NonFiniteError as e:
            assert e.player == "x"
            break
    else:
        raise AssertionError("the game was built to produce NaN within a few steps")
    after = solver.state_dict()["state"]
    assert after["count"] == state["count"] == solver.steps
    assert all(after["averages"][p] is state["averages"][p] for p in game.players)
    assert after["previous"] is state["previous"]


@pytest.mark.parametrize("options,match", [
    ({"beta": 1.0}, r"beta must be a number in \(0, 1\), got 1.0"),
    ({"beta": 0}, r"beta must be a number in \(0, 1\), got 0"),
    ({"eps": 0.0}, "eps must be a number > 0, got 0.0"),
    ({"eps": -1e-8}, "eps must be a number > 0"),
    ({"tol": 0}, "tol must be a number > 0"),
    ({"atol": -1.0}, "atol must be a number >= 0"),
    ({"max_iter": 2.5}, "max_iter must be an integer >= 1"),
    ({"warm_start": 1}, "warm_start must be True or False"),
])
def test_bad_options(options, match):
    with pytest.raises(eq.SolverError, match=match):
        eq.make_solver("acgd", eq.games.xy(), lr=0.1, **options)


def test_needs_two_players():
    with pytest.raises(eq.SolverError, match="acgd takes a two-player game, this one has 3 players"):
        eq.make_solver("acgd", eq.games.cyclic(3), lr=0.1)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", torch.optim.Adagrad])
def test_refuses_adaptive_bases(optimizer):
    with pytest.raises(eq.SolverError, match=r"acgd needs the SGD base \(optimizer=None or 'sgd', momentum allowed\)"):
        eq.make_solver("acgd", eq.games.xy(), lr=0.1, optimizer=optimizer)


def test_sgd_momentum_base_adds_heavy_ball_to_the_acgd_move():
    """With SGD momentum m the base moves by dx_t + m * (previous move): the reference's
    moves, accumulated."""
    game, g = GAMES["quadratic2"]()
    solver = eq.make_solver("acgd", game, lr=0.1, optimizer="sgd", optimizer_options={"momentum": 0.5},
                            tol=1e-14, atol=0.0)
    th, state, buf = theta(game), None, 0.0
    for _ in range(6):
        solver.step()
        nxt, state = ref.acgd(g, th, [0.1, 0.1], state, 0.99, 1e-5)
        buf = 0.5 * buf + (nxt - th)
        th = th + buf
        np.testing.assert_allclose(theta(game), th, rtol=1e-10, atol=1e-11)
