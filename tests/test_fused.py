"""Fused base steps (torch.optim's ``fused=True``): the same update as torch's plain per-tensor loop to
float32 rounding, for one step and through every solver; ``gan train`` uses them by default.

Tolerance of one step: both implementations evaluate the same formula in float32, in another order
(the fused kernel keeps intermediates in registers and may use fused multiply-adds). Each of the few
operations of the move (Adam: two moving averages, a square root, a division, bias corrections) adds
at most half an ulp of relative error, so the moves differ by a few ulps of |move|, and the final
theta + move rounds once more, half an ulp of |theta|. The bound used, 2 eps |theta| + 16 eps |move|
with eps = 2^-23, is that with room to spare; a wrong rule (a missed bias correction, a wrong beta)
is off by a fraction of |move|, thousands of times more.
"""

import copy

import pytest
import torch

import equilib as eq
import gan
from equilib.errors import SolverError
from equilib.optim import fast_options
from gan.building import build
from gan.config import TrainConfig

EPS = torch.finfo(torch.float32).eps

RULES = [
    (torch.optim.Adam, {"lr": 1e-2, "betas": (0.5, 0.999)}),
    (torch.optim.Adam, {"lr": 1e-2, "weight_decay": 0.1}),
    (torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
    (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
    (torch.optim.Adagrad, {"lr": 1e-2, "lr_decay": 0.01}),
]


def _tensors(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g) for shape in ((7, 5), (5,), (3, 4, 4), (1,))]


@pytest.mark.parametrize("cls, hyper", RULES, ids=lambda x: getattr(x, "__name__", ""))
def test_one_fused_step_is_torch_plain_step_to_float32_rounding(cls, hyper):
    plain = [t.clone().requires_grad_(True) for t in _tensors(0)]
    ref = cls(plain, foreach=False, **hyper)
    for k in range(3):  # a non-trivial state (moving averages, step count) to start from
        for t, g in zip(plain, _tensors(10 + k)):
            t.grad = g
        ref.step()
    fused_params = [t.detach().clone().requires_grad_(True) for t in plain]
    fused = cls(fused_params, **fast_options(cls, fused_params), **hyper)
    assert fused.param_groups[0]["fused"] is True
    fused.load_state_dict(copy.deepcopy(ref.state_dict()))  # a copy: torch shares the state's tensors
    fused.param_groups[0]["fused"] = True  # load_state_dict takes the saved group's flag
    fused.param_groups[0]["foreach"] = None
    before = [t.detach().clone() for t in plain]
    grads = _tensors(99)
    for a, b, g in zip(plain, fused_params, grads):
        a.grad, b.grad = g.clone(), g.clone()
    ref.step()
    fused.step()
    for a, b, t0 in zip(plain, fused_params, before):
        a, b = a.detach(), b.detach()
        move = (a - t0).abs()
        assert move.max() > 1e-4  # the step moved
        bound = 2 * EPS * t0.abs() + 16 * EPS * move + 1e-30
        assert ((a - b).abs() <= bound).all(), float(((a - b).abs() / bound).max())


def test_fast_options_pick_fused_only_where_torch_has_it():
    params = [torch.zeros(3, requires_grad=True)]
    assert fast_options("adam", params) == {"fused": True}
    assert fast_options("adamw", params) == {"fused": True}
    assert fast_options(torch.optim.SGD, params) == {"fused": True}
    assert fast_options(None, params) == {}  # equilib's SGD: foreach already
    assert fast_options("sgd", params) == {}
    assert fast_options("rmsprop", params) == {}  # no fused RMSprop, no foreach kernels on CPU
    with pytest.raises(SolverError, match="unknown optimizer"):
        fast_options("lbfgs", params)


def _game(seed=0):
    torch.manual_seed(seed)
    G, D = gan.build_models("mlp", (2,), 4, hidden=16, depth=2)
    return gan.GANGame(G, D)


def _run(name, options, steps=4):
    game = _game()
    base = dict(optimizer=None, optimizer_options={"momentum": 0.5}) if name == "acgd" else \
        dict(optimizer="adam", optimizer_options={"betas": (0.5, 0.999), **options})
    solver = eq.make_solver(name, game, lr=1e-3, **base)
    data, noise = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    for _ in range(steps):
        solver.step(torch.randn(32, 2, generator=data), game.latent(32, noise))
    return solver, game


@pytest.mark.parametrize("name", [n for n in eq.SOLVERS if n != "acgd"])  # acgd takes the SGD base only
def test_every_solver_with_a_fused_adam_base_takes_the_plain_steps(name):
    plain, game_a = _run(name, {"foreach": False})
    fused, game_b = _run(name, {"fused": True})
    assert all(g["fused"] for opt in fused.optimizers.values() for g in opt.param_groups)
    start = [t.detach() for t in _game().parameters()]
    for a, b, t0 in zip(game_a.parameters(), game_b.parameters(), start):
        # 4 steps of lr 1e-3: each coordinate moved about 4e-3; rounding differences grow only slowly
        # through the gradients in 4 steps, so the two runs agree to 1e-4 of the move, not more
        assert (a - t0).abs().max() > 1e-4
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    # resume: a fused solver reloaded from its state takes the same next step, bit for bit
    state = copy.deepcopy(fused.state_dict())  # as saved to disk: not sharing the live state's tensors
    again, game_c = _run(name, {"fused": True}, steps=0)
    with torch.no_grad():
        for t, v in zip(game_c.parameters(), game_b.parameters()):
            t.copy_(v)
    again.load_state_dict(state)
    args = (torch.randn(32, 2, generator=torch.Generator().manual_seed(5)),
            game_b.latent(32, torch.Generator().manual_seed(6)))
    fused.step(*args)
    again.step(*args)
    for a, b in zip(game_b.parameters(), game_c.parameters()):
        assert torch.equal(a, b)


def test_fused_is_refused_by_equilibs_sgd_with_a_clear_error():
    with pytest.raises(SolverError, match="optimizer_options"):
        eq.make_solver("simgd", _game(), lr=1e-3, optimizer="sgd", optimizer_options={"fused": True})


def _config(**kw):
    return TrainConfig(data="ring", solver="simgd", optimizer="adam", lr=1e-3, steps=2, batch_size=8, **kw).resolved()


def test_gan_train_uses_fused_adam_by_default_and_not_with_no_fused():
    on = build(_config())
    assert all(g["fused"] is True for opt in on.solver.optimizers.values() for g in opt.param_groups)
    off = build(_config(fused=False))
    assert all(not g["fused"] for opt in off.solver.optimizers.values() for g in opt.param_groups)
    sgd = build(TrainConfig(data="ring", solver="simgd", optimizer="sgd", lr=1e-3, steps=2, batch_size=8).resolved())
    assert type(sgd.solver.optimizers["G"]) is eq.SGD  # equilib's SGD: no fused variant, foreach already


def test_gan_train_fused_flag_is_checked_and_parsed():
    with pytest.raises(gan.config.ConfigError, match="fused must be True or False"):
        _config(fused="yes")
    from gan.cli import build_parser
    parser = build_parser()
    assert vars(parser.parse_args(["train", "--no-fused"]))["fused"] is False
    assert vars(parser.parse_args(["train", "--fused"]))["fused"] is True
    assert "fused" not in vars(parser.parse_args(["train"]))  # left out: the config's default (True), or a resumed run's


def test_the_one_kernel_finiteness_check_flags_nan_and_inf_and_leaves_xi_as_it_was():
    """Field.check_finite without a graph uses torch's fused mixed-precision check (multiply by 1 in place)."""
    from equilib.field import Field, _all_finite_fresh

    game = _game()
    args = (torch.randn(32, 2, generator=torch.Generator().manual_seed(1)), game.latent(32))
    field = Field(game, args)
    before = [t.clone() for t in field.xi]
    field.check_finite(0)
    assert all(torch.equal(a, b) for a, b in zip(before, field.xi))
    big = torch.full((4,), 3e38)  # finite, but its sum overflows float32: not flagged
    assert _all_finite_fresh([big.clone(), torch.zeros(3, dtype=torch.float64)])
    for bad in (float("nan"), float("inf"), -float("inf")):
        t = torch.zeros(5)
        t[3] = bad
        assert not _all_finite_fresh([torch.ones(2), t])
    assert not _all_finite_fresh([torch.ones(1).expand(4), torch.tensor([float("nan")])])  # falls back to the sums
    field.xi[len(before) - 1][0] = float("nan")  # one of D's gradients
    with pytest.raises(eq.errors.NonFiniteError, match="'D'"):
        field.check_finite(7)
