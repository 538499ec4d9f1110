"""GAN losses as pure functions of the discriminator's outputs, and gradient penalties.

Every loss takes ``d_real = D(x)`` on a real batch and ``d_fake = D(G(z))`` on a
generated batch (one score per sample: shape ``(n,)`` or ``(n, 1)``) and returns
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

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOSSES", "LOSS_FUNCTIONS", "get_loss", "minimax", "nonsaturating", "wgan", "hinge", "lsgan",
    "gradient_penalty", "r1_penalty", "SMOOTHABLE",
]


def _scores(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> None:
    """Refuse discriminator outputs that are not one floating score per sample, and a smoothing outside [0, 1)."""
    s = label_smoothing
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s < 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1), got {s!r}")
    for name, t in (("d_real = D(x)", d_real), ("d_fake = D(G(z))", d_fake)):
        if not isinstance(t, Tensor):
            raise TypeError(f"the discriminator's output {name} must be a tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"the discriminator's output {name} must be a floating-point tensor, got {t.dtype}")
        if t.dim() not in (1, 2) or (t.dim() == 2 and t.shape[1] != 1) or t.shape[0] < 1:
            raise ValueError(f"the discriminator must return one score per sample, shape (n,) or (n, 1); "
                             f"{name} has shape {tuple(t.shape)}")


def _bce_d(d_real: Tensor, d_fake: Tensor, s: float) -> Tensor:
    # BCE(d_real, 1 - s) + BCE(d_fake, 0), with softplus for stability.
    real = (1.0 - s) * F.softplus(-d_real) + s * F.softplus(d_real)
    return real.mean() + F.softplus(d_fake).mean()


def minimax(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Saturating minimax GAN: L_D = BCE(d_real, 1 - s) + BCE(d_fake, 0), L_G = -L_D (zero-sum).

    L_G is the value V(G, D) = E log D(x) + E log(1 - D(G(z))) when s = 0; only its
    second term depends on G, so the generator's gradient is that of E log(1 - D(G(z))).
    """
    _scores(d_real, d_fake, label_smoothing)
    d_loss = _bce_d(d_real, d_fake, label_smoothing)
    return -d_loss, d_loss


def nonsaturating(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Non-saturating GAN: L_G = -E log sigma(d_fake), L_D as in :func:`minimax`."""
    _scores(d_real, d_fake, label_smoothing)
    return F.softplus(-d_fake).mean(), _bce_d(d_real, d_fake, label_smoothing)


def wgan(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Wasserstein GAN: L_G = -E d_fake, L_D = E d_fake - E d_real (the penalty is added by the game)."""
    _scores(d_real, d_fake, label_smoothing)
    _no_smoothing("wgan-gp", label_smoothing)
    return -d_fake.mean(), d_fake.mean() - d_real.mean()


def hinge(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Hinge loss: L_G = -E d_fake, L_D = E relu(1 - d_real) + E relu(1 + d_fake)."""
    _scores(d_real, d_fake, label_smoothing)
    _no_smoothing("hinge", label_smoothing)
    return -d_fake.mean(), F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def lsgan(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Least squares GAN (a = 0, b = 1 - s, c = 1): L_G = E (d_fake - 1)^2 / 2,
    L_D = E (d_real - (1 - s))^2 / 2 + E d_fake^2 / 2."""
    _scores(d_real, d_fake, label_smoothing)
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
    """The loss function called ``name``, checked for a game (unknown names: ValueError listing :data:`LOSSES`).

    The returned function (``.__wrapped__`` is the plain one) also checks that both losses are
    floating scalars and, with gradients enabled, that each is connected to the parameters.
    """
    if not isinstance(name, str) or name.lower() not in LOSS_FUNCTIONS:
        raise ValueError(f"unknown loss {name!r}; known losses: {list(LOSS_FUNCTIONS)}")
    return _checked(name.lower(), LOSS_FUNCTIONS[name.lower()])


def _checked(name: str, fn: Callable[..., tuple[Tensor, Tensor]]) -> Callable[..., tuple[Tensor, Tensor]]:
    @functools.wraps(fn)
    def loss(d_real: Tensor, d_fake: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
        _scores(d_real, d_fake, label_smoothing)
        out = fn(d_real, d_fake, label_smoothing)
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(f"loss {name!r} must return (generator loss, discriminator loss), got {type(out).__name__}")
        for player, t in zip(("G", "D"), out):
            if not isinstance(t, Tensor) or not t.is_floating_point() or t.numel() != 1:
                raise TypeError(f"loss {name!r}: player {player!r}'s loss must be a floating-point scalar tensor, "
                                f"got {_describe(t)}")
        if torch.is_grad_enabled():
            _connected(name, d_real, d_fake, out)
        return out

    return loss


def _describe(t) -> str:
    return f"a tensor of shape {tuple(t.shape)} and dtype {t.dtype}" if isinstance(t, Tensor) else type(t).__name__


_NO_GRAD = "(was it computed through .item(), float(), .numpy(), .detach() or torch.tensor(...)?)"


def _connected(name: str, d_real: Tensor, d_fake: Tensor, out: tuple[Tensor, Tensor]) -> None:
    """With gradients on, the scores and both losses must carry a gradient."""
    if not (d_real.requires_grad or d_fake.requires_grad):
        raise ValueError("the discriminator's outputs D(x) and D(G(z)) carry no gradient, so neither player's "
                         f"loss is connected to the parameters {_NO_GRAD}")
    for player, what, t in (("G", "generator", out[0]), ("D", "discriminator", out[1])):
        if not t.requires_grad:
            raise ValueError(f"loss {name!r}: player {player!r}'s ({what}'s) loss has no gradient, so it is not "
                             f"connected to the parameters {_NO_GRAD}")


def _input_gradient(discriminator: Callable[[Tensor], Tensor], x: Tensor, pack: int = 1) -> Tensor:
    """d (sum_i D(x_i)) / d x, kept in the graph (so the penalty can be differentiated again), one row
    per input of D: per sample, or per group of ``pack`` consecutive samples for a packed D (PacGAN)."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    out = discriminator(x)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g.reshape(g.shape[0] // pack, -1)


def gradient_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     eps: Tensor, pack: int = 1) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E (||grad_x D(x_hat)||_2 - 1)^2,
    x_hat = eps * real + (1 - eps) * fake, ``eps`` ~ U[0, 1] one per sample (shape (n,)).

    The gradient is kept in the graph, so the penalty is differentiable in D's
    parameters (and in G's, through ``fake``).
    """
    e = eps.reshape(-1, *([1] * (real.dim() - 1))).to(real)
    x_hat = e * real + (1.0 - e) * fake
    g = _input_gradient(discriminator, x_hat, pack)
    return (g.norm(dim=1) - 1.0).pow(2).mean()


def r1_penalty(discriminator: Callable[[Tensor], Tensor], x: Tensor, pack: int = 1) -> Tensor:
    """E ||grad_x D(x)||^2 over the batch ``x`` (Mescheder et al. 2018).

    No factor: :class:`gan.GANGame` multiplies it by gamma / 2 (the paper's R1 = gamma/2
    E_{p_data} ||grad D||^2; R2 is the same on generated samples). Their code adds
    gamma * E||grad D||^2 instead, i.e. a gamma twice ours.
    """
    g = _input_gradient(discriminator, x, pack)
    return g.pow(2).sum(dim=1).mean()
