"""Training a GAN with an equilib solver: the loop, the run folder, resume and sampling.

One training step: draw a real batch x from the data set with the run's data
generator, then ``solver.step(x)`` (the game draws its latent noise from its own
seeded generator on every evaluation of the losses), then update the parameter
averages of G (EMA, uniform; :mod:`gan.averaging`). Every ``eval_every`` steps the
generator(s) are scored on ``eval_samples`` samples from a fixed latent batch (its
own generator, so evaluation never changes the training stream) and plotted.

Run folder::

    RUN/config.json        the resolved TrainConfig
    RUN/metrics.jsonl      one JSON line per evaluation (step, seconds, losses, metrics per generator)
    RUN/checkpoint.pt      the latest checkpoint (+ checkpoint.pt.prev, .prev2...: keep_checkpoints in all)
    RUN/plots/*.png        samples (mixtures: scatter + KDE; images: grid + interpolation strip)

A checkpoint holds the step, both models (with BatchNorm buffers), the solver's
``state_dict()`` (base optimizers and solver state), the averages, the data and noise
generators' states and the elapsed seconds, so ``train(resume=RUN)`` continues
bit-identically on CPU, from the newest checkpoint that verifies (see :mod:`gan.runs`
and docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import equilib as eq
from gan.averaging import EMA, UniformAverage
from gan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gan import runs
from gan.config import RESUMABLE_CHANGES, ConfigError, TrainConfig
from gan.runs import RunError

__all__ = ["train", "TrainResult", "TrainingError", "RunError", "resolve_device", "build", "Built",
           "load_run", "sample", "CHECKPOINT", "CONFIG", "METRICS"]

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
FORMAT = 1


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
                f"{self.player!r}; {kept}. Try a smaller learning rate or another solver.")


@dataclass
class TrainResult:
    """What :func:`train` returns: the run folder, the last step, the last evaluation, time."""

    run_dir: Path
    steps: int
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def __fspath__(self) -> str:
        return str(self.run_dir)


# ---------------------------------------------------------------------------------------------
# devices
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# building a run
# ---------------------------------------------------------------------------------------------

@dataclass
class Built:
    """Everything a run is made of."""

    config: TrainConfig
    device: torch.device
    data: Any
    G: torch.nn.Module
    D: torch.nn.Module
    game: Any
    solver: eq.Solver
    data_generator: torch.Generator
    ema: EMA | None
    uniform: UniformAverage | None

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


def _seeds(seed: int) -> tuple[int, int, int, int]:
    """Independent seeds for model init, data stream, latent noise and evaluation, from one seed."""
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


def build(cfg: TrainConfig) -> Built:
    """Data, models, game, solver and averages for a resolved config, all freshly seeded."""
    # submodules, not ``gan.X`` attributes: works even where an old editable install
    # registered gan as a namespace package (its __init__ then does not run)
    from gan.data import load_dataset
    from gan.game import GANGame
    from gan.models import build_models

    device = resolve_device(cfg.device, cfg.amp, cfg.channels_last)
    init_seed, data_seed, noise_seed, _ = _seeds(cfg.seed)
    data = load_dataset(cfg.data, root=cfg.data_root, image_size=cfg.image_size, **cfg.data_options)
    if cfg.model == "dcgan" and getattr(data, "kind", None) != "images":
        raise ConfigError(f"model 'dcgan' needs image data; data {cfg.data!r} has shape {tuple(data.shape)}")
    torch.manual_seed(init_seed)
    try:
        G, D = build_models(cfg.model, data.shape, cfg.latent_dim, **model_options(cfg))
    except ValueError as e:
        raise ConfigError(f"model {cfg.model!r} does not fit data {cfg.data!r} (shape {tuple(data.shape)}): {e}") \
            from None
    G.to(device)
    D.to(device)
    if cfg.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    game = GANGame(G, D, loss=cfg.loss, latent_dim=cfg.latent_dim, label_smoothing=cfg.label_smoothing,
                       r1=cfg.r1, r2=cfg.r2, gp_weight=cfg.gp_weight, instance_noise=cfg.instance_noise,
                       seed=noise_seed, device=device)
    solver = eq.make_solver(cfg.solver, game, lr={"G": cfg.lr_g, "D": cfg.lr_d}, optimizer=cfg.optimizer,
                            optimizer_options=cfg.optimizer_options(), **cfg.solver_options())
    data_generator = torch.Generator().manual_seed(data_seed)
    ema = EMA(G, cfg.ema) if cfg.ema else None
    uniform = UniformAverage(G) if cfg.uniform_average_from is not None else None
    return Built(cfg, device, data, G, D, game, solver, data_generator, ema, uniform)


def _state(b: Built, step: int, seconds: float) -> dict[str, Any]:
    return {
        "format": FORMAT, "versions": _versions(), "step": step, "seconds": seconds, "config": b.config.to_dict(),
        "G": b.G.state_dict(), "D": b.D.state_dict(), "solver": b.solver.state_dict(),
        "ema": b.ema.state_dict() if b.ema is not None else None,
        "uniform": b.uniform.state_dict() if b.uniform is not None else None,
        "data_rng": b.data_generator.get_state(), "noise_rng": b.game.noise_state(),
        "torch_rng": torch.get_rng_state(),
    }


def _versions() -> dict[str, str]:
    return {"equilib": eq.__version__, "torch": torch.__version__.split("+")[0]}


def _load_state(b: Built, state: Mapping[str, Any], path: Path) -> tuple[int, float]:
    if not isinstance(state, Mapping) or state.get("format") != FORMAT:
        fmt = state.get("format") if isinstance(state, Mapping) else None
        wrote = state.get("versions", {}) if isinstance(state, Mapping) else {}
        by = ", ".join(f"{k} {v}" for k, v in wrote.items()) or "an unknown version"
        raise CheckpointError(f"{path} was written by {by} in run-state format {fmt!r}; this version "
                              f"(equilib {eq.__version__}) reads format {FORMAT} only; start a new run")
    for key, module in (("G", b.G), ("D", b.D)):
        try:
            module.load_state_dict(state[key])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"{path} holds another model {key} than this run's config builds: "
                                  f"{' '.join(str(e).split())}") from None
    try:
        b.solver.load_state_dict(state["solver"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path} holds another solver state than this run's config: {e}") from None
    if b.ema is not None:
        b.ema.load_state_dict(state["ema"])
    if b.uniform is not None:
        b.uniform.load_state_dict(state["uniform"])
    b.data_generator.set_state(state["data_rng"])
    b.game.set_noise_state(state["noise_rng"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"]), float(state["seconds"])


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _eval_mode(*modules: torch.nn.Module):
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


def _latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def generate(generator: torch.nn.Module, z: torch.Tensor, device: torch.device, chunk: int = 1000) -> torch.Tensor:
    """G(z) in eval mode (BatchNorm uses running statistics), in chunks, returned on the CPU as float32."""
    out = []
    with _eval_mode(generator):
        for i in range(0, z.shape[0], chunk):
            out.append(generator(z[i:i + chunk].to(device)).float().cpu())
    return torch.cat(out)


def evaluate(b: Built, step: int, plots_dir: Path | None) -> dict[str, Any]:
    """Metrics of every generator (live, EMA, uniform) on a fixed latent batch; plots if asked."""
    import gan.metrics as gm
    from gan import plots

    cfg = b.config
    z = _latents(cfg.eval_samples, cfg.latent_dim, _seeds(cfg.seed)[3])
    results: dict[str, Any] = {}
    for name, g in b.generators().items():
        x = generate(g, z, b.device)
        if not bool(torch.isfinite(x).all()):
            results[name] = {"finite": False}
            continue
        if b.data.kind == "mixture":
            m = gm.mixture_metrics(x, b.data.means, b.data.std)
        elif cfg.data == "digits":
            m = gm.digits_metrics(x)
        else:
            m = {}
        results[name] = {k: _jsonable(v) for k, v in m.items()}
        if plots_dir is not None and g is b.sampler():
            plots_dir.mkdir(parents=True, exist_ok=True)
            tag = f"step{step:07d}-{name}"
            if b.data.kind == "mixture" and b.data.shape[0] <= 2:
                real = b.data.sample(cfg.eval_samples, torch.Generator().manual_seed(0))
                plots.mixture_plot(x, plots_dir / f"{tag}.png", data=real, means=b.data.means, std=b.data.std,
                                   title=f"{cfg.data} {cfg.solver} {name} step {step}")
            elif b.data.kind == "images":
                plots.image_grid(x[:64], plots_dir / f"{tag}-grid.png", nrow=8)
                zi = _latents(16, cfg.latent_dim, _seeds(cfg.seed)[3] + 1).to(b.device)
                with _eval_mode(g):
                    plots.interpolation_strip(g, zi[:8], zi[8:], plots_dir / f"{tag}-interp.png", steps=8)
    return results


def _jsonable(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        return v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


# ---------------------------------------------------------------------------------------------
# run folders
# ---------------------------------------------------------------------------------------------

def _read_config(run: Path) -> TrainConfig:
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


def _checkpoint(run: Path) -> Path | None:
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
    cfg = _read_config(run)
    if checkpoint is None:
        checkpoint = _checkpoint(run)
        if checkpoint is None:
            raise RunError(f"{run} holds no checkpoint yet (the run stopped before its first one)")
    b = build(cfg)
    state = load_checkpoint(checkpoint, map_location=b.device)
    try:
        saved = TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{checkpoint} holds no gan run config: {e}") from None
    diff = cfg.differences(saved, ignore=RESUMABLE_CHANGES)
    if diff:
        raise RunError(f"checkpoint {checkpoint} does not belong to this run, its config differs from "
                       f"{run / CONFIG}: {_describe(diff, 'config.json', 'checkpoint')}")
    step, seconds = _load_state(b, state, Path(checkpoint))
    return b, step, seconds


def _describe(diff: Mapping[str, tuple], first: str, second: str) -> str:
    return "; ".join(f"{k}: {first} {a!r}, {second} {b!r}" for k, (a, b) in diff.items())


def _default_out(cfg: TrainConfig) -> str:
    return str(Path("runs") / f"{cfg.data}-{cfg.solver}-seed{cfg.seed}")


# ---------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------

Callback = Callable[[Built, int, dict[str, torch.Tensor]], None]


def train(config: TrainConfig | Mapping[str, Any] | None = None, *, resume: str | os.PathLike | None = None,
          callbacks: Sequence[Callback] = (), **options: Any) -> TrainResult:
    """Train a GAN; returns a :class:`TrainResult` (``os.fspath(result)`` is the run folder).

    ``config`` is a :class:`TrainConfig` (or a dict of its fields); keyword ``options``
    override its fields, e.g. ``train(data="ring", solver="consensus", steps=20000)``.
    ``resume=RUN`` continues the run in folder RUN from its checkpoint; options given
    then must agree with the saved config, except ``steps`` (which may extend the run)
    and ``progress``. ``callbacks`` are called as ``fn(built, step, losses)`` after
    every step.

    Raises :class:`TrainingError` (a ``NonFiniteError`` naming the step and player) if
    a loss or gradient becomes NaN/Inf; the last checkpoint is left as it was.
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
    run = Path(cfg.out or _default_out(cfg))
    cfg = dataclasses.replace(cfg, out=str(run))
    runs.check_new_run(run, CONFIG)
    b = build(cfg)
    run.mkdir(parents=True, exist_ok=True)
    runs.write_text(run / CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")  # from here on, --resume works
    (run / METRICS).write_text("")
    return _loop(b, run, 0, 0.0, [], callbacks)


def _resume(run: Path, explicit: dict[str, Any], callbacks: Sequence[Callback]) -> TrainResult:
    saved = _read_config(run)
    unknown = sorted(set(explicit) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown}")
    diff = {k: (saved.to_dict()[k], v) for k, v in explicit.items()
            if k not in RESUMABLE_CHANGES and v is not None and _norm(saved.to_dict()[k]) != _norm(v)}
    if diff:
        raise RunError(f"cannot resume {run}: options differ from its saved config ({_describe(diff, 'saved', 'given')}); "
                       "drop them or start a new run")
    if explicit.get("out") not in (None, str(run)) and Path(explicit["out"]).resolve() != run.resolve():
        raise RunError(f"cannot resume {run} into another folder (out={explicit['out']!r}); "
                       "a resumed run continues in its own folder")
    cfg = dataclasses.replace(saved, steps=explicit.get("steps") or saved.steps,
                              progress=explicit.get("progress", saved.progress),
                              threads=explicit.get("threads", saved.threads),
                              keep_checkpoints=explicit.get("keep_checkpoints", saved.keep_checkpoints))
    cfg.validate()
    runs.check_writable(run, option="resume folder")
    runs.clean_temporaries(run / CHECKPOINT)
    path = _checkpoint(run)
    if path is None:  # killed after config.json was written, before the first checkpoint
        runs.warn(f"{run} has no checkpoint yet (the run stopped before its first one): starting it from step 0")
        b, step, seconds = build(cfg), 0, 0.0
    else:
        b, step, seconds = load_run(run, path)
    b.config = cfg
    if cfg.steps < step:
        raise RunError(f"cannot resume {run} to steps={cfg.steps}: its checkpoint is already at step {step}")
    if (cfg.steps, cfg.keep_checkpoints) != (saved.steps, saved.keep_checkpoints):
        runs.write_text(run / CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")
    history = runs.truncate_log(run / METRICS, step)
    runs.truncate_log(run / "diagnostics.jsonl", step)
    return _loop(b, run, step, seconds, history, callbacks)


def _norm(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_norm(x) for x in v]
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _set_learning_rates(b: Built, done: int) -> None:
    """Step decay: eta_i = lr_i while fewer than ``lr_decay_at`` steps are done, then lr_i * lr_decay_factor.

    Depends only on the step count, so a resumed run follows the same schedule.
    """
    cfg = b.config
    if cfg.lr_decay_at is None:
        return
    factor = (cfg.lr_decay_factor if cfg.lr_decay_factor is not None else 0.1) if done >= cfg.lr_decay_at else 1.0
    for player, base in (("G", cfg.lr_g), ("D", cfg.lr_d)):
        lr = base * factor
        b.solver.lr[player] = lr
        for group in b.solver.optimizers[player].param_groups:
            group["lr"] = lr


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.amp is None:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _loop(b: Built, run: Path, start: int, seconds: float, history: list[dict[str, Any]],
          callbacks: Sequence[Callback]) -> TrainResult:
    from tqdm.auto import tqdm

    cfg = b.config
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    ckpt = run / CHECKPOINT
    last_ckpt: tuple[str, int] | None = (str(ckpt), start) if start > 0 else None
    recorder = _diagnostics(b, run) if cfg.diagnostics_every else None
    b.G.train()
    b.D.train()
    metrics: dict[str, Any] = history[-1] if history else {}
    bar = tqdm(total=cfg.steps, initial=start, disable=not cfg.progress, dynamic_ncols=True,
               desc=f"{cfg.data} {cfg.solver}", leave=True)
    t0 = time.perf_counter() - seconds
    step = start
    try:
        if start == 0:
            save_checkpoint(_state(b, 0, 0.0), ckpt, keep=cfg.keep_checkpoints)
            last_ckpt = (str(ckpt), 0)
        while step < cfg.steps:
            _set_learning_rates(b, step)
            real = b.data.sample(cfg.batch_size, b.data_generator).to(b.device)
            if cfg.channels_last and real.dim() == 4:
                real = real.contiguous(memory_format=torch.channels_last)
            try:
                with _autocast(cfg, b.device):
                    losses = b.solver.step(real)
            except eq.NonFiniteError as e:
                raise TrainingError(e, *(last_ckpt or (None, None))) from e
            step += 1
            if b.ema is not None:
                b.ema.update()
            if b.uniform is not None and step >= cfg.uniform_average_from:
                b.uniform.update()
            for fn in callbacks:
                fn(b, step, losses)
            if recorder is not None and step % cfg.diagnostics_every == 0:
                recorder(step, real)
            bar.update(1)
            if step % 25 == 0 or step == cfg.steps:
                bar.set_postfix({f"L_{k}": f"{float(v):.4f}" for k, v in losses.items()}, refresh=False)
            last = step == cfg.steps
            if step % cfg.eval_every == 0 or last:
                elapsed = time.perf_counter() - t0
                rec = {"step": step, "seconds": round(elapsed, 3),
                       "losses": {k: _jsonable(v) for k, v in losses.items()},
                       **evaluate(b, step, run / "plots")}
                history.append(rec)
                metrics = rec
                with open(run / METRICS, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            if step % cfg.checkpoint_every == 0 or last:
                save_checkpoint(_state(b, step, time.perf_counter() - t0), ckpt, keep=cfg.keep_checkpoints)
                last_ckpt = (str(ckpt), step)
    finally:
        bar.close()
    return TrainResult(run, step, time.perf_counter() - t0, metrics, history)


def diagnostics_available() -> bool:
    """True when this equilib has ``equilib.diagnostics.Recorder``."""
    try:
        from equilib import diagnostics
    except ImportError:
        return False
    return hasattr(diagnostics, "Recorder")


def _diagnostics(b: Built, run: Path):
    """A callable ``(step, batch)`` recording :class:`equilib.diagnostics.Recorder` rows to
    ``RUN/diagnostics.jsonl`` (eigenvalues of J as ``[re, im]`` pairs, gradient norms, distance).

    The game's noise generator is saved and restored around each record, so switching the
    diagnostics on does not change the training run.
    """
    if not diagnostics_available():
        raise ConfigError("diagnostics_every needs equilib.diagnostics.Recorder, which this equilib "
                          "does not have; leave diagnostics_every at 0")
    from equilib.diagnostics import Recorder

    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in (*b.G.modules(), *b.D.modules()))
    recorder = Recorder(every=b.config.diagnostics_every, eval_mode=has_bn)
    path = run / "diagnostics.jsonl"

    def record(step: int, batch: torch.Tensor) -> None:
        noise = b.game.noise_state()
        try:
            row = recorder.record(step, b.solver, batch)
        finally:
            b.game.set_noise_state(noise)
        row = dict(row)
        row["eigenvalues"] = [[z.real, z.imag] for z in row.get("eigenvalues", [])]
        with open(path, "a") as fh:
            fh.write(json.dumps(_jsonable(row)) + "\n")

    return record


# ---------------------------------------------------------------------------------------------
# sampling from a trained run
# ---------------------------------------------------------------------------------------------

def sample(run: str | os.PathLike, n: int, seed: int = 0, out: str | os.PathLike | None = None,
           which: str | None = None) -> np.ndarray:
    """``n`` samples from the run's generator (the EMA one when the run used EMA).

    The latent batch is drawn from ``torch.Generator().manual_seed(seed)``, so the
    same seed gives the same samples. ``which`` is ``"G"``, ``"ema"`` or ``"uniform"``.
    Writes exactly the file ``out`` (which must end in ``.npy``) when it is given.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if which is not None and which not in ("G", "ema", "uniform"):
        raise ConfigError(f"which must be 'G', 'ema' or 'uniform', got {which!r}")
    if out is not None:
        out = runs.check_sample_out(out)
    b, _, _ = load_run(run)
    gens = b.generators()
    if b.uniform is not None:
        gens["uniform"] = b.uniform.module
    if which is None:
        g = b.sampler()
    elif which in gens:
        g = gens[which]
    else:
        raise ConfigError(f"which={which!r} is not a generator of this run; it has {sorted(gens)}")
    x = generate(g, _latents(n, b.config.latent_dim, seed), b.device).numpy()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:  # a file object: numpy adds no suffix
                np.save(fh, x)
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                tmp.unlink()
    return x
