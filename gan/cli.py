"""The ``gan`` command: ``gan train``, ``gan sample``, ``gan compare`` and ``gan sweep``.

    gan train --data ring --solver consensus --steps 20000 --seed 0 --out runs/ring
    gan train --data ring --solver sga --solver-option lam=0.5 --solver-option align=false
    gan train --resume runs/ring --steps 40000        # continue (bit-identical on CPU)
    gan sample --run runs/ring --n 2500 --out samples.npy --seed 0

Options left out take the recipe of the data set and solver (``gan/recipes.json``); with
``--resume`` the options given must agree with the run's saved config (``--steps``
may extend it). ``--resume`` continues from the newest checkpoint that verifies, so a
scheduler can re-run the same command after any kill (docs/reliability.md). Errors in
the options, the data or the run folder are printed as one line ``gan: error: ...``
with exit status 2; a NaN/Inf during training exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from gan.config_checks import (AMP_NAMES, COMPILE_BACKENDS, DATA_NAMES, FIRST_ORDER_SOLVERS, LOSS_NAMES, MODEL_NAMES,
                               NONFINITE_ACTIONS, OPTIMIZER_NAMES, SOLVER_NAMES, ConfigError, parse_value)

__all__ = ["main", "build_parser"]

#: What --help says of an option whose default is not a TrainConfig field's.
_OTHER_DEFAULTS = {"data_options": "none", "model_options": "none", "out": "runs/DATA-SOLVER-seedSEED",
                   "resume": "none: a new run", "progress": "progress shown",
                   "data_root": "the data set's own", "threads": "torch's setting", "amp": "off",
                   "compile": "off (eager)", "uniform_average_from": "off", "image_size": "from the recipe"}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``gan: error: ...`` and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"gan: error: {message} (see {self.prog} --help)\n")


def _key_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip().replace("-", "_"), parsed


def _solver_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. gamma=10 or steps=G:1,D:2), got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip().replace("-", "_"), parse_value(value)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _solver_options_help() -> str:
    import equilib as eq

    rows = []
    for name in SOLVER_NAMES:
        opts = eq.solver_options(name)
        rows.append(f"{name}: " + (", ".join(f"{k}={v}" for k, v in opts.items()) if opts else "none"))
    return "; ".join(rows)


def build_parser() -> argparse.ArgumentParser:
    S = argparse.SUPPRESS
    parser = _Parser(prog="gan", description="Train GANs with equilib's game solvers.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (or resume a run)", argument_default=S,
                       description="Train a GAN. Options left out take the recipe of the data set and solver "
                                   "(gan/recipes.json); the defaults shown are ring's with consensus.",
                       epilog="solver options and their defaults (--solver-option KEY=VALUE): "
                              + _solver_options_help())
    g = t.add_argument_group("data and models")
    g.add_argument("--data", choices=DATA_NAMES, help="data set")
    g.add_argument("--data-root", help="folder with the files of mnist, fashion-mnist, cifar10 or folder")
    g.add_argument("--data-option", dest="data_options", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="data set option, e.g. radius=2 std=0.02 for the ring (repeatable)")
    g.add_argument("--image-size", type=int, help="image size for image data (DCGAN: 16, 32, 64)")
    g.add_argument("--model", choices=MODEL_NAMES, help="mlp (mixtures) or dcgan (images)")
    g.add_argument("--latent-dim", type=int, help="dimension of the latent noise z")
    g.add_argument("--width", type=int, help="MLP hidden units / DCGAN base channels")
    g.add_argument("--depth", type=int, help="MLP hidden layers")
    g.add_argument("--model-option", dest="model_options", action="append", type=_key_value,
                   metavar="KEY=VALUE", help="model option, e.g. spectral_norm=true (repeatable)")
    g = t.add_argument_group("loss")
    g.add_argument("--loss", choices=LOSS_NAMES, help="GAN loss")
    g.add_argument("--label-smoothing", type=float, help="one-sided label smoothing s (real target 1 - s)")
    g.add_argument("--r1", type=float, help="R1 penalty weight (gradient of D on real data)")
    g.add_argument("--r2", type=float, help="R2 penalty weight (gradient of D on fake data)")
    g.add_argument("--gp-weight", type=float, help="WGAN-GP penalty weight")
    g.add_argument("--instance-noise", type=float, help="std of instance noise added to D's inputs")
    g = t.add_argument_group("solver")
    g.add_argument("--solver", choices=SOLVER_NAMES, help="equilibrium method")
    g.add_argument("--solver-option", dest="solver_options", action="append", type=_solver_option,
                   metavar="KEY=VALUE", help="an option of the solver (repeatable), e.g. gamma=10 (consensus), "
                   "align=false (sga), max_iter=20 (cgd), steps=G:1,D:2 (altgd, per player); each solver's "
                   "options are listed at the end")
    g.add_argument("--optimizer", choices=OPTIMIZER_NAMES, help="base optimizer")
    g.add_argument("--lr", type=float, help="learning rate of both players")
    g.add_argument("--lr-g", type=float, help="generator learning rate (overrides --lr)")
    g.add_argument("--lr-d", type=float, help="discriminator learning rate (overrides --lr)")
    g.add_argument("--lr-decay-at", type=int, metavar="STEP",
                   help="from STEP on, multiply the learning rates by --lr-decay-factor")
    g.add_argument("--lr-decay-factor", type=float, help="learning-rate factor after --lr-decay-at (0.1 if unset)")
    g.add_argument("--beta1", type=float, help="Adam beta1")
    g.add_argument("--beta2", type=float, help="Adam beta2")
    g.add_argument("--momentum", type=float, help="momentum of sgd (may be negative) or rmsprop")
    g.add_argument("--on-nonfinite", choices=NONFINITE_ACTIONS,
                   help="on a NaN/Inf step: raise (stop), skip the step, or roll it back and scale the rates")
    g.add_argument("--rollback-factor", type=float, help="rollback: learning-rate factor per rollback, in (0, 1)")
    g.add_argument("--max-rollbacks", type=int, help="rollback: the next NaN/Inf step after this many stops the run")
    g = t.add_argument_group("run")
    g.add_argument("--batch-size", type=int, help="real samples per step (and latent samples)")
    g.add_argument("--steps", type=int, help="total training steps (with --resume: may extend the run)")
    g.add_argument("--seed", type=int, help="seed of the model init, data, noise and evaluation streams")
    g.add_argument("--device", help="cpu, cuda or cuda:N")
    g.add_argument("--amp", choices=AMP_NAMES, help="mixed precision autocast (CUDA only)")
    g.add_argument("--channels-last", action="store_true", help="channels_last memory format (CUDA only)")
    g.add_argument("--fused", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                   help="torch's fused base step (one kernel for all of a player's tensors: Adam, AdamW, Adagrad "
                   "on CPU and CUDA) or its foreach one; --no-fused: the plain per-tensor loop")
    g.add_argument("--compile", nargs="?", const="inductor", choices=COMPILE_BACKENDS, metavar="BACKEND",
                   help="torch.compile G and D (backend inductor, or one of " + ", ".join(COMPILE_BACKENDS) +
                   f"); first-order solvers only ({', '.join(FIRST_ORDER_SOLVERS)}) and no gradient penalty: "
                   "torch.compile has no double backward. On this project's CPU it measured slower (docs/performance.md)")
    g.add_argument("--ema", type=float, help="EMA decay of the generator's parameters (0 = off)")
    g.add_argument("--uniform-average-from", type=int, metavar="STEP",
                   help="keep a uniform average of the generator's parameters from STEP on")
    g.add_argument("--eval-every", type=int, help="evaluate (metrics and plots) every N steps")
    g.add_argument("--eval-samples", type=int, help="samples per evaluation")
    g.add_argument("--checkpoint-every", type=int, help="write a checkpoint every N steps")
    g.add_argument("--keep-checkpoints", type=int, metavar="K",
                   help="keep the last K checkpoints (checkpoint.pt, checkpoint.pt.prev, ...)")
    g.add_argument("--diagnostics-every", type=int, help="record equilib diagnostics every N steps (0 = off)")
    g.add_argument("--out", help="run folder")
    g.add_argument("--resume", metavar="RUN",
                   help="continue the run in folder RUN from its newest checkpoint that verifies")
    g.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress output (a bar on a terminal, else one line per evaluation)")
    g.add_argument("--threads", type=int, help="torch CPU threads for this run (e.g. 1 on a shared machine)")
    g.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files to RUN/tensorboard/ (pip install 'equilib[tensorboard]')")
    g.add_argument("--tensorboard-every", type=int, metavar="N",
                   help="TensorBoard: losses and learning rates every N steps (metrics at every evaluation)")
    _show_defaults(t)

    s = sub.add_parser("sample", help="write samples of a trained run to a .npy file")
    s.add_argument("--run", required=True, help="run folder written by gan train")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True, help="output file, written exactly there (must end in .npy)")
    s.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default 0)")
    s.add_argument("--which", choices=("G", "ema", "uniform"), default=None,
                   help="which generator (default: the EMA one if the run used EMA, else G)")
    from gan.compare.cli import add_parser as add_compare
    from gan.sweep import add_parser as add_sweep
    add_compare(sub)
    add_sweep(sub)
    return parser


def _show_defaults(t: argparse.ArgumentParser) -> None:
    """Append each option's default to its help: TrainConfig's, or the recipe's (ring with consensus shown)."""
    from gan.config import RECIPE_FIELDS, TrainConfig

    fields = TrainConfig.__dataclass_fields__
    example = TrainConfig().resolved()
    for action in t._actions:
        dest = action.dest
        if action.help is None or action.help == argparse.SUPPRESS or dest == "help":
            continue
        if dest == "solver_options":
            shown = "from the recipe; ring + consensus: " + ", ".join(f"{k}={v}" for k, v in
                                                                    example.solver_options.items())
        elif dest in _OTHER_DEFAULTS:
            shown = _OTHER_DEFAULTS[dest]
        elif dest in RECIPE_FIELDS:
            value = getattr(example, dest)
            shown = f"from the recipe; ring + consensus: {value}" if value is not None else "from the recipe; unset"
        elif dest in fields:
            shown = str(fields[dest].default)
        else:
            shown = "none"
        action.help = f"{action.help} (default: {shown})"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"gan: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gan`` console script; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    namespace = parser.parse_args(argv)
    args = vars(namespace)
    command = args.pop("command")
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _status(lambda: _report(command, namespace, argv[1:]) if command in ("compare", "sweep")
                       else _run(command, args))


