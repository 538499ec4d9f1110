"""The learning rate has one home, the base optimizers' param groups: a torch LR scheduler,
a loaded state_dict or an assignment to ``solver.lr`` changes the rate every solver computes
with, so the solver steps exactly like a fresh one built with the new rate.

The comparison is against an independently built solver, never the same object's earlier output.
"""

import math

import pytest
import torch

import equilib as eq

# options that default to the learning rate (lola/sos alpha, unrolled unroll_lr) are left
# out on purpose: they must follow the current rate too
OPTIONS = {
    "simgd": {}, "altgd": {}, "extragradient": {}, "optimistic": {}, "consensus": {"gamma": 0.5},
    "unrolled": {"unroll_steps": 2}, "sga": {"lam": 0.5}, "cgd": {"tol": 1e-12},
    "acgd": {"tol": 1e-12, "atol": 0.0}, "hamiltonian": {}, "lola": {}, "sos": {},
}
GAMES = {
    "zero-sum": lambda: eq.games.monotone_quadratic(3, 2, seed=1),
    "general-sum": lambda: eq.games.random_quadratic((2, 3), seed=2),
}
BASES = [(None, None), ("adam", {"betas": (0.5, 0.9)})]


def test_table_covers_every_solver():
    assert set(OPTIONS) >= set(eq.SOLVERS)


def run(solver, steps=3):
    for _ in range(steps):
        solver.step()
    return torch.cat([t.detach().reshape(-1) for t in solver.game.parameters()])


def build(name, game_name, lr, base):
    optimizer, options = base
    game = GAMES[game_name]()
    return eq.make_solver(name, game, lr=lr, optimizer=optimizer, optimizer_options=options,
                          **OPTIONS[name])


# the scheduler is stepped before the first solver step (so the fresh solver has the same state);
# torch warns about that order, which is intended here
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("game_name", sorted(GAMES))
@pytest.mark.parametrize("name,base", [pytest.param(n, b, id=f"{n}-{i}") for i, b in zip(["sgd", "adam"], BASES)
                                       for n in sorted(OPTIONS) if n != "acgd" or b[0] is None])  # acgd: SGD only
def test_scheduler_lowered_rate_steps_like_a_fresh_solver(name, game_name, base):
    fresh = run(build(name, game_name, {"p0": 0.05, "p1": 0.2} if game_name == "general-sum"
                      else {"x": 0.05, "y": 0.2}, base))
    solver = build(name, game_name, 0.2, base)
    first = solver.game.players[0]
    # a scheduler on the first player's optimizer only: that player's rate alone changes
    sched = torch.optim.lr_scheduler.StepLR(solver.optimizers[first], step_size=1, gamma=0.25)
    sched.step()
    assert solver.lr[first] == pytest.approx(0.05) and solver.lr[solver.game.players[1]] == 0.2
    torch.testing.assert_close(run(solver), fresh, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("game_name", sorted(GAMES))
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_reloaded_rate_steps_like_a_fresh_solver(name, game_name):
    fresh = run(build(name, game_name, 0.05, BASES[0]))
    saved = build(name, game_name, 0.05, BASES[0]).state_dict()
    solver = build(name, game_name, 0.2, BASES[0])
    solver.load_state_dict(saved)
    assert dict(solver.lr) == {p: 0.05 for p in solver.game.players}
    torch.testing.assert_close(run(solver), fresh, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_assigned_rate_steps_like_a_fresh_solver(name):
    fresh = run(build(name, "general-sum", 0.05, BASES[0]))
    solver = build(name, "general-sum", 0.2, BASES[0])
    solver.lr = 0.05
    torch.testing.assert_close(run(solver), fresh, rtol=1e-12, atol=1e-12)
    solver.lr["p1"] = 0.1
    assert solver.optimizers["p1"].param_groups[0]["lr"] == 0.1 and solver.lr["p0"] == 0.05


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "0.1", True])
def test_bad_rate_refused_before_anything_changes(bad):
    solver = build("simgd", "general-sum", 0.2, BASES[0])
    with pytest.raises(eq.SolverError, match=r"lr for player 'p0' must be a finite number > 0"):
        solver.lr = bad
    with pytest.raises(eq.SolverError, match=r"lr for player 'p0' must be a finite number > 0"):
        solver.lr["p0"] = bad
    assert dict(solver.lr) == {"p0": 0.2, "p1": 0.2}


def test_rate_of_unknown_player_refused():
    solver = build("simgd", "general-sum", 0.2, BASES[0])
    with pytest.raises(eq.SolverError, match=r"unknown player 'q'.*\['p0', 'p1'\]"):
        solver.lr["q"] = 0.1
    with pytest.raises(eq.SolverError, match=r"must name every player"):
        solver.lr = {"p0": 0.1}
    assert dict(solver.lr) == {"p0": 0.2, "p1": 0.2}


def test_state_with_other_options_refused():
    game = eq.games.xy()
    saved = eq.make_solver("consensus", game, lr=0.1, gamma=1.0).state_dict()
    solver = eq.make_solver("consensus", eq.games.xy(), lr=0.1, gamma=10.0)
    with pytest.raises(eq.SolverError, match=r"other options \(gamma: saved 1.0, this solver 10.0\)"):
        solver.load_state_dict(saved)
