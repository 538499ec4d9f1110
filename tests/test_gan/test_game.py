"""GANGame: every solver trains it, losses equal the loss functions on D's outputs, noise, regularizers."""

import math

import pytest
import torch
from torch import nn

import equilib as eq
import gan
from gan import losses as L

RING = gan.load_dataset("ring")


def tiny_game(**kw):
    torch.manual_seed(0)
    G, D = gan.build_models("mlp", RING.shape, 4, hidden=8, depth=2)
    return gan.GANGame(G, D, **kw)


SOLVER_OPTIONS = {"unrolled": {"unroll_steps": 2}, "cgd": {"max_iter": 10, "tol": 1e-3},
                  "acgd": {"max_iter": 10, "tol": 1e-3}}
SGD_ONLY = {"acgd"}  # acgd's steps are adaptive already: it takes the SGD base only


@pytest.mark.filterwarnings("ignore::equilib.solvers.KrylovWarning")  # 10 Krylov iterations, as stated
@pytest.mark.parametrize("name", sorted(eq.SOLVERS))
def test_every_solver_trains_the_ring_gan(name):
    game = tiny_game()
    before = [t.detach().clone() for t in game.parameters()]
    solver = eq.make_solver(name, game, lr=1e-3, optimizer=None if name in SGD_ONLY else "adam",
                            **SOLVER_OPTIONS.get(name, {}))
    gen, noise = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    for _ in range(3):
        losses = solver.step(RING.sample(32, gen), game.latent(32, noise))
    assert set(losses) == {"G", "D"} and all(torch.isfinite(v) for v in losses.values())
    for player in ("G", "D"):
        moved = [not torch.equal(a, b) for a, b in zip(before[game.slice(player)], game.parameters(player))]
        assert any(moved), f"{name}: player {player} did not move"
    assert solver.steps == 3


@pytest.mark.parametrize("name", ["simgd", "consensus"])
def test_dcgan_16_step(name):
    digits = gan.load_dataset("digits")
    torch.manual_seed(0)
    G, D = gan.build_models("dcgan", digits.shape, 8, width=8)
    game = gan.GANGame(G, D)
    solver = eq.make_solver(name, game, lr=2e-4, optimizer="adam", optimizer_options={"betas": (0.5, 0.999)})
    losses = solver.step(digits.sample(16, torch.Generator().manual_seed(0)))
    assert all(torch.isfinite(v) for v in losses.values())
    assert game.sample(4).shape == (4, 1, 16, 16)


def test_extensions_run_with_lookahead_solvers():
    """Spectral norm and minibatch discrimination in D, R1 and instance noise, through extragradient
    (which evaluates at a look-ahead point via functional calls) and consensus (double backward)."""
    torch.manual_seed(0)
    G, D = gan.build_models("mlp", RING.shape, 4, hidden=8, depth=2, spectral_norm=True, minibatch_discrimination=True)
    game = gan.GANGame(G, D, r1=1.0, instance_noise=0.05)
    for name in ("extragradient", "consensus"):
        solver = eq.make_solver(name, game, lr=1e-3)
        losses = solver.step(RING.sample(16, torch.Generator().manual_seed(0)))
        assert all(torch.isfinite(v) for v in losses.values())


def manual_losses(game, real, z, loss):
    """Recompute the game's losses from gan.losses on the same real batch and z."""
    with torch.no_grad():
        return L.get_loss(loss)(game.discriminator(real), game.discriminator(game.generator(z)))


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "hinge", "lsgan"])
def test_losses_are_the_loss_functions_on_d_outputs(loss):
    game = tiny_game(loss=loss)
    real = RING.sample(64, torch.Generator().manual_seed(1))
    z = game.latent(64, torch.Generator().manual_seed(2))
    g_ref, d_ref = manual_losses(game, real, z, loss)
    out = game.losses(real, z)
    torch.testing.assert_close(out["G"], g_ref)
    torch.testing.assert_close(out["D"], d_ref)
    assert game.loss_name == loss


def test_label_smoothing_shifts_d_loss_by_s_mean_d_real():
    """BCE(r, 1 - s) - BCE(r, 1) = s * (softplus(r) - softplus(-r)) = s * r, averaged."""
    real = RING.sample(64, torch.Generator().manual_seed(1))
    plain, smooth = tiny_game(), tiny_game(label_smoothing=0.1)
    z = plain.latent(64, torch.Generator().manual_seed(2))
    with torch.no_grad():
        mean_r = plain.discriminator(real).mean()
    a, b = plain.losses(real, z), smooth.losses(real, z)
    torch.testing.assert_close(b["D"] - a["D"], 0.1 * mean_r)
    torch.testing.assert_close(b["G"], a["G"])  # non-saturating G loss ignores the targets