def _status(command) -> int:
    """Run ``command``; a NaN/Inf that stopped training exits 1, a bad option, run or file one line and 2."""
    from gan.checkpoint import CheckpointError
    from gan.recipes import RecipeError
    from gan.training import RunError, TrainingError
    try:
        return command()
    except TrainingError as e:
        print(f"gan: error: {e}", file=sys.stderr)
        return 1
    except (ConfigError, RecipeError, RunError, CheckpointError, ValueError, TypeError, OSError) as e:
        print(f"gan: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _report(command: str, args: argparse.Namespace, argv: list[str]) -> int:
    """``gan compare`` and ``gan sweep``."""
    from gan.compare.cli import run_compare
    from gan.sweep import main_sweep
    return run_compare(args, argv) if command == "compare" else main_sweep(args)


def _run(command: str, args: dict[str, Any]) -> int:
    from gan.training import sample, train
    if command == "train":
        for key in ("data_options", "model_options", "solver_options"):
            if key in args:
                args[key] = dict(args[key])
        resume = args.pop("resume", None)
        result = train(resume=resume, **args)
        if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
            return 0
        summary = {k: v for k, v in result.metrics.items() if k not in ("losses",)}
        print(f"run folder: {result.run_dir}")
        print(f"steps: {result.steps}, seconds: {result.seconds:.1f}")
        if summary:
            print("last evaluation: " + json.dumps(summary))
    else:
        x = sample(args["run"], args["n"], seed=args["seed"], out=args["out"], which=args["which"])
        print(f"wrote {x.shape[0]} samples of shape {tuple(x.shape[1:])} to {args['out']}")
    return 0


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if isinstance(e, (ValueError, TypeError)) or not isinstance(e, OSError) else \
        f"{e.strerror or text}: {e.filename}" if e.filename else text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
