"""The training loop: draw, step, callbacks.

One step: ``args = (x, z[, extra])`` with a real batch x from the data stream and the latent
batch z (and the game's other draws) from the noise stream (:meth:`gan.building.Built.draw`),
then ``solver.step(*args)``, then the callbacks ``fn(built, step, losses)``: the built-in ones
of :mod:`gan.callbacks` (averaging, the user's, diagnostics, evaluation, :mod:`gan.tensorboard` with
``tensorboard``, progress, checkpoints).
Learning rates follow a step decay (:func:`set_learning_rates`). A NaN/Inf step is handled by
the solver's policy (``on_nonfinite``): raise (:class:`TrainingError`), skip, or roll back.
Every step is counted (:func:`equilib.compare.run.counting`: calls of the game's ``evaluate`` and
of ``torch.autograd.grad``), so each evaluation's line in metrics.jsonl says what a step of this
solver cost, in gradient evaluations and backward passes, on average over the steps since the
previous line (``Built.step_cost``: the means and how many steps they cover).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import equilib as eq
from equilib.compare.run import counting
from gan import callbacks as cb
from gan import parallel
from gan.building import Built
from gan.config import TrainConfig
from gan.run_state import CHECKPOINT, record_environment
from gan.tensorboard import TensorBoard

__all__ = ["loop", "TrainResult", "TrainingError", "Callback", "set_learning_rates"]

Callback = Callable[[Built, int, dict[str, torch.Tensor]], None]


class TrainingError(eq.NonFiniteError):
    """Training stopped on a NaN/Inf; ``player`` and ``step`` say where, ``checkpoint`` what survives.

    ``step`` counts like the run folder does: step k is the k-th update (the solver's
    :class:`equilib.NonFiniteError` counts completed steps, i.e. k - 1).
    """

    def __init__(self, cause: eq.NonFiniteError, checkpoint: str | None, checkpoint_step: int | None):
        self.cause = cause
        self.checkpoint, self.checkpoint_step = checkpoint, checkpoint_step
        # the solver counts completed steps from 0; the run counts steps from 1 (step k leaves k updates)
        super().__init__(cause.player, cause.step + 1, cause.what)

    def __str__(self) -> str:
        kept = (f"the last good checkpoint {self.checkpoint} (step {self.checkpoint_step}) is intact"
                if self.checkpoint else "no checkpoint had been written yet")
        return (f"training stopped at step {self.step}: non-finite {self.what} for player "
                f"{self.player!r}; {kept}. Try a smaller learning rate, another solver, or "
                "--on-nonfinite skip/rollback.")


@dataclass
class TrainResult:
    """What :func:`gan.train` returns: the run folder, the last step, the last evaluation, time."""

    run_dir: Path
    steps: int
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def __fspath__(self) -> str:
        return str(self.run_dir)


def set_learning_rates(b: Built, done: int) -> None:
    """Step decay: eta_i = lr_i * r^k while fewer than ``lr_decay_at`` steps are done, then also times
    ``lr_decay_factor``; r^k is the rollback factor to the power of the rollbacks so far (1 without).

    Depends only on the step count and the checkpointed rollbacks, so a resumed run follows the same schedule.
    """
    cfg = b.config
    if cfg.lr_decay_at is None:
        return
    factor = (cfg.lr_decay_factor if cfg.lr_decay_factor is not None else 0.1) if done >= cfg.lr_decay_at else 1.0
    policy = b.solver.nonfinite
    factor *= policy.factor ** policy.rollbacks
    for player, base in (("G", cfg.lr_g), ("D", cfg.lr_d)):
        b.solver.lr[player] = base * factor


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.amp is None:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def loop(b: Built, run: Path, start: int, seconds: float, history: list[dict[str, Any]],
         callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Train ``b`` from step ``start`` to ``b.config.steps`` in run folder ``run``."""
    cfg = b.config
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if parallel.is_writer():
        record_environment(run, b, start)
    session = cb.Session(run, time.perf_counter() - seconds, history,
                         (str(run / CHECKPOINT), start) if start > 0 else None)
    checkpoints = cb.Checkpoints(session)
    progress = cb.Progress(b, start, session)
    chain: list[Callback] = [cb.Averaging(), *callbacks]
    diagnostics = cb.Diagnostics(b, session) if cfg.diagnostics_every else None
    if diagnostics is not None:
        chain.append(diagnostics)
    chain.append(cb.Evaluation(session))
    board = TensorBoard(b, session, start, diagnostics) if cfg.tensorboard else None
    chain += [*([board] if board is not None else []), progress, checkpoints]
    b.G.train()
    b.D.train()
    step = start
    try:
        if start == 0:
            checkpoints.write(b, 0)
        while step < cfg.steps:
            set_learning_rates(b, step)
            b.step_args = b.draw()
            try:
                with _autocast(cfg, b.device), counting(b.game, b.pending_cost):
                    losses = b.solver.step(*b.step_args)
            except eq.NonFiniteError as e:
                raise TrainingError(e, *(session.last_checkpoint or (None, None))) from e
            step, cost = step + 1, b.pending_cost
            cost["steps"] += 1
            if step % cfg.eval_every == 0 or step == cfg.steps:  # the evaluation's line takes the means
                b.step_cost = {"evaluations": cost["evals"] / cost["steps"],
                               "backward": cost["backward"] / cost["steps"], "steps": cost["steps"]}
                b.pending_cost = {"evals": 0, "backward": 0, "steps": 0}
            for fn in chain:
                fn(b, step, losses)
    finally:
        progress.close()
        if board is not None:
            board.close()
    metrics = history[-1] if history else {}
    return TrainResult(run, step, session.seconds(), metrics, history)
