"""Generators and discriminators: MLPs for low-dimensional data, DCGAN for images.

Every generator has ``latent_dim`` and ``output_shape`` (per-sample), every
discriminator ``input_shape``; a discriminator returns one score (a logit for the
BCE losses) per sample, shape ``(n,)``. :func:`build_models` makes a matched pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gan.config_checks import ConfigError, flag
from gan.packing import PackedDiscriminator, check_pack, packed_shape

__all__ = [
    "MODELS", "SUPPORTED_IMAGE_SIZES", "ACTIVATIONS", "MLPGenerator", "MLPDiscriminator",
    "DCGANGenerator", "DCGANDiscriminator", "MinibatchDiscrimination", "build_models", "dcgan_init",
]

MODELS = ("mlp", "dcgan")
SUPPORTED_IMAGE_SIZES = (16, 32, 64)
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh,
               "elu": nn.ELU, "softplus": nn.Softplus}


def _activation(name: str) -> nn.Module:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known activations: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _flag(name: str, value) -> bool:
    try:
        return flag(name, value)
    except ConfigError as e:
        raise ValueError(str(e)) from None


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


def _check_latent(module: nn.Module, z: Tensor) -> None:
    """Refuse latent batches whose size does not match the generator's ``latent_dim``."""
    size = z.reshape(z.shape[0], -1).shape[1] if z.dim() >= 1 and z.shape[0] else None
    if z.dim() < 2 or size != module.latent_dim:
        raise ValueError(f"the generator takes latent vectors z of size latent_dim={module.latent_dim}, "
                         f"got z of shape {tuple(z.shape)}; build the game with the generator's latent_dim")


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2).

    For features f(x_i) in R^A and a learned tensor T in R^{A x B x C}:
    M_i = f(x_i) T in R^{B x C}, c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1),
    o(x_i)_b = sum_{j != i} c_b(x_i, x_j). Returns ``[f(x_i), o(x_i)]`` in R^{A + B}.
    (We leave out j = i, whose term is always 1.)
    """

    def __init__(self, in_features: int, kernels: int = 16, kernel_dim: int = 8):
        super().__init__()
        self.in_features = _positive_int("in_features", in_features)
        self.kernels = _positive_int("kernels", kernels)
        self.kernel_dim = _positive_int("kernel_dim", kernel_dim)
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    @property
    def out_features(self) -> int:
        return self.in_features + self.kernels

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.T).reshape(-1, self.kernels, self.kernel_dim)           # (n, B, C)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)              # (n, n, B)
        o = torch.exp(-l1).sum(dim=1) - 1.0                                  # drop j = i (exp(0) = 1)
        return torch.cat([f, o], dim=1)


def _hidden_layers(width: int, hidden: int, depth: int, activation: str, spectral_norm: bool) -> list[nn.Module]:
    """``depth`` blocks of Linear(-> hidden) + activation, the body of both MLPs."""
    _positive_int("hidden", hidden)
    _positive_int("depth", depth)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [_sn(nn.Linear(width, hidden), spectral_norm), _activation(activation)]
        width = hidden
    return layers


class MLPGenerator(nn.Module):
    """z in R^latent_dim -> ``depth`` hidden layers of ``hidden`` units -> R^out_dim (linear output)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: int = 64, depth: int = 3,
                 activation: str = "relu"):
        super().__init__()
        self.latent_dim = _positive_int("latent_dim", latent_dim)
        self.output_shape = (_positive_int("out_dim", out_dim),)
        layers = _hidden_layers(latent_dim, hidden, depth, activation, spectral_norm=False)
        layers.append(nn.Linear(hidden, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        _check_latent(self, z)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x in R^in_dim -> ``depth`` hidden layers -> [minibatch discrimination] -> one logit per sample."""

    def __init__(self, in_dim: int, hidden: int = 64, depth: int = 3, minibatch_discrimination: bool = False,
                 spectral_norm: bool = False, activation: str = "relu", mbd_kernels: int = 16,
                 mbd_kernel_dim: int = 8):
        super().__init__()
        minibatch_discrimination = _flag("minibatch_discrimination", minibatch_discrimination)
        spectral_norm = _flag("spectral_norm", spectral_norm)
        self.input_shape = (_positive_int("in_dim", in_dim),)
        self.features = nn.Sequential(*_hidden_layers(in_dim, hidden, depth, activation, spectral_norm))
        width = hidden
        self.mbd = MinibatchDiscrimination(width, mbd_kernels, mbd_kernel_dim) if minibatch_discrimination else None
        self.head = _sn(nn.Linear(self.mbd.out_features if self.mbd else width, 1), spectral_norm)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x.reshape(x.shape[0], -1))
        if self.mbd is not None:
            h = self.mbd(h)
        return self.head(h).reshape(-1)


def _stages(image_size: int) -> int:
    if isinstance(image_size, bool) or image_size not in SUPPORTED_IMAGE_SIZES:
        raise ValueError(
            f"image_size {image_size!r} is not supported by DCGAN; supported sizes: {list(SUPPORTED_IMAGE_SIZES)}"
        )
    return int(math.log2(image_size)) - 2  # stride-2 layers between 4x4 and image_size


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. (2016): conv weights ~ N(0, 0.02), BatchNorm gain ~ N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(w, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016), as in the PyTorch example.

    z (latent_dim) -> 4x4 transposed conv to width * 2^(k-1) channels, then k = log2(size) - 2
    stride-2 4x4 transposed convs halving the channels (the last one to ``channels``);
    BatchNorm + ReLU after every layer except the last, tanh output; no biases.
    At 64x64, latent 100, width 64, 3 channels: 3,576,704 parameters.
    """

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int = 64):
        super().__init__()
        k = _stages(image_size)
        self.latent_dim = _positive_int("latent_dim", latent_dim)
        self.output_shape = (_positive_int("channels", channels), image_size, image_size)
        _positive_int("width", width)
        c = width * 2 ** (k - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        _check_latent(self, z)
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator (Radford et al. 2016), as in the PyTorch example.

    k = log2(size) - 2 stride-2 4x4 convs doubling the channels from ``width``
    (LeakyReLU 0.2, BatchNorm on all but the input layer), then a 4x4 valid conv to one
    logit (no sigmoid; the losses take logits); no biases. At 64x64, width 64, 3 channels:
    2,765,568 parameters. With minibatch discrimination the final conv is replaced by
    flatten -> :class:`MinibatchDiscrimination` -> linear. ``spectral_norm`` wraps every
    conv/linear (Miyato et al. 2018); BatchNorm is then left out, as in SN-GAN.
    """

    def __init__(self, image_size: int, channels: int, width: int = 64, minibatch_discrimination: bool = False,
                 spectral_norm: bool = False, mbd_kernels: int = 16, mbd_kernel_dim: int = 8):
        super().__init__()
        minibatch_discrimination = _flag("minibatch_discrimination", minibatch_discrimination)
        spectral_norm = _flag("spectral_norm", spectral_norm)
        k = _stages(image_size)
        self.input_shape = (_positive_int("channels", channels), image_size, image_size)
        _positive_int("width", width)
        c = width
        layers: list[nn.Module] = [_sn(nn.Conv2d(channels, c, 4, 2, 1, bias=False), spectral_norm),
                                   nn.LeakyReLU(0.2, True)]
        for _ in range(k - 1):
            layers.append(_sn(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), spectral_norm))
            if not spectral_norm:
                layers.append(nn.BatchNorm2d(2 * c))
            layers.append(nn.LeakyReLU(0.2, True))
            c *= 2
        self.features = nn.Sequential(*layers)
        if minibatch_discrimination:
            self.mbd = MinibatchDiscrimination(c * 16, mbd_kernels, mbd_kernel_dim)
            self.head = _sn(nn.Linear(self.mbd.out_features, 1), spectral_norm)
        else:
            self.mbd = None
            self.head = _sn(nn.Conv2d(c, 1, 4, 1, 0, bias=False), spectral_norm)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        if self.mbd is not None:
            h = self.mbd(h.reshape(h.shape[0], -1))
        return self.head(h).reshape(-1)


def build_models(model: str, data_shape: Sequence[int], latent_dim: int, **options) -> tuple[nn.Module, nn.Module]:
    """A generator and a discriminator for samples of ``data_shape``.

    ``model="mlp"``: flat data of shape ``(d,)``; options ``hidden``, ``depth``,
    ``activation`` (both nets), ``g_hidden``/``g_depth``/``d_hidden``/``d_depth`` (one net),
    ``minibatch_discrimination``, ``spectral_norm``.
    ``model="dcgan"``: images ``(channels, size, size)`` with size in
    :data:`SUPPORTED_IMAGE_SIZES`; options ``width`` (both), ``g_width``, ``d_width``,
    ``minibatch_discrimination``, ``spectral_norm``.
    Both: ``pack`` (PacGAN's m, default 1): the discriminator scores groups of m samples
    (:class:`gan.packing.PackedDiscriminator`).
    """
    if not isinstance(model, str) or model.lower() not in MODELS:
        raise ValueError(f"unknown model {model!r}; known models: {list(MODELS)}")
    model = model.lower()
    if isinstance(data_shape, (str, bytes)) or not isinstance(data_shape, Sequence) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in data_shape):
        raise ValueError(f"data_shape must be a sequence of integers >= 1, e.g. (2,) or (1, 16, 16); "
                         f"got {data_shape!r}")
    shape = tuple(data_shape)
    _positive_int("latent_dim", latent_dim)
    opts = dict(options)

    def take(*names, default=None):
        for n in names:
            if n in opts:
                return opts[n]
        return default

    common = {k: _flag(k, opts.pop(k, False)) for k in ("minibatch_discrimination", "spectral_norm")}
    pack = check_pack(opts.pop("pack", 1))
    g, d = _build(model, shape, latent_dim, opts, take, common, pack)
    return g, (PackedDiscriminator(d, shape, pack) if pack > 1 else d)


def _build(model, shape, latent_dim, opts, take, common, pack):
    """The generator for ``shape`` and the discriminator for ``pack`` samples of it stacked."""
    if model == "mlp":
        if len(shape) != 1:
            raise ValueError(f"the mlp model takes flat data of shape (d,), got data_shape {shape}; "
                             "use model='dcgan' for images")
        d_shape = packed_shape(shape, pack)
        known = {"hidden", "depth", "activation", "g_hidden", "g_depth", "d_hidden", "d_depth"}
        _check_options(model, opts, known)
        act = take("activation", default="relu")
        g = MLPGenerator(latent_dim, shape[0], hidden=take("g_hidden", "hidden", default=64),
                         depth=take("g_depth", "depth", default=3), activation=act)
        d = MLPDiscriminator(d_shape[0], hidden=take("d_hidden", "hidden", default=64),
                             depth=take("d_depth", "depth", default=3), activation=act, **common)
        return g, d
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"the dcgan model takes square images, data_shape (channels, size, size); got {shape}")
    if shape[1] not in SUPPORTED_IMAGE_SIZES:
        raise ValueError(f"data_shape {shape}: image_size {shape[1]} is not supported by DCGAN; "
                         f"supported sizes: {list(SUPPORTED_IMAGE_SIZES)}")
    _check_options(model, opts, {"width", "g_width", "d_width"})
    channels, size, d_shape = shape[0], shape[1], packed_shape(shape, pack)
    g = DCGANGenerator(latent_dim, size, channels, width=take("g_width", "width", default=64))
    d = DCGANDiscriminator(size, d_shape[0], width=take("d_width", "width", default=64), **common)
    return g, d


def _check_options(model: str, opts: dict, known: set) -> None:
    unknown = sorted(set(opts) - known)
    if unknown:
        raise ValueError(f"model {model!r} does not take option(s) {unknown}; its options: "
                         f"{sorted(known | {'minibatch_discrimination', 'spectral_norm', 'pack'})}")
