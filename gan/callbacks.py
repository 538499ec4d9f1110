"""The loop's built-in callbacks: averaging, diagnostics, evaluation, progress, checkpoints.

Each is called as ``fn(built, step, losses)`` after every step, like a user's callback (the
loop runs them in this order: averaging, the user's, diagnostics, evaluation, progress,
checkpoints). They share a :class:`Session`: the run folder, the clock, the history of
evaluations and the last checkpoint written.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gan import parallel
from gan.building import Built
from gan.checkpoint import save_checkpoint
from gan.config import ConfigError
from gan.evaluation import evaluate, jsonable
from gan.run_state import CHECKPOINT, METRICS, state

__all__ = ["Session", "Averaging", "Diagnostics", "Evaluation", "Progress", "Checkpoints", "nonfinite_counts",
           "diagnostics_available"]


@dataclass
class Session:
    """What the built-in callbacks share during one call of the loop."""

    run: Path
    t0: float                                   # time.perf_counter() at the run's (virtual) start
    history: list[dict[str, Any]] = field(default_factory=list)
    last_checkpoint: tuple[str, int] | None = None

    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def nonfinite_counts(b: Built) -> dict[str, int]:
    """Steps the solver skipped or rolled back so far (equilib.NonFinitePolicy's events, checkpointed)."""
    events = b.solver.nonfinite.events
    return {"skip": sum(e["action"] == "skip" for e in events),
            "rollback": sum(e["action"] == "rollback" for e in events)}


class Averaging:
    """EMA of G after every step, the uniform average from ``uniform_average_from`` on."""

    def __call__(self, b: Built, step: int, losses) -> None:
        if b.ema is not None:
            b.ema.update()
        if b.uniform is not None and step >= b.config.uniform_average_from:
            b.uniform.update()


def diagnostics_available() -> bool:
    """True when this equilib has ``equilib.diagnostics.Recorder``."""
    try:
        from equilib import diagnostics
    except ImportError:  # pragma: no cover - equilib always has it now
        return False
    return hasattr(diagnostics, "Recorder")


class Diagnostics:
    """:class:`equilib.diagnostics.Recorder` rows every ``diagnostics_every`` steps in ``RUN/diagnostics.jsonl``
    (eigenvalues of J as ``[re, im]`` pairs, gradient norms, distance), on the step's own arguments
    (real batch and noise), so switching them on draws nothing and leaves the run as it was."""

    def __init__(self, b: Built, session: Session):
        if not diagnostics_available():  # pragma: no cover
            raise ConfigError("diagnostics_every needs equilib.diagnostics.Recorder, which this equilib "
                              "does not have; leave diagnostics_every at 0")
        from equilib.diagnostics import Recorder

        has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in (*b.G.modules(), *b.D.modules()))
        self.recorder = Recorder(every=b.config.diagnostics_every, eval_mode=has_bn)
        self.path = session.run / "diagnostics.jsonl"

    def __call__(self, b: Built, step: int, losses) -> None:
        if step % b.config.diagnostics_every:
            return
        row = dict(self.recorder.record(step, b.solver, *b.step_args))  # on every rank: its products are collective
        if not parallel.is_writer():
            return
        row["eigenvalues"] = [[z.real, z.imag] for z in row.get("eigenvalues", [])]
        with open(self.path, "a") as fh:
            fh.write(json.dumps(jsonable(row)) + "\n")


class Evaluation:
    """Every ``eval_every`` steps and at the last: one line of ``RUN/metrics.jsonl`` (step, seconds, losses,
    non-finite steps so far, the step's cost in gradient evaluations and backward passes, metrics of every
    generator) and the plots."""

    def __init__(self, session: Session):
        self.session = session

    def __call__(self, b: Built, step: int, losses) -> None:
        cfg = b.config
        if (step % cfg.eval_every and step != cfg.steps) or not parallel.is_writer():
            return
        rec = {"step": step, "seconds": round(self.session.seconds(), 3),
               "losses": {k: jsonable(v) for k, v in losses.items()}, "nonfinite": nonfinite_counts(b),
               **({"cost": dict(b.step_cost)} if b.step_cost is not None else {}),
               **evaluate(b, step, self.session.run / "plots")}
        self.session.history.append(rec)
        with open(self.session.run / METRICS, "a") as fh:
            fh.write(json.dumps(rec) + "\n")


class Progress:
    """A tqdm bar when stderr is a terminal; otherwise one line per evaluation (no carriage returns)."""

    def __init__(self, b: Built, start: int, session: Session, stream=None):
        self.session, self.stream = session, stream if stream is not None else sys.stderr
        cfg = b.config
        self.bar = None
        self.on = cfg.progress and parallel.is_writer()
        if self.on and _isatty(self.stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=cfg.steps, initial=start, dynamic_ncols=True, desc=f"{cfg.data} {cfg.solver}",
                            leave=True, file=self.stream)

    def __call__(self, b: Built, step: int, losses) -> None:
        cfg = b.config
        if self.bar is not None:
            self.bar.update(1)
            if step % 25 == 0 or step == cfg.steps:
                self.bar.set_postfix({f"L_{k}": f"{float(v):.4f}" for k, v in losses.items()}, refresh=False)
        elif self.on and self.session.history and self.session.history[-1]["step"] == step:
            rec = self.session.history[-1]
            loss = " ".join(f"L_{k} {float(v):.4f}" for k, v in losses.items())
            scores = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in rec.get("ema" if b.ema is not None else "G", {}).items())
            bad = rec["nonfinite"]
            dropped = f" skipped {bad['skip']} rolled back {bad['rollback']}" if any(bad.values()) else ""
            print(f"{cfg.data} {cfg.solver} step {step}/{cfg.steps} {rec['seconds']:.1f}s {loss}{dropped}"
                  + (f" | {scores}" if scores else ""), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Checkpoints:
    """A checkpoint at step 0 of a fresh run, every ``checkpoint_every`` steps and at the last."""

    def __init__(self, session: Session):
        self.session = session

    def write(self, b: Built, step: int) -> None:
        path = self.session.run / CHECKPOINT
        if parallel.is_writer():  # the state is the same on every rank
            save_checkpoint(state(b, step, self.session.seconds()), path, keep=b.config.keep_checkpoints)
        self.session.last_checkpoint = (str(path), step)

    def __call__(self, b: Built, step: int, losses) -> None:
        if step % b.config.checkpoint_every == 0 or step == b.config.steps:
            self.write(b, step)
