"""Training configuration: every option of ``gan train`` in one dataclass.

``TrainConfig`` holds what a run needs; fields left at ``None`` are filled by
:meth:`TrainConfig.resolved` from the per-data-set defaults in :data:`DATA_DEFAULTS`
(the best settings found on this project's CPU, see docs/gan_results.md) and the
per-(data set, solver) overrides in :data:`SOLVER_DEFAULTS`. :meth:`TrainConfig.validate`
checks every option and raises :class:`ConfigError` naming the option and the
allowed values, before anything is built.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["TrainConfig", "ConfigError", "DATA_DEFAULTS", "SOLVER_DEFAULTS", "SOLVER_NAMES",
           "OPTIMIZER_NAMES", "LOSS_NAMES", "MODEL_NAMES", "DATA_NAMES", "RESUMABLE_CHANGES", "flag",
           "MOMENTUM_OPTIMIZERS", "BETA_OPTIMIZERS"]


class ConfigError(ValueError):
    """A training option is wrong: the message names the option and the allowed values."""


# Names are repeated here (rather than imported) so that ``gan train --help`` and the
# validation work without building anything; tests check they match the packages.
SOLVER_NAMES = ("simgd", "altgd", "extragradient", "optimistic", "consensus", "unrolled",
                "sga", "cgd", "acgd", "hamiltonian", "lola", "sos")
OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
LOSS_NAMES = ("minimax", "nonsaturating", "wgan-gp", "hinge", "lsgan")
MODEL_NAMES = ("mlp", "dcgan")
DATA_NAMES = ("gaussian1d", "ring", "grid", "digits", "mnist", "fashion-mnist", "cifar10", "folder")
MIXTURES = ("gaussian1d", "ring", "grid")
AMP_NAMES = ("bf16", "fp16")
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
BETA_OPTIMIZERS = ("adam", "adamw")
FLAG_MODEL_OPTIONS = ("minibatch_discrimination", "spectral_norm")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

# Options that may differ when a run is resumed (everything else must match the saved config).
RESUMABLE_CHANGES = ("steps", "progress", "resume", "out", "threads", "keep_checkpoints")

_MIXTURE_BASE: dict[str, Any] = {
    "model": "mlp", "optimizer": "rmsprop", "lr": 1e-3, "batch_size": 512,
    "latent_dim": 16, "width": 64, "depth": 3, "steps": 10000, "ema": 0.999,
    "eval_every": 2000, "eval_samples": 2500, "checkpoint_every": 2000,
}

#: Per data set defaults (fields of TrainConfig that are None until resolved). The ring and
#: grid values are the best found on this project's 2-core CPU (docs/gan_results.md):
#: 3 x 64 ReLU MLPs, z in R^16, batch 512, RMSProp 1e-3 decayed to 1e-4 for the last quarter
#: of the steps, EMA 0.999 of the generator.
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "gaussian1d": {**_MIXTURE_BASE, "steps": 5000, "eval_every": 1000, "checkpoint_every": 1000},
    "ring": {**_MIXTURE_BASE, "steps": 12000, "lr_decay_at": 9000, "lr_decay_factor": 0.1},
    "grid": {**_MIXTURE_BASE, "steps": 26000, "lr_decay_at": 14000, "lr_decay_factor": 0.1},
    "digits": {
        "model": "dcgan", "image_size": 16, "width": 32, "optimizer": "adam", "lr": 2e-4, "beta1": 0.5,
        "beta2": 0.999, "batch_size": 64, "latent_dim": 32, "steps": 2000, "ema": 0.99,
        "eval_every": 500, "eval_samples": 1000, "checkpoint_every": 500,
    },
}
for _name in ("mnist", "fashion-mnist", "folder"):
    DATA_DEFAULTS[_name] = {**DATA_DEFAULTS["digits"], "image_size": 32, "width": 64, "latent_dim": 100,
                            "steps": 20000, "eval_every": 1000, "checkpoint_every": 1000}
DATA_DEFAULTS["cifar10"] = dict(DATA_DEFAULTS["mnist"])

#: Overrides for a (data set, solver) pair, applied on top of DATA_DEFAULTS.
SOLVER_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {}
for _data in ("gaussian1d", "ring", "grid", "digits"):
    SOLVER_DEFAULTS[(_data, "consensus")] = {"gamma": 10.0 if _data != "digits" else 1.0}
    SOLVER_DEFAULTS[(_data, "sga")] = {"lam": 1.0}
    SOLVER_DEFAULTS[(_data, "unrolled")] = {"unroll_steps": 5}


@dataclass
class TrainConfig:
    """Every option of a training run (``gan train --help`` lists the same ones).

    ``None`` means "the default for this data set and solver" (see :meth:`resolved`).
    """

    # what to train
    data: str = "ring"
    data_root: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. ring radius/std (gan.load_dataset)
    image_size: int | None = None
    model: str | None = None
    loss: str = "nonsaturating"
    latent_dim: int | None = None
    width: int | None = None          # MLP hidden units
    depth: int | None = None          # MLP hidden layers
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. spectral_norm, minibatch_features
    # loss options
    label_smoothing: float = 0.0
    r1: float = 0.0
    r2: float = 0.0
    gp_weight: float = 10.0
    instance_noise: float = 0.0
    # how to train
    solver: str = "consensus"
    optimizer: str | None = None
    lr: float | None = None
    lr_g: float | None = None
    lr_d: float | None = None
    lr_decay_at: int | None = None    # from this step on, the learning rates are multiplied by lr_decay_factor
    lr_decay_factor: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    momentum: float | None = None
    gamma: float | None = None        # consensus
    lam: float | None = None          # sga
    unroll_steps: int | None = None   # unrolled
    unroll_lr: float | None = None    # unrolled
    d_steps: int | None = None        # altgd: discriminator steps per generator step
    g_steps: int | None = None        # altgd
    alpha: float | None = None        # lola
    batch_size: int | None = None
    steps: int | None = None
    seed: int = 0
    device: str = "cpu"
    amp: str | None = None
    channels_last: bool = False
    # averaging of the generator's parameters (Gidel et al. 2019)
    ema: float | None = None          # 0 switches it off
    uniform_average_from: int | None = None  # start step of the uniform average; None = off
    # bookkeeping
    eval_every: int | None = None
    eval_samples: int | None = None
    checkpoint_every: int | None = None
    diagnostics_every: int = 0
    out: str | None = None
    progress: bool = True
    threads: int | None = None        # torch.set_num_threads for the run (None: leave torch's setting)
    keep_checkpoints: int = 2         # checkpoints kept: checkpoint.pt, .prev, .prev2, ...

    # ---- defaults ------------------------------------------------------------
    def resolved(self) -> "TrainConfig":
        """A copy with every ``None`` filled from the data set's (and solver's) defaults."""
        self.validate_names()
        values = dataclasses.asdict(self)
        defaults = {**DATA_DEFAULTS.get(self.data, {}), **SOLVER_DEFAULTS.get((self.data, self.solver), {})}
        for k, v in defaults.items():
            if values.get(k) is None:
                values[k] = v
        if values["lr"] is None:
            values["lr"] = 2e-4
        if values["optimizer"] is None:
            values["optimizer"] = "adam"
        if values["latent_dim"] is None:
            values["latent_dim"] = 16
        if values["model"] is None:
            values["model"] = "mlp" if self.data in MIXTURES else "dcgan"
        if values["model"] == "mlp":  # ``is None``: a given 0 must reach validate() and be refused
            values["width"] = 64 if values["width"] is None else values["width"]
            values["depth"] = 3 if values["depth"] is None else values["depth"]
        if isinstance(values["model_options"], dict):
            values["model_options"] = {k: flag(f"model option {k}", v) if k in FLAG_MODEL_OPTIONS else v
                                       for k, v in values["model_options"].items()}
        for k, v in (("batch_size", 64), ("steps", 1000), ("ema", 0.0), ("eval_every", 1000),
                     ("eval_samples", 2500), ("checkpoint_every", 1000)):
            if values[k] is None:
                values[k] = v
        values["lr_g"] = values["lr_g"] if values["lr_g"] is not None else values["lr"]
        values["lr_d"] = values["lr_d"] if values["lr_d"] is not None else values["lr"]
        out = TrainConfig(**values)
        out.validate()
        return out

    # ---- checks --------------------------------------------------------------
    def validate_names(self) -> None:
        _choice("data", self.data, DATA_NAMES)
        _choice("solver", self.solver, SOLVER_NAMES)
        _choice("loss", self.loss, LOSS_NAMES)
        if self.model is not None:
            _choice("model", self.model, MODEL_NAMES)
        if self.optimizer is not None:
            _choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        if self.amp is not None:
            _choice("amp", self.amp, AMP_NAMES)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad option and what is allowed."""
        self.validate_names()
        for name in ("lr", "lr_g", "lr_d", "unroll_lr"):
            v = getattr(self, name)
            if v is not None:
                _number(name, v, low=0.0, low_open=True)
        if self.lr_decay_factor is not None:
            _number("lr_decay_factor", self.lr_decay_factor, low=0.0, low_open=True)
        for name in ("gamma", "lam", "label_smoothing", "r1", "r2", "gp_weight", "instance_noise", "alpha"):
            v = getattr(self, name)
            if v is not None or name not in ("gamma", "lam", "alpha"):  # the others have no "default" None
                _number(name, v, low=0.0)
        if self.label_smoothing >= 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if v is not None:
                _number(name, v, low=0.0)
                if v >= 1.0:
                    raise ConfigError(f"{name} must be in [0, 1), got {v!r}")
        if self.momentum is not None:
            _number("momentum", self.momentum)
            if not -1.0 < self.momentum < 1.0:
                raise ConfigError(f"momentum must be in (-1, 1), got {self.momentum!r}")
        for name in ("batch_size", "steps", "latent_dim", "width", "depth", "unroll_steps", "d_steps",
                     "g_steps", "eval_every", "eval_samples", "checkpoint_every", "image_size", "lr_decay_at"):
            v = getattr(self, name)
            if v is not None:
                _integer(name, v, low=1)
        _integer("seed", self.seed, low=0)
        if self.threads is not None:
            _integer("threads", self.threads, low=1)
        _integer("diagnostics_every", self.diagnostics_every, low=0)
        _integer("keep_checkpoints", self.keep_checkpoints, low=1)
        if self.uniform_average_from is not None:
            _integer("uniform_average_from", self.uniform_average_from, low=0)
        if self.ema is not None:
            _number("ema", self.ema, low=0.0)
            if self.ema >= 1.0:
                raise ConfigError(f"ema must be in [0, 1) (0 switches it off), got {self.ema!r}")
        if not isinstance(self.data_options, dict):
            raise ConfigError(f"data_options must be a dict, got {type(self.data_options).__name__}")
        if not isinstance(self.model_options, dict):
            raise ConfigError(f"model_options must be a dict, got {type(self.model_options).__name__}")
        for key in FLAG_MODEL_OPTIONS:
            if key in self.model_options:
                flag(f"model option {key}", self.model_options[key])
        for key in ("data_root", "out"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or not v):
                raise ConfigError(f"{key} must be a non-empty path string, got {v!r}")
        if not isinstance(self.progress, bool):
            raise ConfigError(f"progress must be True or False, got {self.progress!r}")
        self._check_optimizer_options()
        if not isinstance(self.device, str) or not self.device:
            raise ConfigError(f"device must be a string such as 'cpu', 'cuda' or 'cuda:1', got {self.device!r}")
        if not isinstance(self.channels_last, bool):
            raise ConfigError(f"channels_last must be True or False, got {self.channels_last!r}")
        if self.model == "dcgan" and self.data in MIXTURES:
            raise ConfigError(
                f"model 'dcgan' needs image data; data {self.data!r} is a low-dimensional mixture "
                "(use --model mlp)")
        self._check_solver_options()

    def _check_optimizer_options(self) -> None:
        opt = self.optimizer
        if opt is None:
            return
        if self.momentum is not None and opt not in MOMENTUM_OPTIMIZERS:
            raise ConfigError(f"momentum applies to the optimizers that take momentum ({', '.join(MOMENTUM_OPTIMIZERS)}); "
                              f"optimizer is {opt!r}, which would ignore it. Drop momentum or change the optimizer")
        for name in ("beta1", "beta2"):
            if getattr(self, name) is not None and opt not in BETA_OPTIMIZERS:
                raise ConfigError(f"{name} applies to the optimizers {', '.join(BETA_OPTIMIZERS)}; "
                                  f"optimizer is {opt!r}, which would ignore it")

    def _check_solver_options(self) -> None:
        owner = {"gamma": ("consensus",), "lam": ("sga",), "unroll_steps": ("unrolled",),
                 "unroll_lr": ("unrolled",), "d_steps": ("altgd",), "g_steps": ("altgd",),
                 "alpha": ("lola", "sos")}
        for name, solvers in owner.items():
            if getattr(self, name) is not None and self.solver not in solvers:
                raise ConfigError(
                    f"option {name} belongs to solver(s) {list(solvers)}, but solver is {self.solver!r}")

    # ---- what the solver gets ------------------------------------------------
    def solver_options(self) -> dict[str, Any]:
        """Keyword options for ``equilib.make_solver`` from this config."""
        opts: dict[str, Any] = {}
        if self.solver == "consensus" and self.gamma is not None:
            opts["gamma"] = self.gamma
        if self.solver == "sga" and self.lam is not None:
            opts["lam"] = self.lam
        if self.solver == "unrolled":
            if self.unroll_steps is not None:
                opts["unroll_steps"] = self.unroll_steps
            if self.unroll_lr is not None:
                opts["unroll_lr"] = self.unroll_lr
        if self.solver == "altgd" and (self.d_steps is not None or self.g_steps is not None):
            opts["steps"] = {"G": self.g_steps or 1, "D": self.d_steps or 1}
        if self.solver in ("lola", "sos") and self.alpha is not None:
            opts["alpha"] = self.alpha
        return opts

    def optimizer_options(self) -> dict[str, Any] | None:
        """Keyword options for the base optimizer (betas for Adam, momentum for SGD/RMSProp)."""
        opt = self.optimizer
        if opt in ("adam", "adamw"):
            if self.beta1 is None and self.beta2 is None:
                return None
            return {"betas": (0.9 if self.beta1 is None else self.beta1,
                              0.999 if self.beta2 is None else self.beta2)}
        if opt in MOMENTUM_OPTIMIZERS and self.momentum is not None:
            return {"momentum": self.momentum}
        self._check_optimizer_options()
        return None

    # ---- (de)serialisation ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        if not isinstance(values, dict):
            raise ConfigError(f"a config must be a dict of options, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        if "optimizer_options" in values:
            raise ConfigError(
                "optimizer_options is not an option of gan train: the base optimizer's options are beta1, beta2 "
                "(adam, adamw) and momentum (sgd, rmsprop), the same for both players; per-player learning "
                "rates are lr_g and lr_d. For per-player optimizer options build the solver yourself")
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; the options are {sorted(known)}")
        return cls(**values)

    def differences(self, other: "TrainConfig", ignore: tuple[str, ...] = RESUMABLE_CHANGES) -> dict[str, tuple]:
        """``{option: (self's value, other's value)}`` for the options that differ."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and _norm(a[k]) != _norm(b[k])}


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool: True/False, 1/0 or the words true/false, yes/no, on/off (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), got {value!r}")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")


def _number(name: str, value: Any, low: float | None = None, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")


def _integer(name: str, value: Any, low: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
