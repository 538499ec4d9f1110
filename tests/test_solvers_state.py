"""One table of solvers drives the generic checks: state_dict round trip (bit-identical resume),
dtype kept, nn.Module players, every base optimizer, BatchNorm statistics updated once per step."""

import copy
import io

import pytest
import torch
from torch import nn

import equilib as eq

# cgd's and acgd's Krylov solves are capped at 5 iterations here (the warm start is part of the state under test)
pytestmark = pytest.mark.filterwarnings("ignore::equilib.solvers.KrylovWarning")

OPTIONS = {
    "simgd": {}, "altgd": {"steps": {"G": 1, "D": 2}}, "extragradient": {}, "optimistic": {},
    "consensus": {"gamma": 0.5}, "unrolled": {"unroll_steps": 2}, "sga": {"lam": 0.5},
    "cgd": {"max_iter": 5}, "acgd": {"max_iter": 5}, "hamiltonian": {}, "lola": {"alpha": 0.05},
    "sos": {"alpha": 0.05},
}
BASES = [("sgd", None), ("sgd", {"momentum": 0.7}), ("adam", {"betas": (0.5, 0.9)}), ("rmsprop", None),
         (torch.optim.Adagrad, None)]
# acgd's steps are adaptive already: it takes only the SGD base (the refusal is tested in test_solvers_acgd.py)
CASES = [pytest.param(name, opt, opts, id=f"{name}-{opt}-{opts}") for name in sorted(OPTIONS)
         for opt, opts in BASES if name != "acgd" or opt == "sgd"]


def test_table_covers_every_solver():
    assert set(OPTIONS) == set(eq.SOLVERS)


class Net(nn.Module):
    def __init__(self, din, dout, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(din, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, dout))

    def forward(self, x):
        return self.body(x)


def gan_game(dtype=torch.float32):
    G, D = Net(2, 2, 0).to(dtype), Net(2, 1, 1).to(dtype)
    noise = torch.Generator().manual_seed(5)

    def losses(p, real):
        z = torch.randn(real.shape[0], 2, generator=noise, dtype=real.dtype)
        fake = p["G"](z)
        d_fake = p["D"](fake)
        ld = nn.functional.softplus(-p["D"](real)).mean() + nn.functional.softplus(d_fake).mean()
        return {"G": nn.functional.softplus(-d_fake).mean(), "D": ld}

    return eq.Game({"G": G, "D": D}, losses), noise


def batches(n, dtype=torch.float32):
    g = torch.Generator().manual_seed(11)
    return [torch.randn(16, 2, generator=g, dtype=dtype) * 0.5 + 1.0 for _ in range(n)]


def snapshot(game):
    return [t.detach().clone() for t in game.parameters()] + [b.clone() for b in game.buffers()]


@pytest.mark.parametrize("name,optimizer,opt_options", CASES)
def test_state_dict_round_trip_is_bit_identical(name, optimizer, opt_options):
    data = batches(8)
    game, noise = gan_game()
    solver = eq.make_solver(name, game, lr={"G": 0.01, "D": 0.02}, optimizer=optimizer,
                            optimizer_options=opt_options, **OPTIONS[name])
    for x in data[:4]:
        solver.step(x)
    buf = io.BytesIO()
    torch.save({"solver": solver.state_dict(), "G": game.params["G"].state_dict(),
                "D": game.params["D"].state_dict(), "noise": noise.get_state()}, buf)
    for x in data[4:]:
        solver.step(x)
    expected = snapshot(game)

    buf.seek(0)
    saved = torch.load(buf, weights_only=False)
    game2, noise2 = gan_game()
    game2.params["G"].load_state_dict(saved["G"])
    game2.params["D"].load_state_dict(saved["D"])
    noise2.set_state(saved["noise"])
    solver2 = eq.make_solver(name, game2, lr={"G": 0.01, "D": 0.02}, optimizer=optimizer,
                             optimizer_options=opt_options, **OPTIONS[name])
    solver2.load_state_dict(saved["solver"])
    assert solver2.steps == 4
    for x in data[4:]:
        solver2.step(x)
    got = snapshot(game2)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert not all(torch.equal(a, b) for a, b in zip(got, snapshot(gan_game()[0])))  # it did move


