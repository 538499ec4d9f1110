"""Unrolled through the opponent's real optimizer (Metz et al. 2017): the generator's direction is the
derivative of its loss after k inner steps of the discriminator's own Adam, started from its state.

Checked against central finite differences of an independent implementation of that function
(Adam written out here, not the library's functional copy), and against today's plain-step rule
where the two must agree (plain SGD base).
"""

import math

import pytest
import torch

import equilib as eq

K, LR, BETAS, EPS = 3, 0.05, (0.5, 0.9), 1e-8


def losses(p):
    x, y = p["G"], p["D"]
    lg = (x.sin() * y[:2]).sum() + y[2] * x[0] ** 2 + 0.1 * (x ** 2).sum()
    ld = ((y[:2] - x.cos()) ** 2).sum() + (y[2] - x[1]) ** 2 * 0.5 + y.prod() * 0.3
    return {"G": lg, "D": ld}


def make_game():
    return eq.Game({"G": torch.tensor([0.3, -0.6], dtype=torch.float64),
                    "D": torch.tensor([0.2, 0.5, -0.4], dtype=torch.float64)}, losses)


def reference_direction(x, y, state):
    """d/dx L_G(x, y_K(x)), y_{j+1} = y_j + Adam move for grad_y L_D(x, y_j), by central differences."""

    def objective(xv):
        yv, m, v, t = y.clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone(), float(state["step"])
        for _ in range(K):
            yy = yv.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(losses({"G": xv, "D": yy})["D"], yy)
            t += 1
            m = BETAS[0] * m + (1 - BETAS[0]) * g
            v = BETAS[1] * v + (1 - BETAS[1]) * g * g
            yv = yv - LR / (1 - BETAS[0] ** t) * m / (torch.sqrt(v / (1 - BETAS[1] ** t)) + EPS)
        return float(losses({"G": xv, "D": yv})["G"])

    h, out = 1e-6, torch.zeros_like(x)
    for i in range(len(x)):
        e = torch.zeros_like(x)
        e[i] = h
        out[i] = (objective(x + e) - objective(x - e)) / (2 * h)
    return out


def test_generator_direction_matches_finite_differences_through_adam():
    game = make_game()
    solver = eq.make_solver("unrolled", game, lr=LR, optimizer="adam", optimizer_options={"betas": BETAS},
                            unroll_steps=K)
    for _ in range(3):  # give the discriminator's Adam a state of its own
        solver.step()
    x, y = (t.detach().clone() for t in game.parameters())
    d_state = dict(solver.optimizers["D"].state[game.parameters("D")[0]])
    expected = reference_direction(x, y, d_state)
    captured = []
    solver.apply = lambda direction, **kw: captured.append([t.detach().clone() for t in direction])
    solver.step()
    torch.testing.assert_close(captured[0][0], expected, rtol=1e-6, atol=1e-8)
    # the real optimizer's state is untouched by the inner steps
    assert float(solver.optimizers["D"].state[game.parameters("D")[0]]["step"]) == float(d_state["step"])
    # and the plain-step rule gives another direction here (so the test tells them apart)
    plain = eq.make_solver("unrolled", make_game(), lr=LR, optimizer="adam", optimizer_options={"betas": BETAS},
                           unroll_steps=K, unroll_optimizer="sgd")
    plain.load_state_dict({**solver.state_dict(), "options": plain.options})
    with torch.no_grad():
        for t, v in zip(plain.game.parameters(), (x, y)):
            t.copy_(v)
    other = []
    plain.apply = lambda direction, **kw: other.append([t.detach().clone() for t in direction])
    plain.step()
    assert not torch.allclose(other[0][0], expected, rtol=1e-3)


def test_plain_sgd_base_both_rules_agree_exactly():
    runs = []
    for rule in ("same", "sgd"):
        game = make_game()
        solver = eq.make_solver("unrolled", game, lr=0.1, unroll_steps=4, unroll_optimizer=rule)
        for _ in range(5):
            solver.step()
        runs.append(torch.cat(game.parameters()))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], torch.cat(make_game().parameters()))


def test_momentum_base_rules_differ_and_same_uses_the_buffer():
    """With heavy-ball momentum the copied inner steps carry the buffer, the plain ones do not."""
    ends = {}
    for rule in ("same", "sgd"):
        game = make_game()
        solver = eq.make_solver("unrolled", game, lr=0.1, optimizer_options={"momentum": 0.9}, unroll_steps=3,
                                unroll_optimizer=rule)
        for _ in range(4):
            solver.step()
        ends[rule] = torch.cat(game.parameters())
    assert not torch.allclose(ends["same"], ends["sgd"])
    assert all(math.isfinite(float(v)) for v in ends["same"])


def test_bad_unroll_optimizer_refused():
    with pytest.raises(eq.SolverError, match=r"unroll_optimizer must be 'same' or 'sgd', got 'adam'"):
        eq.make_solver("unrolled", make_game(), lr=0.1, unroll_optimizer="adam")
    with pytest.raises(eq.SolverError, match=r"no functional copy of Adamax"):
        eq.make_solver("unrolled", make_game(), lr=0.1, optimizer=torch.optim.Adamax)
