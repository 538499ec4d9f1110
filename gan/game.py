"""A GAN as an equilib game: players "G" (generator) and "D" (discriminator).

Each evaluation of the losses takes a real batch x and draws fresh latent noise
z ~ N(0, I) from the game's own seeded ``torch.Generator``; then, with d_real = D(x)
and d_fake = D(G(z)), the losses are those of :mod:`gan.losses` plus the
discriminator's regularizers:

    L_D += gp_weight * E (||grad D(x_hat)|| - 1)^2            (wgan-gp; x_hat between x and G(z))
    L_D += r1 / 2 * E_x ||grad_x D(x)||^2                      (R1, Mescheder et al. 2018)
    L_D += r2 / 2 * E_z ||grad_x D(G(z))||^2                   (R2)

Every solver of equilib therefore trains a GAN: ``make_solver("consensus", game, ...)``
then ``solver.step(real_batch)``. A solver that evaluates the field several times per step
(extragradient, unrolled) reuses the real batch it was given and gets fresh noise each time.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

import equilib as eq
from gan import losses as L

__all__ = ["GANGame"]


def _number(name: str, value, low: float = 0.0, high: float | None = None, closed_high: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low or \
            (high is not None and not (value <= high if closed_high else value < high)):
        rng = f">= {low}" + (f" and {'<=' if closed_high else '<'} {high}" if high is not None else "")
        raise eq.GameError(f"{name} must be a number {rng}, got {value!r}")
    return float(value)


class GANGame(eq.Game):
    """Generator vs discriminator, for any equilib solver.

    Args:
        generator: ``nn.Module`` mapping z (n, latent_dim) to samples (n, *data_shape).
        discriminator: ``nn.Module`` mapping samples to one score per sample (n,) (logits
            for the BCE losses). If it has ``input_shape``, real batches are checked against it.
        loss: one of :data:`gan.losses.LOSSES`.
        latent_dim: size of z; default ``generator.latent_dim``.
        label_smoothing: s, one-sided: real targets 1 - s, fake targets 0 (BCE and lsgan losses).
        r1, r2: gamma of the R1 / R2 penalties, paper convention gamma/2 * E||grad_x D||^2 (the
            authors' code uses gamma * E||...||^2, i.e. twice ours for the same number).
        gp_weight: lambda of WGAN-GP's penalty (used only with ``loss="wgan-gp"``).
        instance_noise: std of Gaussian noise added to real and generated inputs of D.
        seed: seeds the game's noise generator (z, instance noise, WGAN-GP's interpolation).
        device: where noise and real batches go; default the generator's device. Noise is drawn
            on the CPU and moved, so the same seed gives the same z on every device.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, loss: str = "nonsaturating",
                 latent_dim: int | None = None, label_smoothing: float = 0.0, r1: float = 0.0, r2: float = 0.0,
                 gp_weight: float = 10.0, instance_noise: float = 0.0, seed: int = 0,
                 device: str | torch.device | None = None):
        for name, m in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(m, nn.Module):
                raise eq.GameError(f"{name} must be an nn.Module, got {type(m).__name__}")
        try:
            self.loss_fn_pair = L.get_loss(loss)
        except ValueError as e:
            raise eq.GameError(str(e)) from None
        self.loss_name = loss.lower()
        if latent_dim is None:
            latent_dim = getattr(generator, "latent_dim", None)
            if latent_dim is None:
                raise eq.GameError("latent_dim is needed: the generator has no latent_dim attribute")
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise eq.GameError(f"latent_dim must be an integer >= 1, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self.label_smoothing = _number("label_smoothing", label_smoothing, 0.0, 1.0)
        if self.label_smoothing and self.loss_name not in L.SMOOTHABLE:
            raise eq.GameError(f"label_smoothing applies to the losses {list(L.SMOOTHABLE)}, "
                               f"not to {self.loss_name!r}")
        self.r1 = _number("r1", r1)
        self.r2 = _number("r2", r2)
        self.gp_weight = _number("gp_weight", gp_weight)
        self.instance_noise = _number("instance_noise", instance_noise)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise eq.GameError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        g_out = getattr(generator, "output_shape", None)
        d_in = getattr(discriminator, "input_shape", None)
        if g_out is not None and d_in is not None and tuple(g_out) != tuple(d_in):
            raise eq.GameError(f"the generator makes samples of shape {tuple(g_out)} but the discriminator "
                               f"takes {tuple(d_in)}")
        self.data_shape = tuple(d_in) if d_in is not None else (tuple(g_out) if g_out is not None else None)
        if device is None:
            first = next(generator.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        self._noise = torch.Generator(device="cpu")
        self._noise.manual_seed(seed)
        super().__init__({"G": generator, "D": discriminator}, self.loss_fn)
        self.dtype = self.parameters("G")[0].dtype

    # ---- noise -----------------------------------------------------------------------------
    def latent(self, n: int) -> Tensor:
        """z ~ N(0, I), shape (n, latent_dim), from the game's generator (advances it)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise eq.GameError(f"n must be an integer >= 1, got {n!r}")
        z = torch.randn(n, self.latent_dim, generator=self._noise)
        return z.to(device=self.device, dtype=self.dtype)

    def _randn_like(self, x: Tensor) -> Tensor:
        return torch.randn(x.shape, generator=self._noise).to(device=x.device, dtype=x.dtype)

    def noise_state(self) -> Tensor:
        """The state of the noise generator (a uint8 tensor), for checkpoints."""
        return self._noise.get_state()

    def set_noise_state(self, state: Tensor) -> None:
        """Restore :meth:`noise_state`."""
        self._noise.set_state(state)

    @property
    def generator(self) -> nn.Module:
        return self.params["G"]

    @property
    def discriminator(self) -> nn.Module:
        return self.params["D"]

    # ---- the game ----------------------------------------------------------------------------
    def check_batch(self, real: Tensor) -> Tensor:
        """The real batch on the game's device and dtype, after checking its per-sample shape."""
        if not isinstance(real, Tensor):
            raise eq.GameError(f"the real batch must be a tensor, got {type(real).__name__}")
        if real.dim() < 2 or real.shape[0] < 1:
            raise eq.GameError(f"the real batch must have shape (n, *sample_shape), got {tuple(real.shape)}")
        if self.data_shape is not None and tuple(real.shape[1:]) != self.data_shape:
            raise eq.GameError(f"real samples have shape {tuple(real.shape[1:])} but the discriminator takes "
                               f"samples of shape {self.data_shape}")
        return real.to(device=self.device, dtype=self.dtype)

    def loss_fn(self, params: Mapping, real: Tensor) -> dict[str, Tensor]:
        """{"G": L_G, "D": L_D} on the real batch ``real`` and fresh noise (see the module docstring).

        The gradient penalties need input gradients, so under ``torch.no_grad()`` (e.g.
        :meth:`Game.losses`) they are computed with gradients on and the losses returned detached.
        """
        needs_grad = self.r1 or self.r2 or (self.loss_name == "wgan-gp" and self.gp_weight)
        if needs_grad and not torch.is_grad_enabled():
            with torch.enable_grad():
                out = self._losses(params, real)
            return {k: v.detach() for k, v in out.items()}
        return self._losses(params, real)

    def _losses(self, params: Mapping, real: Tensor) -> dict[str, Tensor]:
        G, D = params["G"], params["D"]
        real = self.check_batch(real)
        n = real.shape[0]
        fake = G(self.latent(n))
        if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
            raise eq.GameError(f"the generator makes samples of shape {tuple(fake.shape[1:])} but the real "
                               f"samples have shape {tuple(real.shape[1:])}")
        if self.instance_noise:
            real = real + self.instance_noise * self._randn_like(real)
            fake = fake + self.instance_noise * self._randn_like(fake)
        if self.r1:
            real = real.detach().requires_grad_(True)
        d_real = D(real)
        d_fake = D(fake)
        g_loss, d_loss = self.loss_fn_pair(d_real, d_fake, self.label_smoothing)
        if self.loss_name == "wgan-gp" and self.gp_weight:
            eps = torch.rand(n, generator=self._noise).to(device=real.device, dtype=real.dtype)
            d_loss = d_loss + self.gp_weight * L.gradient_penalty(D, real.detach(), fake, eps)
        if self.r1:
            (g,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            d_loss = d_loss + 0.5 * self.r1 * g.reshape(n, -1).pow(2).sum(1).mean()
        if self.r2:
            d_loss = d_loss + 0.5 * self.r2 * L.r1_penalty(D, fake)
        return {"G": g_loss, "D": d_loss}

    def sample(self, n: int, z: Tensor | None = None) -> Tensor:
        """G(z) without gradients, with z drawn from the game's generator unless given.

        The generator runs in its current mode (train or eval) on copies of its buffers,
        so sampling never changes BatchNorm statistics.
        """
        if z is None:
            z = self.latent(n)
        else:
            z = torch.as_tensor(z).to(device=self.device, dtype=self.dtype)
        G = self.generator
        state = {k: b.clone() for k, b in G.named_buffers()}
        state.update(dict(G.named_parameters()))
        with torch.no_grad():
            return functional_call(G, state, (z,))

    def __repr__(self) -> str:
        extras = [f"loss={self.loss_name!r}"]
        for k in ("label_smoothing", "r1", "r2", "instance_noise"):
            if getattr(self, k):
                extras.append(f"{k}={getattr(self, k)}")
        if self.loss_name == "wgan-gp":
            extras.append(f"gp_weight={self.gp_weight}")
        return f"GANGame(G: {self.num_parameters('G')}, D: {self.num_parameters('D')}, {', '.join(extras)})"