def test_load_state_dict_is_checked():
    game, _ = gan_game()
    sd = eq.make_solver("simgd", game, lr=0.1).state_dict()
    with pytest.raises(eq.SolverError, match="saved by solver 'simgd', this is 'extragradient'"):
        eq.make_solver("extragradient", game, lr=0.1).load_state_dict(sd)
    other = eq.games.xy()
    with pytest.raises(eq.SolverError, match=r"for players \['G', 'D'\], this game has \['x', 'y'\]"):
        eq.make_solver("simgd", other, lr=0.1).load_state_dict(sd)
    with pytest.raises(eq.SolverError, match="made by Solver.state_dict"):
        eq.make_solver("simgd", other, lr=0.1).load_state_dict({"steps": 3})


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_float64_stays_float64_and_user_grads_untouched(name):
    game, _ = gan_game(torch.float64)
    sentinel = torch.full_like(game.parameters()[0], 7.0)
    game.parameters()[0].grad = sentinel
    solver = eq.make_solver(name, game, lr=0.01, **OPTIONS[name])
    for x in batches(2, torch.float64):
        losses = solver.step(x)
    assert all(t.dtype == torch.float64 for t in game.parameters())
    assert all(v.dtype == torch.float64 and not v.requires_grad for v in losses.values())
    assert game.parameters()[0].grad is sentinel and bool((sentinel == 7.0).all())


def test_tensor_players_keep_requires_grad_flag():
    game = eq.games.xy()
    eq.make_solver("consensus", game, lr=0.1).step()
    assert not any(t.requires_grad for t in game.parameters())


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_batchnorm_statistics_updated_once_per_step(name):
    """Look-ahead, unrolled and Jacobian evaluations must not update running statistics again."""
    game, _ = gan_game()
    solver = eq.make_solver(name, game, lr=0.01, **OPTIONS[name])
    data = batches(3)
    for x in data:
        solver.step(x)
    tracked = int(game.params["D"].body[1].num_batches_tracked)
    evaluations_per_step = 2 * (1 + 2) if name == "altgd" else 2  # D sees real and fake in each forward
    assert tracked == len(data) * evaluations_per_step


def test_extragradient_running_mean_is_that_of_the_first_evaluation():
    game, noise = gan_game()
    ref_game, ref_noise = gan_game()
    x = batches(1)[0]
    eq.make_solver("extragradient", game, lr=0.01).step(x)
    ref_game.losses(x)  # one evaluation at the starting point
    g, r = game.params["G"].body[1], ref_game.params["G"].body[1]
    assert torch.equal(g.running_mean, r.running_mean) and torch.equal(g.running_var, r.running_var)


def test_deepcopy_of_state_is_independent():
    game = eq.games.xy(dtype=torch.float64)
    solver = eq.make_solver("optimistic", game, lr=0.1, optimizer="adam")
    solver.step()
    sd = copy.deepcopy(solver.state_dict())
    solver.step()
    assert sd["steps"] == 1 and solver.steps == 2
    assert not torch.equal(sd["state"]["previous"][0], solver.previous[0])


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_second_order_flag_says_whether_a_step_differentiates_through_gradients(name, monkeypatch):
    """``Solver.second_order`` (what gan train --compile reads) matches what a step does: some backward
    pass keeps its graph (create_graph=True) exactly when the flag is set."""
    kept = []
    grad = torch.autograd.grad

    def recording(*args, **kwargs):
        kept.append(bool(kwargs.get("create_graph", False)))
        return grad(*args, **kwargs)

    game, _ = gan_game()
    solver = eq.make_solver(name, game, lr=0.01, **OPTIONS[name])
    monkeypatch.setattr(torch.autograd, "grad", recording)
    solver.step(batches(1)[0])
    assert kept, "no gradient was taken"
    assert any(kept) == type(solver).second_order
