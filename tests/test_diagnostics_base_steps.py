"""Update maps through the base step: every solver's map, with the base step linearised by differentiating
the functional base step, against central finite differences of the solver's real step (torch.optim's
Adam, AdamW, RMSprop, Adagrad, SGD with nesterov and weight decay), and the refusals."""

from __future__ import annotations

import copy

import pytest
import torch

import equilib as eq
from equilib import diagnostics as dg
from equilib.functional_step import FunctionalStep


def _slots(solver):
    out = []
    for opt in solver.optimizers.values():
        out += [s for s in FunctionalStep.of(opt).slots if s not in out]
    return out


def _state(solver, slots):
    """(theta, slot_1, ...) flat, read from the parameters and the optimizers' own state."""
    game = solver.game
    parts = [torch.cat([t.detach().reshape(-1) for t in game.parameters()])]
    for s in slots:
        parts.append(torch.cat([solver.optimizers[p].state[t][s].reshape(-1)
                                for p in game.players for t in game.parameters(p)]))
    return torch.cat(parts)


def _set_state(solver, flat, slots):
    game = solver.game
    tensors = list(game.parameters())
    for s in slots:
        tensors += [solver.optimizers[p].state[t][s] for p in game.players for t in game.parameters(p)]
    with torch.no_grad():
        k = 0
        for t in tensors:
            t.copy_(flat[k:k + t.numel()].reshape(t.shape))
            k += t.numel()


def _finite_differences(solver, rel=1e-6):
    """Central differences, each entry's step relative to its size (Adam's v is small: 1 / sqrt(v) is
    steep there, and an absolute step would see its curvature)."""
    slots = _slots(solver)
    start = _state(solver, slots)
    columns = []
    for i in range(start.numel()):
        h = rel * max(abs(float(start[i])), 1e-2)
        ends = []
        for sign in (1.0, -1.0):
            twin = copy.deepcopy(solver)
            moved = start.clone()
            moved[i] += sign * h
            _set_state(twin, moved, slots)
            twin.step()
            ends.append(_state(twin, slots))
        columns.append((ends[0] - ends[1]) / (2 * h))
    return torch.stack(columns, 1)


BASES = [("adam", {"betas": (0.5, 0.9)}), ("adamw", {"weight_decay": 0.1}),
         ("rmsprop", {"momentum": 0.3, "centered": True, "weight_decay": 0.01}), ("adagrad", {"lr_decay": 0.1}),
         (torch.optim.SGD, {"momentum": 0.5, "nesterov": True, "weight_decay": 0.05})]
SOLVERS = [("simgd", {}), ("consensus", {"gamma": 0.5}), ("sga", {"align": False}), ("hamiltonian", {}),
           ("cgd", {"tol": 1e-13}), ("lola", {}), ("unrolled", {"unroll_steps": 2, "unroll_optimizer": "sgd"})]


@pytest.mark.parametrize("optimizer,options", BASES, ids=lambda c: getattr(c, "__name__", str(c)))
@pytest.mark.parametrize("name,solver_options", SOLVERS, ids=str)
def test_adaptive_map_is_the_jacobian_of_the_real_step(optimizer, options, name, solver_options):
    """On a quadratic game the direction is affine in theta, so the only curvature is the base step's:
    the map at the current state equals central differences of one real step (torch.optim) to 1e-6."""
    game = eq.games.random_quadratic(sizes=(2, 2), mu=0.5, seed=3)
    solver = eq.make_solver(name, game, lr=0.05, optimizer=optimizer, optimizer_options=options, **solver_options)
    for _ in range(3):  # every state slot filled, Adam's v away from 0
        solver.step()
    M = dg.update_map(solver, adaptive=True)
    fd = _finite_differences(solver)
    assert M.shape == fd.shape == (4 * (1 + len(_slots(solver))),) * 2
    torch.testing.assert_close(M, fd, rtol=1e-6, atol=1e-7)
    rho = dg.spectral_radius(solver, adaptive=True)
    assert rho == pytest.approx(float(torch.linalg.eigvals(fd).abs().max()), abs=1e-6)
    free = dg.spectral_radius(solver, adaptive=True, dense=False)
    assert free == pytest.approx(rho, abs=1e-8)


