"""The divergence policy: a step that meets a NaN is raised, skipped, or rolled back with lower rates.

The game: two decoupled players with L_a = a^2 / 2 and L_b = b^2 / 2, so simgd multiplies each
coordinate by (1 - eta) per step (a closed form), and a switch that makes the losses NaN during
chosen steps.
"""

import math

import pytest
import torch

import equilib as eq


def bomb_game():
    switch = {"on": False}

    def losses(p):
        scale = math.nan if switch["on"] else 1.0
        return {"a": 0.5 * scale * (p["a"] ** 2).sum(), "b": 0.5 * (p["b"] ** 2).sum()}

    game = eq.Game({"a": torch.tensor([1.0, -2.0], dtype=torch.float64),
                    "b": torch.tensor([3.0], dtype=torch.float64)}, losses)
    return game, switch


def run(solver, switch, steps, bad):
    for t in range(steps):
        switch["on"] = t in bad
        solver.step()
    switch["on"] = False
    return torch.cat([t.detach() for t in solver.game.parameters()])


START = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)


def test_raise_is_the_default_and_leaves_parameters_alone():
    game, switch = bomb_game()
    solver = eq.make_solver("simgd", game, lr=0.1)
    run(solver, switch, 3, bad=())
    with pytest.raises(eq.NonFiniteError, match=r"non-finite loss .* player 'a' at step 3"):
        run(solver, switch, 1, bad=(0,))
    torch.testing.assert_close(torch.cat(game.parameters()), START * 0.9 ** 3, rtol=1e-15, atol=0)


def test_skip_drops_the_step_counts_and_warns():
    game, switch = bomb_game()
    solver = eq.make_solver("simgd", game, lr=0.1, on_nonfinite="skip")
    with pytest.warns(eq.NonFiniteWarning, match=r"player 'a' at step 4: step skipped"):
        final = run(solver, switch, 10, bad=(4,))
    torch.testing.assert_close(final, START * 0.9 ** 9, rtol=1e-14, atol=0)  # 9 of 10 steps taken
    assert [(e["step"], e["action"]) for e in solver.nonfinite.events] == [(4, "skip")]
    assert dict(solver.lr) == {"a": 0.1, "b": 0.1} and solver.steps == 10


def test_rollback_scales_the_rates_each_time():
    game, switch = bomb_game()
    solver = eq.make_solver("simgd", game, lr=0.1, on_nonfinite=eq.NonFinitePolicy("rollback", factor=0.5))
    with pytest.warns(eq.NonFiniteWarning) as caught:
        final = run(solver, switch, 10, bad=(4, 6))
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        "non-finite loss for player 'a' at step 4: step rolled back; learning rates now {'a': 0.05, 'b': 0.05}",
        "non-finite loss for player 'a' at step 6: step rolled back; learning rates now {'a': 0.025, 'b': 0.025}"]
    # steps 0-3 at 0.1, step 4 dropped, step 5 at 0.05, step 6 dropped, steps 7-9 at 0.025
    torch.testing.assert_close(final, START * 0.9 ** 4 * 0.95 * 0.975 ** 3, rtol=1e-14, atol=0)
    assert [e["lr"]["a"] for e in solver.nonfinite.events] == [0.05, 0.025]


def test_rollbacks_are_bounded_and_remembered_across_a_resume():
    game, switch = bomb_game()
    policy = eq.NonFinitePolicy("rollback", factor=0.5, max_rollbacks=2)
    solver = eq.make_solver("simgd", game, lr=0.1, on_nonfinite=policy)
    with pytest.warns(eq.NonFiniteWarning):
        run(solver, switch, 4, bad=(1, 2))
    resumed = eq.make_solver("simgd", game, lr=0.1, on_nonfinite=policy)
    resumed.load_state_dict(solver.state_dict())
    assert resumed.nonfinite.rollbacks == 2 and dict(resumed.lr) == {"a": 0.025, "b": 0.025}
    before = torch.cat([t.clone() for t in game.parameters()])
    with pytest.raises(eq.NonFiniteError, match=r"after 2 rollbacks, the most allowed by max_rollbacks"):
        run(resumed, switch, 1, bad=(0,))
    assert torch.equal(torch.cat(game.parameters()), before)


@pytest.mark.filterwarnings("ignore::equilib.NonFiniteWarning")
@pytest.mark.parametrize("name", sorted(eq.SOLVERS))
def test_every_solver_skips_exactly_one_step(name):
    """A dropped step leaves no trace: the run equals a run of one step fewer."""
    game, switch = bomb_game()
    skipped = run(eq.make_solver(name, game, lr=0.1, on_nonfinite="skip"), switch, 6, bad=(2,))
    clean_game, clean_switch = bomb_game()
    clean = run(eq.make_solver(name, clean_game, lr=0.1), clean_switch, 5, bad=())
    torch.testing.assert_close(skipped, clean, rtol=1e-14, atol=1e-14)
    assert not torch.equal(clean, START)


@pytest.mark.parametrize("spec,message", [
    ("ignore", r"on_nonfinite must be one of \['raise', 'skip', 'rollback'\]"),
    (None, r"on_nonfinite must be one of"),
])
def test_bad_policy_refused(spec, message):
    with pytest.raises(eq.SolverError, match=message):
        eq.make_solver("simgd", eq.games.xy(), lr=0.1, on_nonfinite=spec)


@pytest.mark.parametrize("kwargs,message", [
    ({"factor": 1.0}, r"rollback factor must be a number in \(0, 1\), got 1.0"),
    ({"factor": "half"}, r"rollback factor must be a number in \(0, 1\), got 'half'"),
    ({"max_rollbacks": 0}, r"max_rollbacks must be an integer >= 1, got 0"),
])
def test_bad_rollback_settings_refused(kwargs, message):
    with pytest.raises(eq.SolverError, match=message):
        eq.NonFinitePolicy("rollback", **kwargs)
