"""Bad input: clear errors naming the argument and the allowed values, raised before anything changes."""

import pytest
import torch
from torch import nn

import equilib as eq


def xy_losses(p):
    v = (p["x"] * p["y"]).sum()
    return {"x": v, "y": -v}


def params():
    return {"x": torch.tensor([1.0]), "y": torch.tensor([1.0])}


# ---- games -------------------------------------------------------------------
def test_shared_parameters_rejected():
    t = torch.ones(2)
    with pytest.raises(eq.GameError, match="'a' and 'b' share a parameter"):
        eq.Game({"a": t, "b": {"w": t}}, lambda p: {})


def test_shared_module_parameters_rejected():
    m = nn.Linear(2, 2)
    with pytest.raises(eq.GameError, match="share a parameter"):
        eq.Game({"a": m, "b": m.weight}, lambda p: {})


@pytest.mark.parametrize("spec,match", [
    (torch.tensor([1, 2]), "must be floating point"),
    ({"w": torch.tensor([1])}, "must be floating point"),
    ({"w": [1.0]}, "must map names to tensors"),
    ({}, "no floating-point parameters"),
    (nn.ReLU(), "no floating-point parameters"),
    ([1.0], "must be a Tensor, a dict of Tensors or an nn.Module"),
])
def test_bad_player_parameters(spec, match):
    with pytest.raises(eq.GameError, match=match):
        eq.Game({"a": spec, "b": torch.ones(1)}, lambda p: {})


def test_frozen_module_has_no_parameters():
    m = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(eq.GameError, match="player 'a' has no floating-point parameters"):
        eq.Game({"a": m, "b": torch.ones(1)}, lambda p: {})


@pytest.mark.parametrize("losses,match", [
    (lambda p: [1.0], r"must return a dict \{player: scalar tensor\}"),
    (lambda p: {"x": (p["x"] * p["y"]).sum()}, r"missing \['y'\]"),
    (lambda p: {"x": p["x"].sum(), "y": p["y"].sum(), "z": p["x"].sum()}, r"unknown \['z'\]"),
    (lambda p: {"x": p["x"] * torch.ones(3), "y": p["y"].sum()}, r"loss of player 'x' has shape \(3,\)"),
    (lambda p: {"x": 1.0, "y": p["y"].sum()}, "loss of player 'x' is a float"),
])
def test_bad_losses_rejected_before_any_change(losses, match):
    game = eq.Game(params(), losses)
    solver = eq.make_solver("simgd", game, lr=0.1)
    with pytest.raises(eq.GameError, match=match):
        solver.step()
    assert [float(t) for t in game.parameters()] == [1.0, 1.0]
    assert solver.steps == 0


def test_zero_sum_needs_two_players():
    with pytest.raises(eq.GameError, match="exactly two players"):
        eq.ZeroSumGame({"x": torch.ones(1)}, value=lambda p: p["x"].sum())


def test_unknown_player():
    with pytest.raises(eq.GameError, match=r"unknown player 'z'; the players are \['x', 'y'\]"):
        eq.Game(params(), xy_losses).parameters("z")


# ---- solvers -----------------------------------------------------------------
def test_unknown_solver_lists_known():
    with pytest.raises(eq.SolverError, match=r"unknown solver 'adam'; known solvers: \['acgd', 'altgd', 'cgd'"):
        eq.make_solver("adam", eq.Game(params(), xy_losses), lr=0.1)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf"), "0.1", True])
def test_bad_learning_rate(lr):
    with pytest.raises(eq.SolverError, match="lr for player 'x' must be a finite number > 0"):
        eq.make_solver("simgd", eq.Game(params(), xy_losses), lr=lr)


def test_per_player_lr_must_name_every_player():
    with pytest.raises(eq.SolverError, match=r"missing \['y'\], unknown \['z'\]"):
        eq.make_solver("simgd", eq.Game(params(), xy_losses), lr={"x": 0.1, "z": 0.1})