def test_adaptive_map_matches_closed_form_of_adam_at_an_equilibrium():
    """simgd with Adam at the equilibrium of x*y (xi = 0, so d = 0): m' = b1 m, v' = b2 v,
    theta' = theta - eta (b1 m / (1 - b1^t)) / (sqrt(b2 v / (1 - b2^t)) + eps) with t the next step,
    whose Jacobian is written here by hand."""
    game = eq.games.xy(x=0.0, y=0.0, dtype=torch.float64)
    b1, b2, eps, eta = 0.5, 0.9, 1e-8, 0.1
    solver = eq.make_solver("simgd", game, lr=eta, optimizer="adam", optimizer_options={"betas": (b1, b2)})
    m, v, t = torch.tensor([0.2, -0.1], dtype=torch.float64), torch.tensor([0.04, 0.09], dtype=torch.float64), 4
    for k, (p, tensor) in enumerate(zip(game.players, game.parameters())):
        solver.optimizers[p].state[tensor] = {"step": torch.tensor(float(t - 1)), "exp_avg": m[k:k + 1].clone(),
                                              "exp_avg_sq": v[k:k + 1].clone()}
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    s = (b2 * v / c2).sqrt()
    # d = xi = J theta (J = [[0, 1], [-1, 0]]); at d = 0: dmove/dd = -eta (1 - b1) / c1 / (s + eps)
    du_dd = -eta * (1 - b1) / c1 / (s + eps)
    du_dm = -eta * b1 / c1 / (s + eps)
    du_dv = eta * (b1 * m / c1) / (s + eps) ** 2 * (b2 / c2) / (2 * s)
    J = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    I2 = torch.eye(2, dtype=torch.float64)
    expected = torch.zeros(6, 6, dtype=torch.float64)
    expected[:2, :2] = I2 + torch.diag(du_dd) @ J
    expected[:2, 2:4] = torch.diag(du_dm)
    expected[:2, 4:] = torch.diag(du_dv)
    expected[2:4, :2] = (1 - b1) * J
    expected[2:4, 2:4] = b1 * I2
    expected[4:, 4:] = b2 * I2  # dv'/dd = 2 (1 - b2) d = 0 at d = 0
    torch.testing.assert_close(dg.update_map(solver, adaptive=True), expected, rtol=1e-12, atol=1e-12)


def test_heavy_ball_map_is_derived_for_torch_sgd_too():
    """torch.optim.SGD is linear, so no adaptive flag is needed: [[I - D J, -D beta], [J, beta]] for simgd."""
    game = eq.games.random_quadratic(sizes=(2, 3), mu=0.5, seed=1)
    solver = eq.make_solver("simgd", game, lr=0.07, optimizer=torch.optim.SGD, optimizer_options={"momentum": 0.6})
    J = dg.jacobian(game).double()
    I = torch.eye(5, dtype=torch.float64)
    expected = torch.cat([torch.cat([I - 0.07 * J, -0.07 * 0.6 * I], 1), torch.cat([J, 0.6 * I], 1)], 0)
    torch.testing.assert_close(dg.update_map(solver), expected, rtol=1e-12, atol=1e-12)


def test_solvers_refuse_what_they_cannot_linearise():
    game = eq.games.random_quadratic(sizes=(2, 2), seed=3)
    for name in ("altgd", "extragradient", "optimistic"):
        solver = eq.make_solver(name, game, lr=0.1, optimizer="adam")
        with pytest.raises(dg.DiagnosticsError, match=f"player 'p0' of solver '{name}' uses base optimizer Adam"):
            dg.spectral_radius(solver, adaptive=True)
    unrolled = eq.make_solver("unrolled", game, lr=0.1, optimizer="adam")
    with pytest.raises(dg.DiagnosticsError, match="copy an adaptive or decaying base step .*unroll_optimizer='sgd'"):
        dg.spectral_radius(unrolled, adaptive=True)

    class Plain(torch.optim.SGD):
        pass

    class Custom(torch.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        def step(self, closure=None):
            pass

    with pytest.raises(dg.DiagnosticsError, match="player 'p0' of solver 'simgd' uses base optimizer Custom, which "
                                                  "has no functional copy"):
        dg.update_map(eq.make_solver("simgd", game, lr=0.1, optimizer=Custom))
    assert dg.spectral_radius(eq.make_solver("simgd", game, lr=0.1, optimizer=Plain)) == pytest.approx(
        dg.spectral_radius(eq.make_solver("simgd", game, lr=0.1)), abs=1e-14)


@pytest.mark.parametrize("name", ["simgd", "consensus", "hamiltonian", "sga", "cgd", "unrolled", "lola", "sos"])
def test_direction_is_what_the_base_step_moves_with(name):
    """solver.direction() leaves the point as it is, and plain SGD then moves by exactly -eta d."""
    game = eq.games.random_quadratic(sizes=(2, 3), mu=0.5, seed=2)
    solver = eq.make_solver(name, game, lr=0.05)
    before = [t.detach().clone() for t in game.parameters()]
    d = solver.direction()
    assert all(torch.equal(a, b) for a, b in zip(before, game.parameters()))
    solver.step()
    for a, b, g in zip(before, game.parameters(), d):
        torch.testing.assert_close(b.detach(), a - 0.05 * g, rtol=1e-12, atol=1e-14)


def test_multistage_solvers_have_no_single_direction():
    game = eq.games.random_quadratic(sizes=(2, 2), seed=3)
    with pytest.raises(eq.SolverError, match="'extragradient' moves more than once per step"):
        eq.make_solver("extragradient", game, lr=0.1).direction()
