"""Field: xi, J v and J^T v against a dense Jacobian built independently with torch.func."""

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

import equilib as eq


def dense_jacobian(players, loss_of):
    """J = d xi / d theta by torch.func: xi_i = grad of L_i w.r.t. theta_i, differentiated again.

    ``players`` is [(name, [tensors])]; ``loss_of(flat_tensors) -> {name: loss}``. Independent
    of equilib: flat parameter vector -> xi vector -> jacrev.
    """
    shapes = [t.shape for _, ts in players for t in ts]
    sizes = [t.numel() for _, ts in players for t in ts]
    owner = [name for name, ts in players for _ in ts]
    flat0 = torch.cat([t.detach().reshape(-1) for _, ts in players for t in ts])

    def split(flat):
        return [part.reshape(s) for part, s in zip(torch.split(flat, sizes), shapes)]

    def xi(flat):
        out = []
        for name, _ in players:
            def own_loss(own, name=name):
                pieces, it = [], iter(own)
                for o, part in zip(owner, split(flat)):
                    pieces.append(next(it) if o == name else part)
                return loss_of(pieces)[name]
            mine = [p for o, p in zip(owner, split(flat)) if o == name]
            grads = torch.func.grad(own_loss)(mine)
            out += [g.reshape(-1) for g in grads]
        return torch.cat(out)

    return jacrev(xi)(flat0), flat0


def flat(vec):
    return torch.cat([v.reshape(-1) for v in vec])


def random_like(game, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in game.parameters()]


