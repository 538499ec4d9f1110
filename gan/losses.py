"""GAN losses as pure functions of the discriminator's outputs, and gradient penalties.

Every loss takes ``d_real = D(x)`` on a real batch and ``d_fake = D(G(z))`` on a
generated batch (any shapes; means are over all entries) and returns
``(generator loss, discriminator loss)``; each player minimizes its own. For
minimax, non-saturating and least squares the outputs are logits / raw scores
(no sigmoid in the network). ``s`` is one-sided label smoothing: real targets
``1 - s``, fake targets stay 0 (Salimans et al. 2016). sigma is the logistic
sigmoid; ``log sigma(t) = -softplus(-t)`` and ``log(1 - sigma(t)) = -softplus(t)``.

=============  ===========================================  ========================================
loss           generator loss                               discriminator loss
=============  ===========================================  ========================================
minimax        -L_D  (zero-sum: G minimizes V = -L_D)        BCE(d_real, 1 - s) + BCE(d_fake, 0)
nonsaturating  E softplus(-d_fake) = -E log sigma(d_fake)    same as minimax
wgan-gp        -E d_fake                                     E d_fake - E d_real (+ gp_weight * GP)
hinge          -E d_fake                                     E relu(1 - d_real) + E relu(1 + d_fake)
lsgan          1/2 E (d_fake - 1)^2                          1/2 E (d_real - (1 - s))^2 + 1/2 E d_fake^2
=============  ===========================================  ========================================

BCE(t, y) = -E[y log sigma(t) + (1 - y) log(1 - sigma(t))]. Minimax is Goodfellow et
al. (2014): V(G, D) = E log D(x) + E log(1 - D(G(z))), D = sigma(d). Non-saturating
is their practical generator loss; WGAN-GP Gulrajani et al. (2017); hinge Lim &
Ye (2017) / Miyato et al. (2018); least squares Mao et al. (2017) with a = 0, b = c = 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOSSES", "LOSS_FUNCTIONS", "get_loss", "minimax", "nonsaturating", "wgan", "hinge", "lsgan",
    "gradient_penalty", "r1_penalty", "SMOOTHABLE",
]


def _bce_d(d_real: Tensor, d_fake: Tensor, s: float) -> Tensor:
    # BCE(d_real, 1 - s) + BCE(d_fake, 0), with softplus for stability.
    real = (1.0 - s) * F.softplus(-d_real) + s * F.softplus(d_real)
    return real.mean() + F.softplus(d_fake).mean()


def minimax(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Saturating minimax GAN: L_D = BCE(d_real, 1 - s) + BCE(d_fake, 0), L_G = -L_D (zero-sum).

    L_G is the value V(G, D) = E log D(x) + E log(1 - D(G(z))) when s = 0; only its
    second term depends on G, so the generator's gradient is that of E log(1 - D(G(z))).
    """
    d_loss = _bce_d(d_real, d_fake, label_smoothing)
    return -d_loss, d_loss


def nonsaturating(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Non-saturating GAN: L_G = -E log sigma(d_fake), L_D as in :func:`minimax`."""
    return F.softplus(-d_fake).mean(), _bce_d(d_real, d_fake, label_smoothing)


def wgan(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Wasserstein GAN: L_G = -E d_fake, L_D = E d_fake - E d_real (the penalty is added by the game)."""
    _no_smoothing("wgan-gp", label_smoothing)
    return -d_fake.mean(), d_fake.mean() - d_real.mean()


def hinge(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Hinge loss: L_G = -E d_fake, L_D = E relu(1 - d_real) + E relu(1 + d_fake)."""
    _no_smoothing("hinge", label_smoothing)
    return -d_fake.mean(), F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def lsgan(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Least squares GAN (a = 0, b = 1 - s, c = 1): L_G = E (d_fake - 1)^2 / 2,
    L_D = E (d_real - (1 - s))^2 / 2 + E d_fake^2 / 2."""
    b = 1.0 - label_smoothing
    return 0.5 * (d_fake - 1.0).pow(2).mean(), 0.5 * (d_real - b).pow(2).mean() + 0.5 * d_fake.pow(2).mean()


def _no_smoothing(name: str, s: float) -> None:
    if s:
        raise ValueError(
            f"label_smoothing={s} has no meaning for the {name!r} loss (it has no targets); "
            f"use it with one of {list(SMOOTHABLE)}"
        )


LOSS_FUNCTIONS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "minimax": minimax,
    "nonsaturating": nonsaturating,
    "wgan-gp": wgan,
    "hinge": hinge,
    "lsgan": lsgan,
}
LOSSES = tuple(LOSS_FUNCTIONS)
SMOOTHABLE = ("minimax", "nonsaturating", "lsgan")


def get_loss(name: str) -> Callable[..., tuple[Tensor, Tensor]]:
    """The loss function called ``name``; an unknown name raises ValueError listing :data:`LOSSES`."""
    if not isinstance(name, str) or name.lower() not in LOSS_FUNCTIONS:
        raise ValueError(f"unknown loss {name!r}; known losses: {list(LOSSES)}")
    return LOSS_FUNCTIONS[name.lower()]


def _input_gradient(discriminator: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """d (sum_i D(x_i)) / d x, kept in the graph (so the penalty can be differentiated again)."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    out = discriminator(x)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g.reshape(g.shape[0], -1)


def gradient_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     eps: Tensor) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E (||grad_x D(x_hat)||_2 - 1)^2,
    x_hat = eps * real + (1 - eps) * fake, ``eps`` ~ U[0, 1] one per sample (shape (n,)).

    The gradient is kept in the graph, so the penalty is differentiable in D's
    parameters (and in G's, through ``fake``).
    """
    e = eps.reshape(-1, *([1] * (real.dim() - 1))).to(real)
    x_hat = e * real + (1.0 - e) * fake
    g = _input_gradient(discriminator, x_hat)
    return (g.norm(dim=1) - 1.0).pow(2).mean()


def r1_penalty(discriminator: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """E ||grad_x D(x)||^2 over the batch ``x`` (Mescheder et al. 2018).

    No factor: :class:`gan.GANGame` multiplies it by gamma / 2 (the paper's R1 = gamma/2
    E_{p_data} ||grad D||^2; R2 is the same on generated samples). Their code adds
    gamma * E||grad D||^2 instead, i.e. a gamma twice ours.
    """
    g = _input_gradient(discriminator, x)
    return g.pow(2).sum(dim=1).mean()
