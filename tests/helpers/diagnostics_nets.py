"""Network games for the diagnostics' tests and benchmarks: an MLP GAN and a 32x32 DCGAN pair."""

from __future__ import annotations

import torch
from torch import nn

import equilib as eq

sp = nn.functional.softplus


def mlp_game(h, seed=0, dtype=torch.float64, n=64, latent=4):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(latent, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 2)).to(dtype)
    D = nn.Sequential(nn.Linear(2, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 1)).to(dtype)
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, 2, generator=g, dtype=dtype)
    z = torch.randn(n, latent, generator=g, dtype=dtype)

    def losses(p):
        fake = p["G"](z)
        return {"G": sp(-p["D"](fake)).mean(), "D": sp(-p["D"](real)).mean() + sp(p["D"](fake)).mean()}
    return eq.Game({"G": G, "D": D}, losses)


def dcgan_game(batch=4, seed=0, nz=100, ngf=64, ndf=64):
    """A DCGAN pair for 32x32 RGB images (Radford et al. 2016 layout): 1,732,224 parameters."""
    torch.manual_seed(seed)
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(batch, 3, 32, 32, generator=g) * 2 - 1
    z = torch.randn(batch, nz, 1, 1, generator=g)

    def losses(p):
        fake = p["G"](z)
        return {"G": sp(-p["D"](fake)).mean(), "D": sp(-p["D"](real)).mean() + sp(p["D"](fake)).mean()}
    return eq.Game({"G": G, "D": D}, losses)
