"""One GAN training step through gan.GANGame + equilib's simgd, next to a hand-written PyTorch step.

Run: pytest tests/benchmarks/test_bench_gan.py --benchmark-only
The two tests of a group do the same work: draw z, D on the real and the generated batch,
non-saturating losses, each player's gradient of its own loss, one Adam step per player
(simultaneous). The ratio gan / handwritten is the overhead of the game layer.
"""

import pytest
import torch
from torch import nn

import equilib as eq
import gan

F = nn.functional

SETUPS = {
    # name: (model, data, latent_dim, model options, batch)
    "gan-mlp-ring": ("mlp", "ring", 16, {"hidden": 64, "depth": 3}, 512),
    "gan-dcgan16-digits": ("dcgan", "digits", 32, {"width": 32}, 64),
}


def setup(name):
    model, data_name, latent, opts, batch = SETUPS[name]
    data = gan.load_dataset(data_name)
    torch.manual_seed(0)
    G, D = gan.build_models(model, data.shape, latent, **opts)
    real = data.sample(batch, torch.Generator().manual_seed(0))
    return G, D, real, latent


def handwritten(name):
    G, D, real, latent = setup(name)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.999))
    noise = torch.Generator().manual_seed(0)
    gp, dp = list(G.parameters()), list(D.parameters())

    def step():
        z = torch.randn(real.shape[0], latent, generator=noise)
        d_fake = D(G(z))
        lg = F.softplus(-d_fake).mean()
        ld = F.softplus(-D(real)).mean() + F.softplus(d_fake).mean()
        for p, g in zip(gp, torch.autograd.grad(lg, gp, retain_graph=True)):
            p.grad = g
        for p, g in zip(dp, torch.autograd.grad(ld, dp)):
            p.grad = g
        opt_g.step()
        opt_d.step()

    return step


def with_gan(name):
    G, D, real, latent = setup(name)
    game = gan.GANGame(G, D, loss="nonsaturating")
    solver = eq.make_solver("simgd", game, lr=1e-4, optimizer="adam", optimizer_options={"betas": (0.5, 0.999)})
    noise = torch.Generator().manual_seed(0)  # drawn as the hand-written step draws it
    return lambda: solver.step(real, torch.randn(real.shape[0], latent, generator=noise))


@pytest.mark.parametrize("which", ["handwritten", "gan"])
@pytest.mark.parametrize("name", list(SETUPS))
def test_gan_step(benchmark, name, which):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core each, as the long experiments run
    try:
        benchmark.group = name
        step = handwritten(name) if which == "handwritten" else with_gan(name)
        step()
        benchmark.pedantic(step, rounds=30, warmup_rounds=2)
    finally:
        torch.set_num_threads(threads)
