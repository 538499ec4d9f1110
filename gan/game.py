"""A GAN as an equilib game: players "G" (generator) and "D" (discriminator).

The losses take the step's random draws as arguments: ``solver.step(real, z)`` with a real
batch x and a latent batch z ~ N(0, I) (``game.latent(n, generator)``); with d_real = D(x)
and d_fake = D(G(z)) they are those of :mod:`gan.losses` plus the discriminator's regularizers:

    L_D += gp_weight * E (||grad D(x_hat)|| - 1)^2            (wgan-gp; x_hat = u x + (1 - u) G(z))
    L_D += r1 / 2 * E_x ||grad_x D(x)||^2                      (R1, Mescheder et al. 2018)
    L_D += r2 / 2 * E_z ||grad_x D(G(z))||^2                   (R2)

(with a packed discriminator, PacGAN, D scores groups of ``pack`` consecutive samples, and the
expectations and gradient norms are over its inputs, the groups).

Instance noise (x + s e_real, G(z) + s e_fake) and WGAN-GP's u are random too: they come in a
third argument, ``solver.step(real, z, extra)`` with ``extra = game.extra_noise(n, generator)``
(:meth:`step_noise` draws ``(z,)`` or ``(z, extra)``, whichever the losses need). The game keeps
no random generator: the caller's streams decide every draw, so a run is reproduced by its
seeds, and a solver that evaluates the field several times per step (extragradient, unrolled)
sees the same z at each evaluation (same-sample stochastic extragradient, Mishchenko et al. 2020).
Left out, z and extra are drawn from torch's global generator (quick experiments).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

import equilib as eq
from gan import losses as L

__all__ = ["GANGame"]


def _count(name: str, n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise eq.GameError(f"{name} must be an integer >= 1, got {n!r}")


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
        device: where noise and real batches go; default the generator's device. Noise is drawn
            on the CPU and moved, so the same generator gives the same z on every device.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, loss: str = "nonsaturating",
                 latent_dim: int | None = None, label_smoothing: float = 0.0, r1: float = 0.0, r2: float = 0.0,
                 gp_weight: float = 10.0, instance_noise: float = 0.0,
                 device: str | torch.device | None = None, seed: None = None):
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
        if seed is not None:
            raise eq.GameError("seed is gone: the game keeps no random generator; pass the latent batch to the "
                               "losses, solver.step(real, z) with z = game.latent(n, generator)")
        g_out = getattr(generator, "output_shape", None)
        d_in = getattr(discriminator, "input_shape", None)
        if g_out is not None and d_in is not None and tuple(g_out) != tuple(d_in):
            raise eq.GameError(f"the generator makes samples of shape {tuple(g_out)} but the discriminator "
                               f"takes {tuple(d_in)}")
        self.data_shape = tuple(d_in) if d_in is not None else (tuple(g_out) if g_out is not None else None)
        self.pack = getattr(discriminator, "pack", 1)  # PacGAN: D scores groups of `pack` samples
        if device is None:
            first = next(generator.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        super().__init__({"G": generator, "D": discriminator}, self.loss_fn)
        self.dtype = self.parameters("G")[0].dtype

    # ---- noise -----------------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), shape (n, latent_dim), drawn on the CPU from ``generator`` (default torch's global one)."""
        _count("n", n)
        z = torch.randn(n, self.latent_dim, generator=generator)
        return z.to(device=self.device, dtype=self.dtype)

    @property
    def needs_extra(self) -> bool:
        """True when the losses take a third argument (instance noise or WGAN-GP's interpolation)."""
        return bool(self.instance_noise) or (self.loss_name == "wgan-gp" and bool(self.gp_weight))

    def extra_noise(self, n: int, generator: torch.Generator | None = None) -> dict[str, Tensor] | None:
        """The losses' other draws for a batch of n, or None if they need none: ``{"real": e_r, "fake": e_f}``
        ~ N(0, I) of a sample's shape (instance noise) and ``{"mix": u}`` ~ U(0, 1)^n (WGAN-GP), in that order."""
        _count("n", n)
        if not self.needs_extra:
            return None
        out = {}
        if self.instance_noise:
            if self.data_shape is None:
                raise eq.GameError("instance noise needs the sample shape: give the discriminator an input_shape")
            for key in ("real", "fake"):
                out[key] = torch.randn(n, *self.data_shape, generator=generator)
        if self.loss_name == "wgan-gp" and self.gp_weight:
            out["mix"] = torch.rand(n, generator=generator)
        return out

    def step_noise(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """The step's random arguments after the real batch: ``(z,)``, or ``(z, extra)`` when the losses
        need more (z first, then :meth:`extra_noise`, from the one ``generator``)."""
        z = self.latent(n, generator)
        extra = self.extra_noise(n, generator)
        return (z,) if extra is None else (z, extra)

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
        if real.shape[0] % self.pack:
            raise eq.GameError(f"a real batch of {real.shape[0]} does not split into the discriminator's packs of "
                               f"{self.pack} (pack): use a multiple of {self.pack}")
        return real.to(device=self.device, dtype=self.dtype)

    def loss_fn(self, params: Mapping, real: Tensor, z: Tensor | None = None,
                extra: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        """{"G": L_G, "D": L_D} on the real batch ``real``, the latent batch ``z`` and the other draws
        ``extra`` (see the module docstring).

        The gradient penalties need input gradients, so under ``torch.no_grad()`` (e.g.
        :meth:`Game.losses`) they are computed with gradients on and the losses returned detached.
        """
        needs_grad = self.r1 or self.r2 or (self.loss_name == "wgan-gp" and self.gp_weight)
        if needs_grad and not torch.is_grad_enabled():
            with torch.enable_grad():
                out = self._losses(params, real, z, extra)
            return {k: v.detach() for k, v in out.items()}
        return self._losses(params, real, z, extra)

    def _check_noise(self, n: int, z: Tensor | None, extra: Mapping | None) -> tuple[Tensor, Mapping | None]:
        if z is None:
            z = self.latent(n)
        elif not isinstance(z, Tensor) or z.dim() != 2 or z.shape[0] != n:
            got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise eq.GameError(f"z must be a latent batch of shape ({n}, latent_dim) for a real batch of {n}, "
                               f"got {got}")
        if extra is None and self.needs_extra:
            extra = self.extra_noise(n)
        if extra is not None:
            want = {*(("real", "fake") if self.instance_noise else ()),
                    *(("mix",) if self.loss_name == "wgan-gp" and self.gp_weight else ())}
            if not isinstance(extra, Mapping) or set(extra) != want:
                got = sorted(extra) if isinstance(extra, Mapping) else type(extra).__name__
                raise eq.GameError(f"extra must be game.extra_noise(n, generator): a dict with keys {sorted(want)}, "
                                   f"got {got}")
        return z.to(device=self.device, dtype=self.dtype), extra

    def _losses(self, params: Mapping, real: Tensor, z: Tensor | None, extra: Mapping | None) -> dict[str, Tensor]:
        G, D = params["G"], params["D"]
        real = self.check_batch(real)
        n = real.shape[0]
        z, extra = self._check_noise(n, z, extra)
        fake = G(z)
        if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
            raise eq.GameError(f"the generator makes samples of shape {tuple(fake.shape[1:])} but the real "
                               f"samples have shape {tuple(real.shape[1:])}")
        if self.instance_noise:
            real = real + self.instance_noise * extra["real"].to(device=real.device, dtype=real.dtype)
            fake = fake + self.instance_noise * extra["fake"].to(device=fake.device, dtype=fake.dtype)
        if self.r1:
            real = real.detach().requires_grad_(True)
        d_real = D(real)
        d_fake = D(fake)
        g_loss, d_loss = self.loss_fn_pair(d_real, d_fake, self.label_smoothing)
        if self.loss_name == "wgan-gp" and self.gp_weight:
            eps = extra["mix"].to(device=real.device, dtype=real.dtype)
            d_loss = d_loss + self.gp_weight * L.gradient_penalty(D, real.detach(), fake, eps, self.pack)
        if self.r1:
            (g,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            d_loss = d_loss + 0.5 * self.r1 * g.reshape(n // self.pack, -1).pow(2).sum(1).mean()
        if self.r2:
            d_loss = d_loss + 0.5 * self.r2 * L.r1_penalty(D, fake, self.pack)
        return {"G": g_loss, "D": d_loss}

    def sample(self, n: int, z: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """G(z) without gradients, with z = :meth:`latent` (n, generator) unless given.

        The generator runs in its current mode (train or eval) on copies of its buffers,
        so sampling never changes BatchNorm statistics.
        """
        if z is None:
            z = self.latent(n, generator)
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