def check_products(game, J, args=()):
    """Full products and every block product J_ij v_j, J_ij^T w_i against the dense J."""
    f = eq.Field(game, args, create_graph=True)
    rows, lo = {}, 0
    for p in game.players:
        rows[p] = slice(lo, lo + game.num_parameters(p))
        lo = rows[p].stop
    for seed in range(3):
        v = random_like(game, seed)
        torch.testing.assert_close(flat(f.jvp(v)), J @ flat(v), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(flat(f.vjp(v)), J.T @ flat(v), rtol=1e-10, atol=1e-10)
        for i in game.players:
            vi = v[game.slice(i)]
            for j in game.players:
                vj = v[game.slice(j)]
                block = J[rows[i], rows[j]]
                torch.testing.assert_close(flat(f.block_jvp(i, j, vj)), block @ flat(vj), rtol=1e-10, atol=1e-10)
                torch.testing.assert_close(flat(f.block_vjp(i, j, vi)), block.T @ flat(vi), rtol=1e-10, atol=1e-10)


def test_tensor_players_general_sum():
    torch.manual_seed(0)
    a = torch.randn(3, dtype=torch.float64)
    b = {"w": torch.randn(2, 2, dtype=torch.float64), "c": torch.randn(2, dtype=torch.float64)}

    def losses(p):
        x, w, c = p["a"], p["b"]["w"], p["b"]["c"]
        return {"a": (x.sin() * (w @ c).sum()).sum() + (x ** 4).sum(),
                "b": (torch.tanh(w).sum() * x.prod()) + (c * x[:2]).exp().sum()}

    game = eq.Game({"a": a, "b": b}, losses)
    J, _ = dense_jacobian([("a", [a]), ("b", [b["w"], b["c"]])],
                          lambda t: losses({"a": t[0], "b": {"w": t[1], "c": t[2]}}))
    assert not torch.allclose(J, J.T)  # a genuinely non-symmetric game
    check_products(game, J)


def test_reference_games_known_jacobian():
    for game in [eq.games.bilinear(torch.randn(3, 2), dtype=torch.float64),
                 eq.games.monotone_quadratic(3, 4, seed=2),
                 eq.games.random_quadratic((2, 2, 3), seed=3),
                 eq.games.cyclic(4, mu=0.3, dtype=torch.float64),
                 eq.games.dirac_gan(0.0, 0.0, gamma=0.7, dtype=torch.float64)]:
        check_products(game, game.known_jacobian.to(torch.float64))


class Small(nn.Module):
    def __init__(self, din, dout, batchnorm=False):
        super().__init__()
        self.l1 = nn.Linear(din, 5)
        self.bn = nn.BatchNorm1d(5) if batchnorm else nn.Identity()
        self.l2 = nn.Linear(5, dout)

    def forward(self, x):
        return self.l2(torch.tanh(self.bn(self.l1(x))))


@pytest.mark.parametrize("zero_sum", [False, True], ids=["general-sum", "zero-sum"])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_module_players(batchnorm, zero_sum):
    torch.manual_seed(1)
    G, D = Small(2, 3, batchnorm).double(), Small(3, 1, batchnorm).double()
    G.eval(), D.eval()  # BatchNorm in eval mode: a fixed function of the parameters
    real = torch.randn(7, 3, dtype=torch.float64)
    z = torch.randn(7, 2, dtype=torch.float64)

    def losses(p, real):
        fake = p["G"](z)
        d_real, d_fake = p["D"](real), p["D"](fake)
        ld = nn.functional.softplus(-d_real).mean() + nn.functional.softplus(d_fake).mean()
        if zero_sum:  # the minimax GAN: G minimizes what D maximizes
            return {"G": -ld, "D": ld}
        return {"G": nn.functional.softplus(-d_fake).mean(), "D": ld}

    game = eq.ZeroSumGame({"G": G, "D": D}, lambda p, real: losses(p, real)["G"]) if zero_sum \
        else eq.Game({"G": G, "D": D}, losses)
    gnames = [n for n, _ in G.named_parameters()]
    dnames = [n for n, _ in D.named_parameters()]

    def loss_of(t):
        gp = dict(zip(gnames, t[:len(gnames)]))
        dp = dict(zip(dnames, t[len(gnames):]))
        return losses({"G": lambda x: functional_call(G, gp, (x,)),
                       "D": lambda x: functional_call(D, dp, (x,))}, real)

    J, _ = dense_jacobian([("G", list(G.parameters())), ("D", list(D.parameters()))], loss_of)
    check_products(game, J, (real,))
    # xi itself is the per-player gradient
    f = eq.Field(game, (real,))
    lg = losses({"G": G, "D": D}, real)
    gG = torch.autograd.grad(lg["G"], list(G.parameters()))
    torch.testing.assert_close(flat(f.xi[game.slice("G")]), flat(gG))


def test_functional_evaluation_leaves_batchnorm_statistics_alone():
    G = Small(2, 2, batchnorm=True)
    game = eq.Game({"G": G, "H": torch.zeros(1)}, lambda p, x: {"G": p["G"](x).sum(), "H": p["H"].sum()})
    x = torch.randn(8, 2)
    before = G.bn.running_mean.clone()
    eq.Field(game, (x,), tensors=[t.detach().clone() for t in game.parameters()])
    assert torch.equal(G.bn.running_mean, before)
    eq.Field(game, (x,))  # at the current point: the module itself, statistics update once
    assert not torch.equal(G.bn.running_mean, before)
    assert int(G.bn.num_batches_tracked) == 1


def test_cross_gradient():
    game = eq.games.xy(2.0, 3.0, dtype=torch.float64)
    f = eq.Field(game, create_graph=True)
    assert [float(t) for t in f.gradient("x")] == [3.0, 2.0]  # d(xy)/dx, d(xy)/dy
    assert [float(t) for t in f.gradient("y")] == [-3.0, -2.0]


def test_products_need_the_graph():
    f = eq.Field(eq.games.xy())
    with pytest.raises(eq.GameError, match="create_graph=True"):
        f.jvp(f.xi)


def test_linear_game_has_zero_jacobian():
    game = eq.Game({"a": torch.ones(2), "b": torch.ones(1)},
                   lambda p: {"a": (p["a"] * 2).sum(), "b": -p["b"].sum()})
    f = eq.Field(game, create_graph=True)
    v = [torch.ones(2), torch.ones(1)]
    assert all(not t.any() for t in f.jvp(v) + f.vjp(v))


@pytest.mark.parametrize("name", sorted(eq.SOLVERS))
def test_solvers_work_inside_no_grad(name):
    inside, outside = eq.games.xy(dtype=torch.float64), eq.games.xy(dtype=torch.float64)
    a, b = eq.make_solver(name, inside, lr=0.1), eq.make_solver(name, outside, lr=0.1)
    for _ in range(2):
        with torch.no_grad():
            a.step()
        b.step()
    assert all(torch.equal(x, y) for x, y in zip(inside.parameters(), outside.parameters()))
    assert not all(float(t) == 1.0 for t in inside.parameters())


def test_game_evaluate_is_a_pure_function_for_torch_func():
    """torch.func transforms apply to game.evaluate: jacfwd of xi equals the known J."""
    game = eq.games.monotone_quadratic(2, 3, seed=4)

    def xi(flat):
        x, y = flat[:2], flat[2:]
        grads = torch.func.grad(lambda x_: game.evaluate([x_, y])[0]["x"])(x), \
            torch.func.grad(lambda y_: game.evaluate([x, y_])[0]["y"])(y)
        return torch.cat(grads)

    J = torch.func.jacfwd(xi)(torch.cat(game.parameters()))
    torch.testing.assert_close(J, game.known_jacobian, rtol=1e-12, atol=1e-12)


def test_forward_over_reverse_jvp_equals_the_dense_product():
    for game in [eq.games.random_quadratic((2, 2, 3), seed=3), eq.games.monotone_quadratic(3, 4, seed=2)]:
        f = eq.Field(game, create_graph=True)
        J = game.known_jacobian.to(torch.float64)
        for seed in range(2):
            v = random_like(game, seed)
            torch.testing.assert_close(flat(f.jvp_forward(v)), J @ flat(v), rtol=1e-10, atol=1e-10)


def test_forward_over_reverse_jvp_on_modules_with_batchnorm():
    torch.manual_seed(1)
    G, D = Small(2, 3, batchnorm=True).double(), Small(3, 1, batchnorm=True).double()
    real, z = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)

    def losses(p, real):
        d_fake = p["D"](p["G"](z))
        return {"G": nn.functional.softplus(-d_fake).mean(),
                "D": nn.functional.softplus(-p["D"](real)).mean() + nn.functional.softplus(d_fake).mean()}

    game = eq.Game({"G": G, "D": D}, losses)
    f = eq.Field(game, (real,), create_graph=True)
    stats = G.bn.running_mean.clone()
    v = random_like(game, 0)
    torch.testing.assert_close(flat(f.jvp_forward(v)), flat(f.jvp(v)), rtol=1e-9, atol=1e-10)
    assert torch.equal(G.bn.running_mean, stats)  # the extra evaluation leaves the statistics alone
