"""Building a run from a resolved config: device, data, models, game, solver, averages, random streams.

One seed makes four independent streams (``numpy.random.SeedSequence(seed)``): model
initialisation, the data stream (real batches), the noise stream (the latent batch z and the
game's other draws, see :meth:`gan.GANGame.step_noise`) and evaluation's fixed latents. The
data and noise streams are trainer state: checkpointed, so a resumed run draws what the
uninterrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import equilib as eq
from gan import parallel
from gan.averaging import EMA, UniformAverage
from gan.config import ConfigError, TrainConfig
from gan.config_checks import flag

__all__ = ["Built", "build", "resolve_device", "seeds", "model_options"]


def resolve_device(name: str, amp: str | None = None, channels_last: bool = False) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` as a torch.device, checked against this machine."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} was requested but CUDA is not available on this machine "
                              "(torch.cuda.is_available() is False); use --device cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {name!r} does not exist: this machine has {count} CUDA device(s) "
                              f"(cuda:0 .. cuda:{count - 1})")
    if device.type != "cuda":
        if amp is not None:
            raise ConfigError(f"amp={amp!r} (mixed precision) needs a CUDA device; device is {name!r}. "
                              "Drop --amp or use --device cuda")
        if channels_last:
            raise ConfigError(f"channels_last needs a CUDA device; device is {name!r}. "
                              "Drop --channels-last or use --device cuda")
    return device


@dataclass
class Built:
    """Everything a run is made of. ``step_args`` are the last step's arguments (real, z[, extra])."""

    config: TrainConfig
    device: torch.device
    data: Any
    G: torch.nn.Module
    D: torch.nn.Module
    game: Any
    solver: eq.Solver
    data_generator: torch.Generator
    noise_generator: torch.Generator
    ema: EMA | None
    uniform: UniformAverage | None
    step_args: tuple = ()
    #: mean gradient evaluations and backward passes per step since the previous evaluation, and the steps counted
    step_cost: dict | None = None
    #: the running count since the previous evaluation (checkpointed, so a resumed run counts what a whole one does)
    pending_cost: dict = field(default_factory=lambda: {"evals": 0, "backward": 0, "steps": 0})

    def generators(self) -> dict[str, torch.nn.Module]:
        """The generators to evaluate: the live one, and the averages when enabled."""
        out = {"G": self.G}
        if self.ema is not None:
            out["ema"] = self.ema.module
        if self.uniform is not None and self.uniform.count > 0:
            out["uniform"] = self.uniform.module
        return out

    def sampler(self) -> torch.nn.Module:
        """The generator used for samples: the EMA one when the run uses EMA."""
        return self.ema.module if self.ema is not None else self.G

    def draw(self) -> tuple:
        """The next step's arguments: a real batch from the data stream, then z (and the game's other
        draws) from the noise stream."""
        cfg = self.config
        real = self.data.sample(cfg.batch_size, self.data_generator)
        if self.device.type == "cuda" and real.device.type == "cpu":  # page-locked: the copy overlaps GPU work
            real = real.pin_memory().to(self.device, non_blocking=True)
        else:
            real = real.to(self.device)
        if cfg.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        # every rank draws the global batch from the same streams and keeps its share (gan.parallel)
        return parallel.share_args((real, *self.game.step_noise(real.shape[0], self.noise_generator)))


def seeds(seed: int) -> tuple[int, int, int, int]:
    """Independent seeds for model init, data stream, noise stream and evaluation, from one seed."""
    s = np.random.SeedSequence(seed).generate_state(4)
    return tuple(int(v) for v in s)


def model_options(cfg: TrainConfig) -> dict[str, Any]:
    opts = dict(cfg.model_options)
    if cfg.model == "mlp":
        opts.setdefault("hidden", cfg.width)
        opts.setdefault("depth", cfg.depth)
    elif cfg.width is not None:
        opts.setdefault("width", cfg.width)
    return opts


def optimizer_options(cfg: TrainConfig, game) -> dict[str, Any] | None:
    """The base optimizer's options: the config's (betas, momentum), with ``cfg.fused`` torch's fastest
    implementation of the same step (:func:`equilib.optim.fast_options`: fused where it exists)."""
    options = cfg.optimizer_options()
    if not cfg.fused:
        return options
    fast = eq.optim.fast_options(cfg.optimizer, game.parameters())
    return {**fast, **(options or {})} or None


def build(cfg: TrainConfig) -> Built:
    """Data, models, game, solver, averages and random streams for a resolved config, all freshly seeded.

    Every option is checked here, the solver's own included, before anything is written.
    """
    # submodules, not ``gan.X`` attributes: works even where an old editable install
    # registered gan as a namespace package (its __init__ then does not run)
    from gan.data import load_dataset
    from gan.game import GANGame
    from gan.models import build_models

    device = resolve_device(parallel.local_device(cfg.device), cfg.amp, cfg.channels_last)
    init_seed, data_seed, noise_seed, _ = seeds(cfg.seed)
    data = load_dataset(cfg.data, root=cfg.data_root, image_size=cfg.image_size, **cfg.data_options)
    if cfg.model == "dcgan" and getattr(data, "kind", None) != "images":
        raise ConfigError(f"model 'dcgan' needs image data; data {cfg.data!r} has shape {tuple(data.shape)}")
    torch.manual_seed(init_seed)
    try:
        options = model_options(cfg)
        sync_batchnorm = flag("model option sync_batchnorm", options.pop("sync_batchnorm", False))
        G, D = build_models(cfg.model, data.shape, cfg.latent_dim, **options)
    except ValueError as e:
        raise ConfigError(f"model {cfg.model!r} does not fit data {cfg.data!r} (shape {tuple(data.shape)}): {e}") \
            from None
    parallel.check_split(cfg.batch_size, len(data) if hasattr(data, "__len__") else None)
    pack = getattr(D, "pack", 1)
    if (cfg.batch_size // parallel.world()) % pack:
        share = "" if parallel.world() == 1 else f" (each of the {parallel.world()} ranks' share)"
        raise ConfigError(f"batch_size {cfg.batch_size}{share} does not split into the discriminator's packs of "
                          f"{pack} (model option pack): use a multiple of {pack * parallel.world()}")
    if sync_batchnorm:
        parallel.convert_batchnorm(G)
        parallel.convert_batchnorm(D)
    G.to(device)
    D.to(device)
    if cfg.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    game = GANGame(G, D, loss=cfg.loss, latent_dim=cfg.latent_dim, label_smoothing=cfg.label_smoothing,
                   r1=cfg.r1, r2=cfg.r2, gp_weight=cfg.gp_weight, instance_noise=cfg.instance_noise, device=device)
    try:
        solver = eq.make_solver(cfg.solver, game, lr={"G": cfg.lr_g, "D": cfg.lr_d}, optimizer=cfg.optimizer,
                                optimizer_options=optimizer_options(cfg, game), on_nonfinite=cfg.nonfinite_policy(),
                                **cfg.solver_options)
    except eq.SolverError as e:
        raise ConfigError(f"solver {cfg.solver}: {e}") from None
    data_generator = torch.Generator().manual_seed(data_seed)
    noise_generator = torch.Generator().manual_seed(noise_seed)
    ema = EMA(G, cfg.ema) if cfg.ema else None
    uniform = UniformAverage(G) if cfg.uniform_average_from is not None else None
    if cfg.compile is not None:  # after the averages copy G: they stay eager; state_dict keys are unchanged
        G.compile(backend=cfg.compile)
        D.compile(backend=cfg.compile)
    return Built(cfg, device, data, G, D, game, solver, data_generator, noise_generator, ema, uniform)
