"""The checks of ``gan train``'s options: names, numbers, solver options, one-line errors.

Every check raises :class:`ConfigError` naming the option and the allowed values, before
anything is built. Solver options are data: their names and defaults come from
``equilib.solver_options(solver)`` (the solver's constructor), their values are checked by
the solver itself when it is built; :func:`parse_value` reads a ``KEY=VALUE`` value of the
command line (int, float, bool, none, text, or per player as ``G:1,D:2``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import equilib as eq
from gan.data import DATASETS
from gan.losses import LOSSES

__all__ = ["ConfigError", "SOLVER_NAMES", "OPTIMIZER_NAMES", "LOSS_NAMES", "MODEL_NAMES", "DATA_NAMES", "MIXTURES",
           "AMP_NAMES", "COMPILE_BACKENDS", "FIRST_ORDER_SOLVERS", "NONFINITE_ACTIONS", "MOMENTUM_OPTIMIZERS",
           "BETA_OPTIMIZERS", "FLAG_MODEL_OPTIONS", "flag", "choice", "number", "integer", "parse_value",
           "check_solver_options", "validate"]


class ConfigError(ValueError):
    """A training option is wrong: the message names the option and the allowed values."""


# One table each, read from the packages that own them.
SOLVER_NAMES = tuple(eq.SOLVERS)
OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
LOSS_NAMES = tuple(LOSSES)
MODEL_NAMES = ("mlp", "dcgan")  # gan.models.MODELS (which imports this module; a test checks they match)
DATA_NAMES = tuple(DATASETS)
MIXTURES = ("gaussian1d", "ring", "grid")
AMP_NAMES = ("bf16", "fp16")
# torch.compile backends: inductor generates code (the one that can be faster); aot_eager and eager only trace
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")
# the solvers torch.compile can run: no double backward in a step (equilib's Solver.second_order)
FIRST_ORDER_SOLVERS = tuple(n for n, cls in eq.SOLVERS.items() if not cls.second_order)
NONFINITE_ACTIONS = ("raise", "skip", "rollback")
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
BETA_OPTIMIZERS = ("adam", "adamw")
FLAG_MODEL_OPTIONS = ("sync_batchnorm", "minibatch_discrimination", "spectral_norm")
_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool: True/False, 1/0 or the words true/false, yes/no, on/off (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE + ("1", "0"):
        return value.strip().lower() in _TRUE + ("1",)
    raise ConfigError(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), got {value!r}")


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")


def number(name: str, value: Any, low: float | None = None, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")


def integer(name: str, value: Any, low: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


# ---- solver options ------------------------------------------------------------------------

def _scalar(text: str) -> Any:
    word = text.strip()
    if word.lower() in _TRUE:
        return True
    if word.lower() in _FALSE:
        return False
    if word.lower() in ("none", "null"):
        return None
    try:
        value = json.loads(word)
    except json.JSONDecodeError:
        return word
    return value if isinstance(value, (int, float, str)) else word


def parse_value(text: str) -> Any:
    """A command-line value: ``3`` -> 3, ``1e-3`` -> 0.001, ``true`` -> True, ``none`` -> None,
    ``same`` -> "same", and per player ``G:1,D:2`` -> {"G": 1, "D": 2}."""
    if not isinstance(text, str):
        return text
    if ":" in text and all(":" in part for part in text.split(",")):
        out = {}
        for part in text.split(","):
            key, value = part.split(":", 1)
            if not key.strip():
                raise ConfigError(f"per-player value {text!r}: a player name is missing before ':'")
            out[key.strip()] = _scalar(value)
        return out
    return _scalar(text)


def check_solver_options(solver: str, options: Any) -> None:
    """Refuse an option ``solver`` does not take, listing the ones it does (values: the solver checks them)."""
    if not isinstance(options, dict):
        raise ConfigError(f"solver_options must be a dict of solver {solver}'s options, got {type(options).__name__}")
    known = eq.solver_options(solver)
    unknown = sorted(k for k in options if k not in known)
    if unknown:
        shown = ", ".join(f"{k} (default {v!r})" for k, v in known.items()) or "none"
        raise ConfigError(f"solver {solver} has no option(s) {unknown}; its options: {shown}")


# ---- the whole config ----------------------------------------------------------------------

def validate_names(cfg) -> None:
    choice("data", cfg.data, DATA_NAMES)
    choice("solver", cfg.solver, SOLVER_NAMES)
    choice("on_nonfinite", cfg.on_nonfinite, NONFINITE_ACTIONS)
    for name, allowed in (("model", MODEL_NAMES), ("loss", LOSS_NAMES), ("optimizer", OPTIMIZER_NAMES),
                          ("amp", AMP_NAMES), ("compile", COMPILE_BACKENDS)):
        if getattr(cfg, name) is not None:
            choice(name, getattr(cfg, name), allowed)


def validate(cfg) -> None:
    """Raise :class:`ConfigError` naming the first bad option of ``cfg`` and what is allowed."""
    validate_names(cfg)
    for name in ("lr", "lr_g", "lr_d", "lr_decay_factor"):
        if getattr(cfg, name) is not None:
            number(name, getattr(cfg, name), low=0.0, low_open=True)
    for name in ("label_smoothing", "r1", "r2", "gp_weight", "instance_noise"):
        if getattr(cfg, name) is None and name in ("r1", "r2"):  # recipe fields: None until a recipe fills them
            continue
        number(name, getattr(cfg, name), low=0.0)
    if cfg.label_smoothing >= 1.0:
        raise ConfigError(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing!r}")
    for name in ("beta1", "beta2"):
        v = getattr(cfg, name)
        if v is not None:
            number(name, v, low=0.0)
            if v >= 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {v!r}")
    if cfg.momentum is not None:
        number("momentum", cfg.momentum)
        if not -1.0 < cfg.momentum < 1.0:
            raise ConfigError(f"momentum must be in (-1, 1), got {cfg.momentum!r}")
    for name in ("batch_size", "steps", "latent_dim", "width", "depth", "eval_every", "eval_samples",
                 "checkpoint_every", "image_size", "lr_decay_at"):
        if getattr(cfg, name) is not None:
            integer(name, getattr(cfg, name), low=1)
    integer("seed", cfg.seed, low=0)
    if cfg.threads is not None:
        integer("threads", cfg.threads, low=1)
    integer("diagnostics_every", cfg.diagnostics_every, low=0)
    integer("keep_checkpoints", cfg.keep_checkpoints, low=1)
    integer("tensorboard_every", cfg.tensorboard_every, low=1)
    number("rollback_factor", cfg.rollback_factor, low=0.0, low_open=True)
    if cfg.rollback_factor >= 1.0:
        raise ConfigError(f"rollback_factor must be in (0, 1), got {cfg.rollback_factor!r}")
    integer("max_rollbacks", cfg.max_rollbacks, low=1)
    if cfg.uniform_average_from is not None:
        integer("uniform_average_from", cfg.uniform_average_from, low=0)
    if cfg.ema is not None:
        number("ema", cfg.ema, low=0.0)
        if cfg.ema >= 1.0:
            raise ConfigError(f"ema must be in [0, 1) (0 switches it off), got {cfg.ema!r}")
    for name in ("data_options", "model_options"):
        if not isinstance(getattr(cfg, name), dict):
            raise ConfigError(f"{name} must be a dict, got {type(getattr(cfg, name)).__name__}")
    for key in FLAG_MODEL_OPTIONS:
        if key in cfg.model_options:
            flag(f"model option {key}", cfg.model_options[key])
    for key in ("data_root", "out"):
        v = getattr(cfg, key)
        if v is not None and (not isinstance(v, str) or not v):
            raise ConfigError(f"{key} must be a non-empty path string, got {v!r}")
    for key in ("progress", "channels_last", "tensorboard", "fused"):
        if not isinstance(getattr(cfg, key), bool):
            raise ConfigError(f"{key} must be True or False, got {getattr(cfg, key)!r}")
    check_optimizer_options(cfg)
    if not isinstance(cfg.device, str) or not cfg.device:
        raise ConfigError(f"device must be a string such as 'cpu', 'cuda' or 'cuda:1', got {cfg.device!r}")
    if cfg.model == "dcgan" and cfg.data in MIXTURES:
        raise ConfigError(f"model 'dcgan' needs image data; data {cfg.data!r} is a low-dimensional mixture "
                          "(use --model mlp)")
    check_solver_options(cfg.solver, cfg.solver_options)
    if cfg.compile is not None:
        check_compile(cfg)
    if cfg.tensorboard:
        from gan.tensorboard import require
        require()  # the extra equilib[tensorboard]: refused here, before anything is written


def check_compile(cfg) -> None:
    """torch.compile's AOTAutograd has no double backward: refuse what differentiates through gradients."""
    if cfg.solver not in FIRST_ORDER_SOLVERS:
        raise ConfigError(f"compile: solver {cfg.solver!r} differentiates through gradients (double backward), which "
                          f"torch.compile does not support; compile works with {', '.join(FIRST_ORDER_SOLVERS)}")
    penalties = [f"{k}={getattr(cfg, k)}" for k in ("r1", "r2") if getattr(cfg, k)]
    if cfg.loss == "wgan-gp" and cfg.gp_weight:
        penalties.append(f"loss wgan-gp with gp_weight={cfg.gp_weight}")
    if penalties:
        raise ConfigError(f"compile: the gradient penalties {penalties} differentiate through D's input gradient "
                          "(double backward), which torch.compile does not support; set them to 0 or leave out compile")
    if cfg.diagnostics_every:
        raise ConfigError(f"compile: diagnostics_every={cfg.diagnostics_every} takes Jacobian products (double "
                          "backward), which torch.compile does not support; set it to 0 or leave out compile")


def check_optimizer_options(cfg) -> None:
    opt = cfg.optimizer
    if opt is None:
        return
    if cfg.momentum is not None and opt not in MOMENTUM_OPTIMIZERS:
        raise ConfigError(f"momentum applies to the optimizers that take momentum ({', '.join(MOMENTUM_OPTIMIZERS)}); "
                          f"optimizer is {opt!r}, which would ignore it. Drop momentum or change the optimizer")
    if cfg.momentum is not None and cfg.momentum < 0 and opt != "sgd":
        raise ConfigError(f"momentum must be in [0, 1) for optimizer {opt!r} (torch's RMSprop refuses negative "
                          f"momentum), got {cfg.momentum!r}; negative momentum (Gidel et al. 2019) works with sgd")
    for name in ("beta1", "beta2"):
        if getattr(cfg, name) is not None and opt not in BETA_OPTIMIZERS:
            raise ConfigError(f"{name} applies to the optimizers {', '.join(BETA_OPTIMIZERS)}; "
                              f"optimizer is {opt!r}, which would ignore it")
