"""Training configuration: every option of ``gan train`` in one dataclass.

``TrainConfig`` holds what a run needs; fields left at ``None`` (and solver options left
out) are filled by :meth:`TrainConfig.resolved` from the recipe of (data set, solver) in
``gan/recipes.json`` (:mod:`gan.recipes`). :meth:`TrainConfig.validate` checks every option
(:mod:`gan.config_checks`) and raises :class:`ConfigError` naming the option and the allowed
values, before anything is built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

import equilib as eq
from gan import config_checks as checks
from gan.config_checks import (AMP_NAMES, BETA_OPTIMIZERS, DATA_NAMES, FLAG_MODEL_OPTIONS, LOSS_NAMES, MIXTURES,
                               MODEL_NAMES, MOMENTUM_OPTIMIZERS, NONFINITE_ACTIONS, OPTIMIZER_NAMES, SOLVER_NAMES,
                               ConfigError, flag)

__all__ = ["TrainConfig", "ConfigError", "SOLVER_NAMES", "OPTIMIZER_NAMES", "LOSS_NAMES", "MODEL_NAMES",
           "DATA_NAMES", "AMP_NAMES", "NONFINITE_ACTIONS", "RESUMABLE_CHANGES", "RECIPE_FIELDS", "flag",
           "MOMENTUM_OPTIMIZERS", "BETA_OPTIMIZERS"]

# Options that may differ when a run is resumed (everything else must match the saved config).
RESUMABLE_CHANGES = ("steps", "progress", "resume", "out", "threads", "keep_checkpoints", "tensorboard",
                     "tensorboard_every", "compile")

# The per-solver flags of earlier versions, now keys of solver_options.
_MOVED = {"gamma": "gamma", "lam": "lam", "unroll_steps": "unroll_steps", "unroll_lr": "unroll_lr",
          "alpha": "alpha", "d_steps": "steps", "g_steps": "steps"}


@dataclass
class TrainConfig:
    """Every option of a training run (``gan train --help`` lists the same ones).

    ``None`` means "the recipe's value for this data set and solver" (see :meth:`resolved`).
    """

    # what to train
    data: str = "ring"
    data_root: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. ring radius/std (gan.load_dataset)
    image_size: int | None = None
    model: str | None = None
    loss: str | None = None          # the recipe's, else "nonsaturating"
    latent_dim: int | None = None
    width: int | None = None          # MLP hidden units / DCGAN base channels
    depth: int | None = None          # MLP hidden layers
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. spectral_norm, minibatch_features
    # loss options
    label_smoothing: float = 0.0
    r1: float | None = None           # the recipe's, else 0 (off)
    r2: float | None = None           # the recipe's, else 0 (off)
    gp_weight: float = 10.0
    instance_noise: float = 0.0
    # how to train
    solver: str = "consensus"
    solver_options: dict[str, Any] = field(default_factory=dict)  # equilib.solver_options(solver); recipe merged
    optimizer: str | None = None
    lr: float | None = None
    lr_g: float | None = None
    lr_d: float | None = None
    lr_decay_at: int | None = None    # from this step on, the learning rates are multiplied by lr_decay_factor
    lr_decay_factor: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    momentum: float | None = None
    on_nonfinite: str = "raise"       # raise, skip or rollback (equilib.NonFinitePolicy)
    rollback_factor: float = 0.5      # rollback: learning rates multiplied by this per rollback
    max_rollbacks: int = 3            # rollback: the next non-finite step after this many raises
    batch_size: int | None = None
    steps: int | None = None
    seed: int = 0
    device: str = "cpu"
    amp: str | None = None
    channels_last: bool = False
    fused: bool = True                # torch's fused (or foreach) base steps where they exist (equilib.optim.fast_options)
    compile: str | None = None        # torch.compile backend for G and D (COMPILE_BACKENDS); None: eager
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
    tensorboard: bool = False         # event files in RUN/tensorboard/ (gan.tensorboard; extra equilib[tensorboard])
    tensorboard_every: int = 10       # losses and learning rates every N steps (metrics at every evaluation)

    # ---- defaults ------------------------------------------------------------
    def resolved(self, recipes: str | None = None) -> "TrainConfig":
        """A copy with every ``None`` filled from the recipe of (data, solver) (file ``recipes``, default
        the package's), solver and model options merged under the given ones, then checked."""
        from gan.recipes import MERGED_KEY_BY_KEY, recipe

        self.validate_names()
        values = dataclasses.asdict(self)
        book = recipe(self.data, self.solver, recipes)
        # a recipe's values that belong to a choice the caller overrode do not apply: its betas or momentum
        # when another optimizer is given, its per-player rates when one rate is given
        if self.optimizer is not None and self.optimizer != book.get("optimizer"):
            book = {k: v for k, v in book.items() if k not in ("beta1", "beta2", "momentum")}
        if self.lr is not None:
            book = {k: v for k, v in book.items() if k not in ("lr_g", "lr_d")}
        for k, v in book.items():
            if k in MERGED_KEY_BY_KEY:  # the given keys win
                values[k] = {**v, **(values[k] if isinstance(values[k], dict) else {})} \
                    if isinstance(values[k], dict) else values[k]
            elif k != "source" and values.get(k) is None:
                values[k] = v
        if values["model"] is None:
            values["model"] = "mlp" if self.data in MIXTURES else "dcgan"
        for k, fallback in FALLBACKS.items():
            values[k] = fallback if values[k] is None else values[k]
        if values["model"] == "mlp":  # ``is None``: a given 0 must reach validate() and be refused
            values["width"] = 64 if values["width"] is None else values["width"]
            values["depth"] = 3 if values["depth"] is None else values["depth"]
        if isinstance(values["model_options"], dict):
            values["model_options"] = {k: flag(f"model option {k}", v) if k in FLAG_MODEL_OPTIONS else v
                                       for k, v in values["model_options"].items()}
        values["lr_g"] = values["lr_g"] if values["lr_g"] is not None else values["lr"]
        values["lr_d"] = values["lr_d"] if values["lr_d"] is not None else values["lr"]
        missing = [k for k in ("lr", "optimizer", "latent_dim", "batch_size", "steps", "ema", "eval_every",
                               "eval_samples", "checkpoint_every") if values[k] is None]
        if missing:
            raise ConfigError(f"the recipe of data {self.data!r} and solver {self.solver!r} leaves {missing} unset; "
                              "give them or add them to the recipe file")
        out = TrainConfig(**values)
        out.validate()
        return out

    # ---- checks --------------------------------------------------------------
    def validate_names(self) -> None:
        checks.validate_names(self)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad option and what is allowed."""
        checks.validate(self)

    # ---- what the solver gets ------------------------------------------------
    def nonfinite_policy(self) -> eq.NonFinitePolicy:
        """What the solver does on a NaN/Inf step (raise, skip or roll back; equilib.NonFinitePolicy)."""
        return eq.NonFinitePolicy(self.on_nonfinite, self.rollback_factor, self.max_rollbacks)

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
        checks.check_optimizer_options(self)
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
        moved = sorted(k for k in values if k in _MOVED)
        if moved:
            hint = ", ".join(f"{k} -> solver_options[{_MOVED[k]!r}]" for k in moved)
            raise ConfigError(f"option(s) {moved} are solver options now: {hint} (gan train --solver-option "
                              f"KEY=VALUE; altgd's steps per player as steps=G:1,D:2)")
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; the options are {sorted(known)}")
        return cls(**values)

    def differences(self, other: "TrainConfig", ignore: tuple[str, ...] = RESUMABLE_CHANGES) -> dict[str, tuple]:
        """``{option: (self's value, other's value)}`` for the options that differ."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and _norm(a[k]) != _norm(b[k])}


#: what a recipe field takes where no recipe sets it
FALLBACKS = {"loss": "nonsaturating", "r1": 0.0, "r2": 0.0}
#: The fields a recipe fills when they are left out (None), for ``gan train --help``.
RECIPE_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.default is None and f.name not in
                      ("data_root", "amp", "uniform_average_from", "out", "threads", "compile"))


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v
