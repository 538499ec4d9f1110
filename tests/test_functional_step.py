"""The functional copies of the base optimizers take exactly torch.optim's steps, and are differentiable."""

import pytest
import torch

import equilib as eq
from equilib.functional_step import FunctionalStep

CASES = [
    (eq.SGD, {"momentum": 0.0}), (eq.SGD, {"momentum": -0.5}),
    (torch.optim.SGD, {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    (torch.optim.Adam, {"betas": (0.5, 0.999)}), (torch.optim.Adam, {"weight_decay": 0.1}),
    (torch.optim.AdamW, {"weight_decay": 0.1}),
    (torch.optim.RMSprop, {}), (torch.optim.RMSprop, {"momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    (torch.optim.Adagrad, {"lr_decay": 0.1, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("cls,options", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_same_steps_as_the_optimizer(cls, options):
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    directions = [[torch.randn(t.shape, generator=g, dtype=torch.float64) for t in start] for _ in range(4)]
    live = [torch.nn.Parameter(t.clone()) for t in start]
    opt = cls(live, lr=0.05, **options)
    step = FunctionalStep.of(opt)
    params, state = [t.clone() for t in start], step.state_of(opt, live)
    for k, ds in enumerate(directions):
        for p, d in zip(live, ds):
            p.grad = d.clone()
        opt.step()
        moves, state = step.update(params, ds, state)
        params = [p + m for p, m in zip(params, moves)]
        for p, q in zip(params, live):
            torch.testing.assert_close(p, q.detach(), rtol=1e-12, atol=1e-14)
        if k == 1:  # a copy started from the optimizer's state mid-run goes on the same way
            state = step.state_of(opt, live)
            params = [q.detach().clone() for q in live]


def test_differentiable_through_several_adam_steps():
    """gradcheck: d/dtheta of a loss after 3 functional Adam steps on theta, against finite differences."""
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))], lr=0.1, betas=(0.5, 0.9))
    step = FunctionalStep.of(opt)
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def unrolled(theta):
        params, state = [theta], [{}]
        for _ in range(3):
            d = [2 * (params[0] - target) * params[0].sin()]
            moves, state = step.update(params, d, state)
            params = [params[0] + moves[0]]
        return (params[0] ** 2).sum()

    theta = torch.tensor([0.3, 0.7, -1.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(unrolled, (theta,))


def test_zero_direction_has_a_finite_derivative():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], lr=0.1)
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    moves, _ = FunctionalStep.of(opt).update([theta], [theta * 0.0], [{}])
    (grad,) = torch.autograd.grad(moves[0].sum(), theta)
    assert torch.isfinite(grad).all()


def test_unsupported_optimizer_refused():
    opt = torch.optim.Adamax([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(eq.SolverError, match=r"no functional copy of Adamax; known: equilib's SGD"):
        FunctionalStep.of(opt)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1, amsgrad=True)
    with pytest.raises(eq.SolverError, match="does not support maximize or amsgrad"):
        FunctionalStep.of(opt)


@pytest.mark.parametrize("cls,options", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_jacobian_diagonals_are_the_whole_jacobian(cls, options):
    """The rules are coordinate-wise: the diagonals from forward mode are the full Jacobian of
    (theta, d, slots) -> (move, slots') taken by reverse mode (torch.func.jacrev), and nothing is off the diagonal."""
    g = torch.Generator().manual_seed(1)
    live = [torch.nn.Parameter(torch.randn(5, generator=g, dtype=torch.float64))]
    opt = cls(live, lr=0.05, **options)
    for _ in range(2):  # a state with every slot filled
        live[0].grad = torch.randn(5, generator=g, dtype=torch.float64)
        opt.step()
    rule = FunctionalStep.of(opt)
    state = rule.state_of(opt, live)[0]
    slots = rule.slots
    assert set(slots) <= set(state)
    step = {k: v for k, v in state.items() if k not in slots}
    p, d = live[0].detach().clone(), torch.randn(5, generator=g, dtype=torch.float64)

    def one_step(p, d, *values):
        moves, states = rule.update([p], [d], [{**step, **dict(zip(slots, values))}])
        return torch.stack([moves[0]] + [states[0][k] for k in slots])

    full = torch.func.jacrev(one_step, argnums=tuple(range(2 + len(slots))))(p, d, *[state[k] for k in slots])
    diagonals = rule.jacobian_diagonals(p, d, state)
    assert diagonals.shape == (1 + len(slots), 2 + len(slots), 5)
    for i, block in enumerate(full):  # block: (outputs, 5, 5) for input i
        for o in range(1 + len(slots)):
            torch.testing.assert_close(block[o], torch.diag(diagonals[o, i]), rtol=1e-12, atol=1e-15)


def test_slots_and_linearity():
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert FunctionalStep.of(eq.SGD(p, lr=0.1)).slots == () and FunctionalStep.of(eq.SGD(p, lr=0.1)).linear
    assert FunctionalStep.of(eq.SGD(p, lr=0.1, momentum=0.3)).slots == ("momentum_buffer",)
    adam = FunctionalStep.of(torch.optim.Adam(p, lr=0.1))
    assert adam.slots == ("exp_avg", "exp_avg_sq") and not adam.linear
    rms = FunctionalStep.of(torch.optim.RMSprop(p, lr=0.1, centered=True, momentum=0.2))
    assert rms.slots == ("square_avg", "grad_avg", "momentum_buffer")