def test_options_a_solver_does_not_take():
    with pytest.raises(eq.SolverError, match=r"solver 'simgd' does not take option\(s\) \['gamma'\]; its options: none"):
        eq.make_solver("simgd", eq.Game(params(), xy_losses), lr=0.1, gamma=1.0)
    with pytest.raises(eq.SolverError, match=r"does not take option\(s\) \['lam'\]; its options: \['gamma'\]"):
        eq.make_solver("consensus", eq.Game(params(), xy_losses), lr=0.1, lam=1.0)


@pytest.mark.parametrize("name,options,match", [
    ("consensus", {"gamma": -1.0}, "gamma must be a number >= 0"),
    ("sga", {"align": "yes"}, "align must be True or False"),
    ("altgd", {"steps": {"x": 0, "y": 1}}, "steps for player 'x' must be an integer >= 1"),
    ("altgd", {"steps": {"x": 1}}, r"missing \['y'\]"),
    ("unrolled", {"unroll_steps": -1}, "unroll_steps must be an integer >= 0"),
    ("unrolled", {"unroll_lr": 0.0}, "unroll_lr for player 'x' must be a number > 0"),
    ("cgd", {"tol": 0}, "tol must be a number > 0"),
    ("cgd", {"max_iter": 0}, "max_iter must be an integer >= 1"),
    ("lola", {"alpha": -0.1}, "alpha for player 'x' must be a number >= 0"),
])
def test_bad_solver_options(name, options, match):
    with pytest.raises(eq.SolverError, match=match):
        eq.make_solver(name, eq.Game(params(), xy_losses), lr=0.1, **options)


def test_cgd_needs_two_players():
    with pytest.raises(eq.SolverError, match="cgd takes a two-player game, this one has 3 players"):
        eq.make_solver("cgd", eq.games.cyclic(3), lr=0.1)


@pytest.mark.parametrize("optimizer,options,match", [
    ("adamax2", None, r"unknown optimizer 'adamax2'; known: \['adagrad', 'adam'"),
    (int, None, "optimizer must be None, one of"),
    ("sgd", {"momentum": 1.5}, r"momentum must be in \(-1, 1\)"),
    ("adam", {"nesterov": True}, "optimizer Adam rejected optimizer_options"),
])
def test_bad_optimizer(optimizer, options, match):
    with pytest.raises(eq.SolverError, match=match):
        eq.make_solver("simgd", eq.Game(params(), xy_losses), lr=0.1, optimizer=optimizer,
                       optimizer_options=options)


# ---- non-finite values -------------------------------------------------------
def nan_when_x_below(threshold):
    def losses(p):
        v = (p["x"] * p["y"]).sum()
        bad = torch.where(p["x"] < threshold, torch.tensor(float("nan")), torch.tensor(0.0)).sum()
        return {"x": v + bad, "y": -v}
    return losses


# acgd takes only the SGD base (its steps are adaptive already; see test_solvers_acgd.py)
@pytest.mark.parametrize("name,optimizer", [(n, o) for o in ["sgd", "adam"] for n in sorted(eq.SOLVERS)
                                            if n != "acgd" or o == "sgd"])
def test_nan_raises_naming_player_and_step_and_restores_everything(name, optimizer):
    """x starts at 1; the second step's look-ahead or update reaches x < threshold."""
    game = eq.Game({"x": torch.tensor([1.0]), "y": torch.tensor([1.0])}, nan_when_x_below(0.5))
    solver = eq.make_solver(name, game, lr=0.6 if optimizer == "sgd" else 0.7, optimizer=optimizer)
    saw = None
    for _ in range(20):
        before = [t.clone() for t in game.parameters()]
        state = {p: {k: {n: (v.clone() if torch.is_tensor(v) else v) for n, v in s.items()}
                     for k, s in opt.state.items()} for p, opt in solver.optimizers.items()}
        steps = solver.steps
        try:
            solver.step()
        except eq.NonFiniteError as e:
            saw = e
            break
    assert saw is not None, "the game was built to produce NaN within a few steps"
    assert saw.player == "x" and saw.step == steps
    assert f"player 'x' at step {steps}" in str(saw)
    assert all(torch.equal(a, b) for a, b in zip(game.parameters(), before))
    assert solver.steps == steps
    for p, opt in solver.optimizers.items():
        assert set(opt.state) == set(state[p])
        for k, s in opt.state.items():
            for n, v in s.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(state[p][k][n]))