class Recorder(nn.Module):
    """D(x) = w . x, remembering its inputs."""

    def __init__(self, dim):
        super().__init__()
        self.w = nn.Parameter(torch.ones(dim))
        self.input_shape = (dim,)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach())
        return x @ self.w


def test_instance_noise_on_both_inputs():
    """D sees x + s e_real and G(z) + s e_fake, with e from the step's third argument, exactly."""
    torch.manual_seed(0)
    G = gan.models.MLPGenerator(4, 2, hidden=8, depth=1)
    D = Recorder(2)
    game = gan.GANGame(G, D, instance_noise=0.3)
    real = torch.zeros(20000, 2)
    z, extra = game.step_noise(20000, torch.Generator().manual_seed(0))
    assert sorted(extra) == ["fake", "real"] and extra["real"].shape == extra["fake"].shape == (20000, 2)
    game.losses(real, z, extra)
    noisy_real, noisy_fake = D.seen
    torch.testing.assert_close(noisy_real, 0.3 * extra["real"])
    with torch.no_grad():
        torch.testing.assert_close(noisy_fake, G(z) + 0.3 * extra["fake"])
    assert noisy_real.std().item() == pytest.approx(0.3, rel=0.02) and noisy_real.mean().abs() < 0.01


class Point(nn.Module):
    """Dirac generator: G(z) = theta for every z."""

    def __init__(self, theta):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta], dtype=torch.float64))
        self.output_shape = (1,)

    def forward(self, z):
        return self.theta.expand(z.shape[0], 1)


class Linear1(nn.Module):
    """D(x) = psi x."""

    def __init__(self, psi):
        super().__init__()
        self.psi = nn.Parameter(torch.tensor([psi], dtype=torch.float64))
        self.input_shape = (1,)

    def forward(self, x):
        return (self.psi * x).reshape(-1)


