"""A run's state on disk: what a checkpoint holds, reading a run folder back, ``load_run``.

Run folder::

    RUN/config.json        the resolved TrainConfig
    RUN/metrics.jsonl      one JSON line per evaluation (step, seconds, losses, non-finite steps, metrics)
    RUN/checkpoint.pt      the latest checkpoint (+ checkpoint.pt.prev, .prev2...: keep_checkpoints in all)
    RUN/plots/*.png        samples (mixtures: scatter + KDE; images: grid + interpolation strip)

A checkpoint (run-state format 2) holds the step, both models (with BatchNorm buffers), the
solver's ``state_dict()`` (base optimizers, solver state, non-finite events), the averages,
the trainer's data and noise streams and torch's global generator, and the elapsed seconds,
so a resumed run continues bit-identically on CPU. Format 1 (the game drew its own latent
noise) is refused with a message naming both formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

import equilib as eq
from gan import runs
from gan.building import Built, build
from gan.checkpoint import CheckpointError, load_checkpoint
from gan.config import RESUMABLE_CHANGES, ConfigError, TrainConfig
from gan.runs import RunError

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "FORMAT", "state", "load_state", "read_config", "newest_checkpoint",
           "load_run", "describe", "default_out"]

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
FORMAT = 2
_FORMATS = {1: "the game drew its own latent noise", 2: "the trainer draws z from its own checkpointed stream"}


def versions() -> dict[str, str]:
    return {"equilib": eq.__version__, "torch": torch.__version__.split("+")[0]}


def state(b: Built, step: int, seconds: float) -> dict[str, Any]:
    """Everything a checkpoint holds at ``step``."""
    return {
        "format": FORMAT, "versions": versions(), "step": step, "seconds": seconds, "config": b.config.to_dict(),
        "G": b.G.state_dict(), "D": b.D.state_dict(), "solver": b.solver.state_dict(),
        "ema": b.ema.state_dict() if b.ema is not None else None,
        "uniform": b.uniform.state_dict() if b.uniform is not None else None,
        "data_rng": b.data_generator.get_state(), "noise_rng": b.noise_generator.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


def load_state(b: Built, saved: Mapping[str, Any], path: Path) -> tuple[int, float]:
    """Put a checkpoint's state into ``b``; returns ``(step, seconds)``."""
    if not isinstance(saved, Mapping) or saved.get("format") != FORMAT:
        fmt = saved.get("format") if isinstance(saved, Mapping) else None
        wrote = saved.get("versions", {}) if isinstance(saved, Mapping) else {}
        by = ", ".join(f"{k} {v}" for k, v in wrote.items()) or "an unknown version"
        was = f" ({_FORMATS[fmt]})" if fmt in _FORMATS else ""
        raise CheckpointError(f"{path} was written by {by} in run-state format {fmt!r}{was}; this version "
                              f"(equilib {eq.__version__}) reads format {FORMAT} only ({_FORMATS[FORMAT]}); "
                              "start a new run")
    for key, module in (("G", b.G), ("D", b.D)):
        try:
            module.load_state_dict(saved[key])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"{path} holds another model {key} than this run's config builds: "
                                  f"{' '.join(str(e).split())}") from None
    try:
        b.solver.load_state_dict(saved["solver"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path} holds another solver state than this run's config: {e}") from None
    if b.ema is not None:
        b.ema.load_state_dict(saved["ema"])
    if b.uniform is not None:
        b.uniform.load_state_dict(saved["uniform"])
    b.data_generator.set_state(saved["data_rng"])
    b.noise_generator.set_state(saved["noise_rng"])
    torch.set_rng_state(saved["torch_rng"])
    return int(saved["step"]), float(saved["seconds"])


def read_config(run: Path) -> TrainConfig:
    """The config saved in run folder ``run``; :class:`RunError` if there is no run there."""
    if not run.is_dir():
        raise RunError(f"run folder {run} does not exist" if not run.exists() else f"{run} is a file, not a run folder")
    path = run / CONFIG
    if not path.is_file():
        raise RunError(f"{run} holds no run: expected {CONFIG} (and {CHECKPOINT}) written by gan train")
    try:
        values = json.loads(path.read_text())
        return TrainConfig.from_dict(values)
    except (json.JSONDecodeError, UnicodeDecodeError, ConfigError, TypeError) as e:
        raise RunError(f"{path} is not the config of a gan run: {e}") from None


def newest_checkpoint(run: Path) -> Path | None:
    """The newest verifying checkpoint of ``run`` (warning about skipped ones); None if there is none."""
    path, skipped = runs.pick_checkpoint(run / CHECKPOINT)
    for bad, why in skipped:
        runs.warn(f"skipped checkpoint {bad.name}: {why}" + (f"; using {path.name}" if path else ""))
    if path is None and skipped:
        raise RunError(f"no checkpoint of {run} verifies ({', '.join(p.name for p, _ in skipped)}); "
                       "nothing to resume from")
    return path


def load_run(run: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> tuple[Built, int, float]:
    """Rebuild a run from its folder and load a checkpoint (default: the newest that verifies):
    ``(built, step, seconds)``."""
    run = Path(run)
    cfg = read_config(run)
    if checkpoint is None:
        checkpoint = newest_checkpoint(run)
        if checkpoint is None:
            raise RunError(f"{run} holds no checkpoint yet (the run stopped before its first one)")
    b = build(cfg)
    saved = load_checkpoint(checkpoint, map_location=b.device)
    try:
        saved_cfg = TrainConfig.from_dict(saved["config"])
    except (KeyError, TypeError, ConfigError) as e:
        if isinstance(saved, Mapping) and saved.get("format") != FORMAT:
            load_state(b, saved, Path(checkpoint))  # names the format difference
        raise CheckpointError(f"{checkpoint} holds no gan run config: {e}") from None
    diff = cfg.differences(saved_cfg, ignore=RESUMABLE_CHANGES)
    if diff:
        raise RunError(f"checkpoint {checkpoint} does not belong to this run, its config differs from "
                       f"{run / CONFIG}: {describe(diff, 'config.json', 'checkpoint')}")
    step, seconds = load_state(b, saved, Path(checkpoint))
    return b, step, seconds


def describe(diff: Mapping[str, tuple], first: str, second: str) -> str:
    return "; ".join(f"{k}: {first} {a!r}, {second} {b!r}" for k, (a, b) in diff.items())


def default_out(cfg: TrainConfig) -> str:
    return str(Path("runs") / f"{cfg.data}-{cfg.solver}-seed{cfg.seed}")
