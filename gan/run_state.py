"""A run's state on disk: what a checkpoint holds, reading a run folder back, ``load_run``.

Run folder::

    RUN/config.json        the resolved TrainConfig
    RUN/environment.json   what ran it, one entry per start or resume: the step, the solver options in
                           effect (defaults included), versions, CPU kernels, threads, device, ranks, CPU
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
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

import equilib as eq
from equilib.compare.machine import cpu_model
from equilib.solvers import solver_options
from gan import parallel, runs
from gan.building import Built, build
from gan.checkpoint import CheckpointError, load_checkpoint
from gan.config import RESUMABLE_CHANGES, ConfigError, TrainConfig
from gan.runs import RunError

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "ENVIRONMENT", "FORMAT", "KERNEL_VARIABLES", "environment",
           "record_environment", "read_environment", "state", "load_state", "read_config", "newest_checkpoint",
           "load_run", "describe", "default_out"]

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
ENVIRONMENT = "environment.json"
FORMAT = 2
#: environment variables that choose the CPU kernels, and so can move a run's numbers between machines
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG")
_FORMATS = {1: "the game drew its own latent noise", 2: "the trainer draws z from its own checkpointed stream"}


def versions() -> dict[str, str]:
    return {"equilib": eq.__version__, "torch": torch.__version__.split("+")[0]}


def environment(b: Built, step: int) -> dict[str, Any]:
    """What runs ``b`` from ``step`` on: the solver's options in effect (its defaults with the config's
    ``solver_options`` over them), versions, the CPU kernels torch dispatches to and the variables
    that choose them, threads, device, number of ranks and the CPU (:func:`cpu_model`)."""
    return {"step": step, "solver_options": {**solver_options(b.config.solver), **b.config.solver_options},
            "versions": {**versions(), "python": platform.python_version()},
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "kernel_variables": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ},
            "threads": torch.get_num_threads(), "device": str(b.device), "ranks": parallel.world(),
            "machine": f"{platform.platform()}, {os.cpu_count()} cores", "cpu": cpu_model()}


def record_environment(run: Path, b: Built, step: int) -> None:
    """Append :func:`environment` to ``run``'s environment.json (a run resumed elsewhere gets a second entry);
    an entry from ``step`` or later (a resume that replaces them), or without a step, is dropped first."""
    kept = [e for e in read_environment(run) if isinstance(e.get("step"), int) and e["step"] < step]
    runs.write_text(run / ENVIRONMENT, json.dumps(kept + [environment(b, step)], indent=2, default=str) + "\n")


def read_environment(run: Path) -> list[dict[str, Any]]:
    """The entries of ``run``'s environment.json; ``[]`` for a run written before it existed (or a
    file cut by a kill: the next start or resume rewrites it)."""
    try:
        entries = json.loads((Path(run) / ENVIRONMENT).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def state(b: Built, step: int, seconds: float) -> dict[str, Any]:
    """Everything a checkpoint holds at ``step``."""
    return {
        "format": FORMAT, "versions": versions(), "step": step, "seconds": seconds, "config": b.config.to_dict(),
        "G": b.G.state_dict(), "D": b.D.state_dict(), "solver": b.solver.state_dict(),
        "ema": b.ema.state_dict() if b.ema is not None else None,
        "uniform": b.uniform.state_dict() if b.uniform is not None else None,
        "data_rng": b.data_generator.get_state(), "noise_rng": b.noise_generator.get_state(),
        "torch_rng": torch.get_rng_state(), "cost": dict(b.pending_cost),
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
    if "cost" in saved:  # checkpoints older than the whole-run count start counting at the resume
        b.pending_cost = dict(saved["cost"])
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
