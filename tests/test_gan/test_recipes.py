"""Recipes as data: gan/recipes.json gives today's defaults, each with its source; a recipe file
naming an unknown data set, solver, option or value is refused at load, naming the file and the key."""

import json
import tomllib
from pathlib import Path

import pytest

import equilib as eq
from gan import recipes as R
from gan.config import ConfigError, TrainConfig

ROOT = Path(__file__).parents[2]


def _write(tmp_path, book, name="recipes.json"):
    path = tmp_path / name
    path.write_text(json.dumps(book))
    return path


GOOD = {"ring": {"default": {"source": "test", "lr": 0.01},
                 "sga": {"source": "test", "solver_options": {"lam": 0.5}}}}


@pytest.mark.parametrize("edit,message", [
    (lambda b: b["ring"].update(sgaa={"source": "x"}), r"ring\.sgaa: unknown solver 'sgaa'"),
    (lambda b: b["ring"]["sga"]["solver_options"].update(gamma=1.0),
     r"ring\.sga\.solver_options\.gamma: solver sga has no option 'gamma'; its options: lam, align, eps"),
    (lambda b: b["ring"]["default"].update(learning_rate=1.0), r"ring\.default\.learning_rate: unknown option"),
    (lambda b: b["ring"]["default"].update(solver_options={"gamma": 1.0}), r"ring\.default\.solver_options: solver "
                                                                            r"options belong in a solver's entry"),
    (lambda b: b["ring"]["default"].update(solver="sga"), r"ring\.default\.solver: not an option recipes set"),
    # a field the recipe could never apply (its default is not "unset") is refused, not ignored
    (lambda b: b["ring"]["default"].update(label_smoothing=0.1),
     r"ring\.default\.label_smoothing: not an option recipes set 'label_smoothing'; a recipe sets .*loss"),
    (lambda b: b["ring"]["default"].pop("source"), r"ring\.default has no 'source'"),
    (lambda b: b.update(rings={"default": {"source": "x"}}), r"unknown data set 'rings'"),
    (lambda b: b["ring"]["default"].update(lr=-1.0), r"ring\.default: lr must be > 0"),
    (lambda b: b["ring"]["sga"].update(optimizer="adamax"), r"ring\.sga: unknown optimizer 'adamax'"),
])
def test_bad_recipe_files_are_refused_naming_file_and_key(tmp_path, edit, message):
    book = json.loads(json.dumps(GOOD))
    edit(book)
    path = _write(tmp_path, book)
    with pytest.raises(R.RecipeError, match=message) as info:
        R.load_recipes(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_recipe_file_is_read_through_train_config(tmp_path):
    star = {"source": "t", "optimizer": "adam", "latent_dim": 4, "batch_size": 8, "steps": 3, "ema": 0.0,
            "eval_every": 1, "eval_samples": 10, "checkpoint_every": 1}
    path = _write(tmp_path, {"*": {"default": star}, **GOOD})
    cfg = TrainConfig(data="ring", solver="sga", solver_options={"eps": 0.2}).resolved(str(path))
    # *.default, then ring.default, then ring.sga; the given solver option merged over the recipe's
    assert (cfg.optimizer, cfg.lr, cfg.steps) == ("adam", 0.01, 3)
    assert cfg.solver_options == {"lam": 0.5, "eps": 0.2}
    assert R.recipe("ring", "sga", path)["source"] == ["t", "test", "test"]
    with pytest.raises(ConfigError, match=r"recipe of data 'ring' and solver 'simgd' leaves \['optimizer', "
                                          r"'latent_dim', 'batch_size', 'steps', 'ema', 'eval_every', 'eval_samples', "
                                          r"'checkpoint_every'\] unset"):
        TrainConfig(data="ring", solver="simgd").resolved(str(_write(tmp_path, GOOD, "sparse.json")))


def test_the_package_recipes_keep_the_first_round_values():
    """Today's values, written out here independently of the file (docs/gan_results.md for ring and grid)."""
    ring = TrainConfig(data="ring", solver="consensus").resolved()
    assert (ring.model, ring.optimizer, ring.lr, ring.batch_size, ring.latent_dim, ring.width, ring.depth,
            ring.steps, ring.ema, ring.lr_decay_at, ring.lr_decay_factor, ring.eval_every, ring.eval_samples) == \
        ("mlp", "rmsprop", 1e-3, 512, 16, 64, 3, 12000, 0.999, 9000, 0.1, 2000, 2500)
    assert ring.solver_options == {"gamma": 10.0}
    grid = TrainConfig(data="grid", solver="sga").resolved()
    assert (grid.steps, grid.lr_decay_at, grid.solver_options) == (26000, 14000, {"lam": 1.0})
    assert TrainConfig(data="gaussian1d", solver="unrolled").resolved().solver_options == {"unroll_steps": 5}
    digits = TrainConfig(data="digits", solver="consensus").resolved()
    assert (digits.model, digits.image_size, digits.width, digits.optimizer, digits.lr, digits.beta1, digits.beta2,
            digits.batch_size, digits.latent_dim, digits.steps, digits.ema, digits.solver_options) == \
        ("dcgan", 16, 32, "adam", 8e-4, 0.5, 0.999, 64, 32, 2000, 0.99, {"gamma": 1.0})
    # the digits lr sweeps (docs/results/sweeps/digits-lr*.md), each winner kept after five seeds beat the rate
    # before it: 4e-4 over DCGAN's 2e-4, then 8e-4 over 4e-4 (lola: 8e-4 over 2e-4, where it had stayed)
    for solver in ("altgd", "extragradient", "optimistic", "simgd"):
        assert TrainConfig(data="digits", solver=solver).resolved().lr == 4e-4, solver
    for solver in ("consensus", "sga", "sos", "lola"):
        assert TrainConfig(data="digits", solver=solver).resolved().lr == 8e-4, solver
    for solver in ("cgd", "unrolled", "hamiltonian"):
        assert TrainConfig(data="digits", solver=solver).resolved().lr == 2e-4, solver
    # consensus on digits: spectral norm in D in place of BatchNorm (hand runs, docs/gan_training.md)
    assert digits.model_options == {"spectral_norm": True}
    assert TrainConfig(data="digits", solver="unrolled").resolved().model_options == {"spectral_norm": True}
    assert TrainConfig(data="digits", solver="cgd").resolved().model_options == {"spectral_norm": True}
    # cgd trains GANs at its library Krylov tolerances, the CGDs package's defaults (as acgd's): no recipe
    # overrides them with the former 1e-8, which float32 solves rarely reach
    acgd, cgd = eq.solver_options("acgd"), eq.solver_options("cgd")
    assert (cgd["tol"], cgd["atol"]) == (acgd["tol"], acgd["atol"]) == (1e-6, 1e-10)
    for data in ("gaussian1d", "ring", "grid", "digits", "stacked-digits", "mnist", "cifar10", "folder"):
        opts = TrainConfig(data=data, solver="cgd").resolved().solver_options
        assert "tol" not in opts and "atol" not in opts, data
    # stacked digits: width 64, PacGAN packing 2, spectral norm in D, hinge loss, 50,000 steps, for every solver
    # (docs/stacked_digits.md)
    stacked = TrainConfig(data="stacked-digits", solver="consensus").resolved()
    assert (stacked.width, stacked.loss, stacked.model_options, stacked.steps, stacked.eval_samples,
            stacked.solver_options) == (64, "hinge", {"pack": 2, "spectral_norm": True}, 50000, 10000, {"gamma": 1.0})
    assert TrainConfig(data="digits", solver="simgd").resolved().model_options == {}
    mnist = TrainConfig(data="mnist", solver="consensus").resolved()
    assert (mnist.image_size, mnist.width, mnist.latent_dim, mnist.steps, mnist.solver_options) == \
        (32, 64, 100, 20000, {})
    simgd = TrainConfig(data="ring", solver="simgd").resolved()
    assert simgd.solver_options == {} and simgd.lr == 1e-3


def test_the_recipe_loss_applies_unless_given():
    """``loss`` was a field with a default, so a recipe's loss was read and never applied; it is now
    filled from the recipe like every other recipe field, "nonsaturating" where no recipe sets it."""
    assert TrainConfig(data="stacked-digits", solver="simgd").resolved().loss == "hinge"
    assert TrainConfig(data="stacked-digits", solver="simgd", loss="nonsaturating").resolved().loss == "nonsaturating"
    assert TrainConfig(data="ring", solver="simgd").resolved().loss == "nonsaturating"
    assert TrainConfig(data="ring", solver="simgd", loss="lsgan").resolved().loss == "lsgan"


def test_a_recipe_penalty_reaches_the_game_unless_given(tmp_path):
    """``r1``/``r2`` are recipe fields (None until filled, like ``loss``): a recipe's R1 weight reaches the
    GANGame that trains, a given weight (0 included) wins, and where no recipe sets one it is 0."""
    from gan.building import build

    book = json.loads((ROOT / "gan" / "recipes.json").read_text())
    book["ring"]["simgd"] = {"source": "test", "r1": 1.5}
    book["ring"]["sga"].pop("r1", None)
    path = _write(tmp_path, book)
    tiny = {"batch_size": 8, "steps": 1, "eval_samples": 10, "progress": False}
    assert build(TrainConfig(data="ring", solver="simgd", **tiny).resolved(str(path))).game.r1 == 1.5
    assert build(TrainConfig(data="ring", solver="simgd", r1=0.0, **tiny).resolved(str(path))).game.r1 == 0.0
    assert TrainConfig(data="ring", solver="sga").resolved(str(path)).r1 == 0.0
    assert TrainConfig(data="ring", solver="sga").resolved(str(path)).r2 == 0.0
    # only the recipe fields may be None: another loss weight left None is refused naming it
    with pytest.raises(ConfigError, match="label_smoothing"):
        TrainConfig(data="ring", solver="sga", label_smoothing=None).resolved(str(path))
    book["ring"]["simgd"]["r1"] = -1.0
    with pytest.raises(R.RecipeError, match=r"ring\.simgd: r1 must be >= 0"):
        R.load_recipes(_write(tmp_path, book, "bad.json"))


def test_given_options_win_over_the_recipe_key_by_key():
    cfg = TrainConfig(data="ring", solver="sga", lr=5e-4, solver_options={"align": False}).resolved()
    assert cfg.lr == 5e-4 and cfg.solver_options == {"lam": 1.0, "align": False}
    assert TrainConfig(data="ring", solver="consensus", solver_options={"gamma": 3}).resolved() \
        .solver_options == {"gamma": 3}


def test_model_options_merge_key_by_key_the_given_ones_winning(tmp_path):
    star = {"source": "t", "optimizer": "adam", "latent_dim": 4, "batch_size": 8, "steps": 3, "ema": 0.0,
            "eval_every": 1, "eval_samples": 10, "checkpoint_every": 1}
    book = {"*": {"default": star},
            "digits": {"default": {"source": "t", "model": "dcgan", "image_size": 16, "lr": 1e-3,
                                   "model_options": {"minibatch_discrimination": True}},
                       "sga": {"source": "t", "model_options": {"spectral_norm": True}}}}
    path = _write(tmp_path, book)
    assert TrainConfig(data="digits", solver="sga").resolved(str(path)).model_options == \
        {"minibatch_discrimination": True, "spectral_norm": True}
    given = TrainConfig(data="digits", solver="sga", model_options={"spectral_norm": False}).resolved(str(path))
    assert given.model_options == {"minibatch_discrimination": True, "spectral_norm": False}
    assert TrainConfig(data="digits", solver="simgd").resolved(str(path)).model_options == \
        {"minibatch_discrimination": True}


def test_every_entry_has_a_source_and_the_file_ships_with_the_package():
    raw = json.loads(R.RECIPES.read_text())
    for data, entries in raw.items():
        if data == "about":
            continue
        for key, entry in entries.items():
            assert entry["source"].strip(), (data, key)
            assert key == "default" or key in eq.SOLVERS
    book = R.load_recipes()
    assert set(book) - {"*"} <= set(__import__("gan").data.DATASETS) and "*" in book
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "recipes.json" in data["gan"]