def jacobian(game, real):
    f = eq.Field(game, (real,), create_graph=True)
    cols = []
    for k in range(2):
        e = [torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
        e[k][0] = 1.0
        cols.append(torch.cat(f.jvp(e)))
    return torch.stack(cols, dim=1)


@pytest.mark.parametrize("penalty", ["r1", "r2"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 3.0])
def test_r1_r2_on_dirac_gan_match_the_paper(penalty, gamma):
    """Mescheder et al. (2018): at the equilibrium of Dirac-GAN with R1 (or R2) weight gamma, the
    Jacobian of xi has eigenvalues gamma/2 +/- sqrt(gamma^2/4 - f'(0)^2), f'(0) = 1/2 (the paper's
    gamma/2 convention). Our D(x) = psi x is a logit, so psi has the opposite sign to the paper's."""
    game = gan.GANGame(Point(0.0), Linear1(0.0), loss="minimax", latent_dim=1, **{penalty: gamma})
    real = torch.zeros(8, 1, dtype=torch.float64)
    J = jacobian(game, real)
    torch.testing.assert_close(J, torch.tensor([[0.0, -0.5], [0.5, gamma]], dtype=torch.float64))
    want = torch.linalg.eigvals(eq.games.dirac_gan(gamma=gamma, dtype=torch.float64).known_jacobian)
    got = torch.linalg.eigvals(J)
    key = lambda c: (round(c.real.item(), 9), c.imag.item())  # noqa: E731
    for a, b in zip(sorted(got, key=key), sorted(want, key=key)):
        assert abs(a - b) < 1e-9
    disc = gamma ** 2 / 4 - 0.25
    root = complex(math.sqrt(disc), 0) if disc >= 0 else complex(0, math.sqrt(-disc))
    assert any(abs(complex(e) - (gamma / 2 + root)) < 1e-9 for e in got)


def test_wgan_gp_penalty_value_on_a_linear_critic():
    """D(x) = psi x has |grad| = |psi|: L_D = E D(fake) - E D(real) + 10 (|psi| - 1)^2."""
    game = gan.GANGame(Point(1.0), Linear1(0.5), loss="wgan-gp", latent_dim=1)
    real = torch.zeros(8, 1, dtype=torch.float64)
    out = game.losses(real)
    assert out["D"].item() == pytest.approx(0.5 * 1.0 - 0.0 + 10 * 0.25)
    assert out["G"].item() == pytest.approx(-0.5)
    no_gp = gan.GANGame(Point(1.0), Linear1(0.5), loss="wgan-gp", latent_dim=1, gp_weight=0.0)
    assert no_gp.losses(real)["D"].item() == pytest.approx(0.5)


def test_minimax_is_zero_sum():
    game = tiny_game(loss="minimax")
    out = game.losses(RING.sample(16, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(out["G"], -out["D"])


def test_losses_are_a_function_of_the_step_arguments():
    """The game keeps no random generator: the same (real, z) give the same losses, another z others."""
    game = tiny_game()
    assert not [k for k, v in vars(game).items() if isinstance(v, torch.Generator)]
    real = RING.sample(32, torch.Generator().manual_seed(0))
    z = game.latent(32, torch.Generator().manual_seed(1))
    a, b = game.losses(real, z), game.losses(real, z.clone())
    assert torch.equal(a["D"], b["D"]) and torch.equal(a["G"], b["G"])
    assert not torch.equal(game.losses(real, game.latent(32, torch.Generator().manual_seed(2)))["D"], a["D"])
    assert game.latent(5).shape == (5, 4)
    z = torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(game.sample(3, z), game.generator(z))
    with pytest.raises(eq.GameError, match=r"z must be a latent batch of shape \(32, latent_dim\).*got \(5, 4\)"):
        game.losses(real, torch.zeros(5, 4))


def test_step_noise_draws_z_then_the_other_draws_from_one_generator():
    """(z, extra) equal independent draws from the same seed in the documented order: z ~ N(0, I),
    then instance noise for real and fake ~ N(0, I), then WGAN-GP's u ~ U(0, 1)."""
    plain = tiny_game()
    (z,) = plain.step_noise(6, torch.Generator().manual_seed(3))
    assert torch.equal(z, torch.randn(6, 4, generator=torch.Generator().manual_seed(3)))
    game = tiny_game(loss="wgan-gp", instance_noise=0.1)
    z, extra = game.step_noise(6, torch.Generator().manual_seed(3))
    ref = torch.Generator().manual_seed(3)
    want = [torch.randn(6, 4, generator=ref), torch.randn(6, 2, generator=ref), torch.randn(6, 2, generator=ref),
            torch.rand(6, generator=ref)]
    for got, w in zip((z, extra["real"], extra["fake"], extra["mix"]), want):
        assert torch.equal(got, w)
    with pytest.raises(eq.GameError, match=r"extra must be game.extra_noise\(n, generator\).*\['fake', 'mix', 'real'\]"):
        game.losses(RING.sample(6, torch.Generator().manual_seed(0)), z, {"real": extra["real"]})


def test_extragradient_sees_the_same_z_at_both_evaluations():
    """Extragradient evaluates xi twice per step, both times on the step's own z (same-sample
    stochastic extragradient, Mishchenko et al. 2020): G's inputs are z, twice, and nothing else."""
    game = tiny_game()
    seen = []
    game.generator.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    solver = eq.make_solver("extragradient", game, lr=1e-3)
    z = game.latent(32, torch.Generator().manual_seed(1))
    solver.step(RING.sample(32, torch.Generator().manual_seed(0)), z)
    assert len(seen) == 2 and all(torch.equal(x, z) for x in seen)


def test_sample_leaves_batchnorm_statistics_alone():
    torch.manual_seed(0)
    G, D = gan.build_models("dcgan", (1, 16, 16), 8, width=8)
    game = gan.GANGame(G, D)
    before = [b.clone() for b in G.buffers()]
    game.sample(8)
    assert all(torch.equal(a, b) for a, b in zip(before, G.buffers()))


def test_bad_input():
    G, D = gan.build_models("mlp", (2,), 4, hidden=8, depth=1)
    game = gan.GANGame(G, D)
    with pytest.raises(eq.GameError, match=r"real samples have shape \(3,\) but the discriminator takes samples "
                                           r"of shape \(2,\)"):
        game.losses(torch.zeros(5, 3))
    with pytest.raises(eq.GameError, match=r"must have shape \(n, \*sample_shape\)"):
        game.losses(torch.zeros(5))
    _, D3 = gan.build_models("mlp", (3,), 4, hidden=8, depth=1)
    with pytest.raises(eq.GameError, match=r"generator makes samples of shape \(2,\) but the discriminator takes \(3,\)"):
        gan.GANGame(G, D3)
    with pytest.raises(eq.GameError, match=r"unknown loss 'wasserstein'; known losses: \['minimax', 'nonsaturating', "
                                           r"'wgan-gp', 'hinge', 'lsgan'\]"):
        gan.GANGame(G, D, loss="wasserstein")
    with pytest.raises(eq.GameError, match="label_smoothing applies to the losses"):
        gan.GANGame(G, D, loss="hinge", label_smoothing=0.1)
    for kw in ({"label_smoothing": 1.0}, {"r1": -1.0}, {"instance_noise": float("nan")}, {"gp_weight": "10"}):
        with pytest.raises(eq.GameError, match=list(kw)[0]):
            gan.GANGame(G, D, **kw)
    with pytest.raises(eq.GameError, match="latent_dim is needed"):
        gan.GANGame(Point(0.0), Linear1(0.0))
    with pytest.raises(eq.GameError, match="generator must be an nn.Module"):
        gan.GANGame(lambda z: z, D)
    with pytest.raises(eq.GameError, match=r"seed is gone: the game keeps no random generator.*solver.step\(real, z\)"):
        gan.GANGame(G, D, seed=0)


@pytest.mark.parametrize("loss", gan.LOSSES)
def test_every_loss_with_consensus(loss):
    """Consensus needs J^T xi (double backward), through WGAN-GP's penalty (triple backward) too."""
    game = tiny_game(loss=loss)
    solver = eq.make_solver("consensus", game, lr=1e-3, gamma=1.0)
    before = [t.detach().clone() for t in game.parameters()]
    losses = solver.step(RING.sample(16, torch.Generator().manual_seed(0)))
    assert all(torch.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, game.parameters()))


def test_sga_through_spectral_norm_matches_a_dense_jacobian():
    """SGA (Balduzzi et al. 2018) on a general-sum GAN (hinge loss) whose D has spectral norm in
    train mode: the power iteration's F.normalize has no forward-mode derivative, so J xi is taken
    by double backward. One SGD step equals theta - lr (xi + lam' A^T xi), A = (J - J^T) / 2, lam'
    aligned, with J from torch.autograd.functional.jacobian of an xi written here from
    functional_call and gan.losses.hinge (the same power iterations: D sees the real batch first)."""
    torch.manual_seed(0)
    G, D = gan.build_models("mlp", RING.shape, 4, hidden=6, depth=1, spectral_norm=True)
    G, D = G.double(), D.double()
    game = gan.GANGame(G, D, loss="hinge")
    real = RING.sample(16, torch.Generator().manual_seed(0)).double()
    z = torch.randn(16, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    g_names, d_names = [n for n, _ in G.named_parameters()], [n for n, _ in D.named_parameters()]
    shapes = [p.shape for p in G.parameters()] + [p.shape for p in D.parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in [*G.parameters(), *D.parameters()]])
    buffers = {k: b.clone() for k, b in D.named_buffers()}

    def xi(flat):
        parts = [t.reshape(s) for t, s in zip(flat.split([s.numel() for s in shapes]), shapes)]
        gp, dp = dict(zip(g_names, parts[:len(g_names)])), dict(zip(d_names, parts[len(g_names):]))
        state = {**dp, **{k: b.clone() for k, b in buffers.items()}}  # one state: u moves between calls
        fake = torch.func.functional_call(G, gp, (z,))
        d_real = torch.func.functional_call(D, state, (real,))
        lg, ld = L.hinge(d_real, torch.func.functional_call(D, state, (fake,)))
        grads = torch.autograd.grad(lg, list(gp.values()), create_graph=True) \
            + torch.autograd.grad(ld, list(dp.values()), create_graph=True)
        return torch.cat([g.reshape(-1) for g in grads])

    x = xi(theta.clone().requires_grad_(True)).detach()
    M = torch.autograd.functional.jacobian(xi, theta)
    A = (M - M.T) / 2
    jt = M.T @ x
    lam = 0.7 * torch.sign((x @ jt) * ((A.T @ x) @ jt) / len(theta) + 0.1)
    want = theta - 0.05 * (x + lam * A.T @ x)
    assert (A.T @ x).norm() > 0.1 * x.norm()  # the adjustment matters at this point

    solver = eq.make_solver("sga", game, lr=0.05, lam=0.7)
    solver.step(real, z)
    got = torch.cat([p.detach().reshape(-1) for p in [*G.parameters(), *D.parameters()]])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
