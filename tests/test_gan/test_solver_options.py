"""Solver options as data: equilib.solver_options is the one table, gan train --solver-option reaches
every option of every solver, values are parsed (int, float, bool, none, text, per player) and checked
by the solver, unknown keys are refused before anything is written, and the options survive resume."""

import inspect
import json

import pytest

import equilib as eq
from gan import training as T
from gan.building import build
from gan.cli import build_parser, main
from gan.config import ConfigError, TrainConfig
from gan.config_checks import parse_value

TINY = ["--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "16",
        "--eval-samples", "50", "--no-progress", "--threads", "1"]

# the options of each solver as their papers and equilib's docs state them, written out independently
PUBLISHED = {
    "simgd": {}, "extragradient": {}, "optimistic": {}, "hamiltonian": {},
    "altgd": {"steps": 1}, "consensus": {"gamma": 1.0},
    "unrolled": {"unroll_steps": 5, "unroll_lr": None, "unroll_optimizer": "same"},
    "sga": {"lam": 1.0, "align": True, "eps": 0.1},
    "cgd": {"tol": 1e-6, "atol": 1e-10, "max_iter": 100, "warm_start": True},   # the CGDs package's BCGD defaults, as acgd's
    "acgd": {"beta": 0.99, "eps": 1e-5, "tol": 1e-6, "atol": 1e-10, "max_iter": 100, "warm_start": True},
    "lola": {"alpha": None}, "sos": {"alpha": None, "a": 0.5, "b": 0.1},
}


def test_solver_options_table():
    assert {name: eq.solver_options(name) for name in eq.SOLVERS} == PUBLISHED
    with pytest.raises(eq.SolverError, match=r"unknown solver 'adam'; known solvers"):
        eq.solver_options("adam")


def test_solver_options_reads_constructor_keywords():
    """An option a solver names in its constructor (rather than in defaults) is in the table too."""
    class Damped(eq.solvers.SimGD):
        name = "damped"

        def __init__(self, game, lr, optimizer=None, optimizer_options=None, on_nonfinite="raise", damping=0.5,
                     **options):
            super().__init__(game, lr, optimizer, optimizer_options, on_nonfinite, **options)
            self.damping = damping

    eq.SOLVERS["damped"] = Damped
    try:
        assert eq.solver_options("damped") == {"damping": 0.5}
        assert "damping" in inspect.signature(Damped.__init__).parameters
    finally:
        del eq.SOLVERS["damped"]


@pytest.mark.parametrize("text,value", [("3", 3), ("1e-3", 1e-3), ("-0.5", -0.5), ("true", True), ("False", False),
                                        ("none", None), ("same", "same"), ("G:1,D:2", {"G": 1, "D": 2}),
                                        ("G:0.1, D:none", {"G": 0.1, "D": None})])
def test_parse_value(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def _cfg(solver, options, **kw):
    argv = ["train", *TINY, "--solver", solver, "--optimizer", "sgd"]
    for k, v in options.items():
        argv += ["--solver-option", f"{k}={v}"]
    args = vars(build_parser().parse_args(argv))
    args.pop("command")
    args["solver_options"] = dict(args.get("solver_options", []))
    return TrainConfig.from_dict({**args, **kw}).resolved()


@pytest.mark.filterwarnings("ignore::equilib.solvers.KrylovWarning")
@pytest.mark.parametrize("solver", sorted(PUBLISHED))
def test_every_option_of_every_solver_reaches_the_solver(solver):
    """Each option given on the command line (as text) arrives in the built solver with its value."""
    for key, default in PUBLISHED[solver].items():
        value = {bool: lambda d: not d, float: lambda d: d * 2 + 0.25 if d < 0.5 else d / 2,
                 int: lambda d: d + 1, str: lambda d: "sgd", type(None): lambda d: 0.05}[type(default)](default)
        cfg = _cfg(solver, {key: value})
        assert cfg.solver_options[key] == value
        assert build(cfg).solver.options[key] == value, (solver, key)


def test_per_player_values():
    b = build(_cfg("altgd", {"steps": "G:1,D:3"}))
    assert b.solver.inner_steps == {"G": 1, "D": 3}
    b = build(_cfg("lola", {"alpha": "G:0.1,D:0.2"}))
    assert b.solver.options["alpha"] == {"G": 0.1, "D": 0.2}


def test_unknown_key_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--solver", "sga", "--solver-option", "gamma=1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("gan: error: solver sga has no option(s) ['gamma']; its options: lam (default 1.0), "
                   "align (default True), eps (default 0.1)\n")
    assert not out.exists()
    with pytest.raises(ConfigError, match="solver_options must be a dict"):
        TrainConfig(solver="sga", solver_options=["lam"]).resolved()


def test_solver_options_survive_resume_and_cannot_change(tmp_path, capsys):
    run = tmp_path / "r"
    argv = [*TINY, "--solver", "sga", "--solver-option", "lam=0.5", "--solver-option", "align=false"]
    assert main(["train", *argv, "--steps", "2", "--eval-every", "2", "--out", str(run)]) == 0
    saved = json.loads((run / T.CONFIG).read_text())["solver_options"]
    assert saved == {"lam": 0.5, "align": False}
    assert main(["train", "--resume", str(run), "--steps", "4", "--solver-option", "lam=0.5"]) == 0
    state = json.loads((run / T.CONFIG).read_text())
    assert state["steps"] == 4 and state["solver_options"] == saved
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "6", "--solver-option", "lam=2"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "solver_options: saved {'lam': 0.5, 'align': False}, given {'lam': 2}" in err
