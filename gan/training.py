"""Training a GAN with an equilib solver: :func:`train` starts or resumes a run.

The pieces, one concern each: :mod:`gan.building` (models, game, solver, random streams),
:mod:`gan.loop` (draw, step, callbacks), :mod:`gan.callbacks` (averaging, diagnostics,
evaluation, progress, checkpoints), :mod:`gan.evaluation` (metrics and plots),
:mod:`gan.run_state` (what a checkpoint holds, run folders, ``load_run``) and
:mod:`gan.sampling`. ``train(resume=RUN)`` continues bit-identically on CPU, from the newest
checkpoint that verifies (see :mod:`gan.runs` and docs/reliability.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gan import parallel, runs
from gan.building import Built, build, resolve_device
from gan.callbacks import diagnostics_available
from gan.config import RESUMABLE_CHANGES, ConfigError, TrainConfig
from gan.evaluation import evaluate, generate
from gan.loop import Callback, TrainingError, TrainResult, loop
from gan.run_state import CHECKPOINT, CONFIG, METRICS, default_out, describe, load_run, newest_checkpoint, read_config
from gan.runs import RunError
from gan.sampling import sample

__all__ = ["train", "TrainResult", "TrainingError", "RunError", "resolve_device", "build", "Built",
           "load_run", "sample", "evaluate", "generate", "diagnostics_available", "CHECKPOINT", "CONFIG", "METRICS"]


def train(config: TrainConfig | Mapping[str, Any] | None = None, *, resume: str | os.PathLike | None = None,
          callbacks: Sequence[Callback] = (), **options: Any) -> TrainResult:
    """Train a GAN; returns a :class:`TrainResult` (``os.fspath(result)`` is the run folder).

    ``config`` is a :class:`TrainConfig` (or a dict of its fields); keyword ``options``
    override its fields, e.g. ``train(data="ring", solver="consensus", steps=20000,
    solver_options={"gamma": 10.0})``. Options left out take the recipe of (data, solver)
    (``gan/recipes.json``). ``resume=RUN`` continues the run in folder RUN from its
    checkpoint; options given then must agree with the saved config, except ``steps``
    (which may extend the run), ``progress``, ``threads`` and ``keep_checkpoints``.
    ``callbacks`` are called as ``fn(built, step, losses)`` after every step.

    Raises :class:`TrainingError` (a ``NonFiniteError`` naming the step and player) if
    a loss or gradient becomes NaN/Inf and ``on_nonfinite`` is "raise" (or the rollbacks
    are used up); the last checkpoint is left as it was.
    """
    if isinstance(config, Mapping):
        config = TrainConfig.from_dict(dict(config))
    if config is not None and not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")
    explicit = dict(options)
    if config is not None:
        base = config.to_dict()
        explicit = {**{k: v for k, v in base.items() if v != TrainConfig.__dataclass_fields__[k].default
                       and not (isinstance(v, dict) and not v)}, **explicit}
    if resume is not None:
        return _resume(Path(resume), explicit, callbacks)
    try:
        cfg = TrainConfig.from_dict(explicit).resolved()
    except TypeError as e:
        raise ConfigError(str(e)) from None
    run = Path(cfg.out or default_out(cfg))
    cfg = dataclasses.replace(cfg, out=str(run))
    started = parallel.setup(cfg.device)  # under torchrun: join the ranks (gan.parallel)
    parallel.agree(runs.check_new_run, run, CONFIG)
    b = parallel.agree(build, cfg)
    if parallel.is_writer():  # rank 0 alone writes the run folder
        run.mkdir(parents=True, exist_ok=True)
        runs.write_text(run / CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")  # from here on, --resume works
        (run / METRICS).write_text("")
    return _finish(loop(b, run, 0, 0.0, [], callbacks), started)


def _finish(result: TrainResult, started: bool) -> TrainResult:
    """Leave the process group this call joined, all ranks together (after a run that ended normally)."""
    if started:
        parallel.barrier()
        parallel.shutdown()
    return result


def _given_differs(saved: Any, given: Any) -> bool:
    if isinstance(saved, dict) and isinstance(given, dict):  # solver_options: the keys given must match
        return any(k not in saved or _norm(saved[k]) != _norm(v) for k, v in given.items())
    return _norm(saved) != _norm(given)


def _resume(run: Path, explicit: dict[str, Any], callbacks: Sequence[Callback]) -> TrainResult:
    saved = read_config(run)
    TrainConfig.from_dict({k: v for k, v in explicit.items()})  # unknown or moved options: one clear line
    values = saved.to_dict()
    diff = {k: (values[k], v) for k, v in explicit.items()
            if k not in RESUMABLE_CHANGES and v is not None and _given_differs(values[k], v)}
    if diff:
        raise RunError(f"cannot resume {run}: options differ from its saved config ({describe(diff, 'saved', 'given')}); "
                       "drop them or start a new run")
    if explicit.get("out") not in (None, str(run)) and Path(explicit["out"]).resolve() != run.resolve():
        raise RunError(f"cannot resume {run} into another folder (out={explicit['out']!r}); "
                       "a resumed run continues in its own folder")
    cfg = dataclasses.replace(saved, steps=explicit.get("steps") or saved.steps,
                              progress=explicit.get("progress", saved.progress),
                              threads=explicit.get("threads", saved.threads),
                              keep_checkpoints=explicit.get("keep_checkpoints", saved.keep_checkpoints),
                              tensorboard=explicit.get("tensorboard", saved.tensorboard),
                              tensorboard_every=explicit.get("tensorboard_every", saved.tensorboard_every))
    cfg.validate()
    started = parallel.setup(cfg.device)  # under torchrun: join the ranks; any number of ranks resumes any run
    b, step, seconds = parallel.agree(_load, run, cfg)
    writer = parallel.is_writer()
    resumable = ("steps", "keep_checkpoints", "tensorboard", "tensorboard_every")
    if writer and any(getattr(cfg, k) != getattr(saved, k) for k in resumable):
        runs.write_text(run / CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")
    history = runs.truncate_log(run / METRICS, step) if writer else []
    if writer:
        runs.truncate_log(run / "diagnostics.jsonl", step)
    return _finish(loop(b, run, step, seconds, history, callbacks), started)


def _load(run: Path, cfg: TrainConfig):
    """The run's newest checkpoint that verifies (every rank reads the same file), or a fresh build."""
    runs.check_writable(run, option="resume folder")
    if parallel.is_writer():
        runs.clean_temporaries(run / CHECKPOINT)
    path = newest_checkpoint(run)
    if path is None:  # killed after config.json was written, before the first checkpoint
        if parallel.is_writer():
            runs.warn(f"{run} has no checkpoint yet (the run stopped before its first one): starting it from step 0")
        b, step, seconds = build(cfg), 0, 0.0
    else:
        b, step, seconds = load_run(run, path)
    b.config = cfg
    if cfg.steps < step:
        raise RunError(f"cannot resume {run} to steps={cfg.steps}: its checkpoint is already at step {step}")
    return b, step, seconds


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v
