"""The gan command line: train, resume, sample, and its error messages."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan import checkpoint as ck
from gan import training as T
from gan.cli import main

TINY = ["--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "32",
        "--eval-samples", "200", "--no-progress", "--solver", "consensus", "--optimizer", "rmsprop",
        "--lr", "1e-3", "--solver-option", "gamma=10", "--ema", "0.9"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ring"
    assert main(["train", *TINY, "--steps", "6", "--eval-every", "3", "--checkpoint-every", "3",
                 "--seed", "1", "--out", str(out)]) == 0
    return out


def test_train_writes_a_run_folder(run, capsys):
    cfg = json.loads((run / T.CONFIG).read_text())
    assert (cfg["solver"], cfg["optimizer"], cfg["lr_g"], cfg["lr_d"], cfg["solver_options"], cfg["seed"]) == \
        ("consensus", "rmsprop", 1e-3, 1e-3, {"gamma": 10}, 1)
    assert len((run / T.METRICS).read_text().splitlines()) == 2
    assert ck.load_checkpoint(run / T.CHECKPOINT)["step"] == 6


def test_lr_g_and_lr_d(tmp_path):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--lr-g", "2e-4", "--lr-d", "5e-4", "--steps", "1", "--out", str(out)]) == 0
    state = ck.load_checkpoint(out / T.CHECKPOINT)
    lrs = {p: state["solver"]["optimizers"][p]["param_groups"][0]["lr"] for p in ("G", "D")}
    assert lrs == {"G": 2e-4, "D": 5e-4}


def test_sample_same_seed_same_samples_and_uses_ema(run, tmp_path):
    a, b, c = (tmp_path / f"{k}.npy" for k in "abc")
    assert main(["sample", "--run", str(run), "--n", "50", "--out", str(a), "--seed", "7"]) == 0
    assert main(["sample", "--run", str(run), "--n", "50", "--out", str(b), "--seed", "7"]) == 0
    assert main(["sample", "--run", str(run), "--n", "50", "--out", str(c), "--seed", "8"]) == 0
    xa, xb, xc = np.load(a), np.load(b), np.load(c)
    assert xa.shape == (50, 2) and xa.dtype == np.float32
    assert np.array_equal(xa, xb) and not np.array_equal(xa, xc)
    # independently: the EMA generator's weights from the checkpoint applied to N(0, I) noise of seed 7
    state = ck.load_checkpoint(run / T.CHECKPOINT)
    w = {k: v for k, v in state["ema"]["module"].items()}
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(7))
    h = torch.relu(z @ w["net.0.weight"].T + w["net.0.bias"])
    want = h @ w["net.2.weight"].T + w["net.2.bias"]
    np.testing.assert_allclose(xa, want.numpy(), rtol=1e-5, atol=1e-6)
    assert not torch.equal(state["ema"]["module"]["net.0.weight"], state["G"]["net.0.weight"])


def test_resume_through_the_cli_matches_one_run(run, tmp_path):
    half = tmp_path / "half"
    assert main(["train", *TINY, "--steps", "3", "--eval-every", "3", "--checkpoint-every", "3",
                 "--seed", "1", "--out", str(half)]) == 0
    assert main(["train", "--resume", str(half), "--steps", "6", "--no-progress"]) == 0
    a = ck.load_checkpoint(run / T.CHECKPOINT)
    b = ck.load_checkpoint(half / T.CHECKPOINT)
    for key in ("G", "D"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert all(torch.equal(a["ema"]["module"][k], b["ema"]["module"][k]) for k in a["ema"]["module"])


def test_errors_exit_2_with_message(run, tmp_path, capsys):
    assert main(["train", "--resume", str(run), "--solver", "simgd", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan: error: cannot resume") and "solver: saved 'consensus', given 'simgd'" in err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", *TINY, "--device", "cuda", "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert "CUDA is not available" in err and "--device cpu" in err
        assert main(["train", *TINY, "--amp", "bf16", "--out", str(tmp_path / "x")]) == 2
        assert "needs a CUDA device" in capsys.readouterr().err
    assert main(["sample", "--run", str(tmp_path / "none"), "--n", "3", "--out", str(tmp_path / "s.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", "rings"])
    assert e.value.code == 2
    assert "invalid choice: 'rings'" in capsys.readouterr().err


def test_nan_exits_1(tmp_path, capsys):
    # a learning rate of 1e30 overflows the discriminator at once
    assert main(["train", *TINY[:-6], "--solver", "simgd", "--optimizer", "sgd", "--lr", "1e30",
                 "--steps", "20", "--checkpoint-every", "1", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "training stopped at step" in err and "non-finite" in err and "is intact" in err


def test_console_script_help():
    exe = shutil.which("gan")
    cmd = [exe] if exe else [sys.executable, "-m", "gan.cli"]
    out = subprocess.run([*cmd, "train", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for flag in ("--data", "--model", "--loss", "--solver", "--optimizer", "--lr", "--lr-g", "--lr-d",
                 "--batch-size", "--steps", "--seed", "--device", "--out", "--resume", "--solver-option",
                 "--on-nonfinite", "--rollback-factor", "--max-rollbacks", "--ema", "--eval-every",
                 "--checkpoint-every", "--amp", "--channels-last"):
        assert flag in out.stdout, flag
    for old in ("--gamma", "--lam", "--unroll-steps", "--unroll-lr", "--d-steps", "--g-steps", "--alpha"):
        assert old not in out.stdout, old
    text = " ".join(out.stdout.split())
    # the recipe's defaults, read from gan/recipes.json, and every solver's options from equilib
    assert "(default: from the recipe; ring + consensus: 0.001)" in text           # --lr: ring's RMSProp rate
    assert "(default: from the recipe; ring + consensus: 12000)" in text           # --steps
    assert "(default: raise)" in text and "(default: 0.5)" in text and "(default: 3)" in text
    import equilib as eq
    for name in eq.SOLVERS:
        opts = eq.solver_options(name)
        row = f"{name}: " + (", ".join(f"{k}={v}" for k, v in opts.items()) if opts else "none")
        assert row in text, row


def test_every_train_option_has_help_and_default():
    """Every option of gan train has a help line, and the line states its default."""
    from gan.cli import build_parser

    parser = build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    options = [a for a in train._actions if a.dest != "help"]
    from gan.config import TrainConfig

    assert {a.dest for a in options} == set(TrainConfig.__dataclass_fields__) | {"resume"}  # every option is a flag
    for action in options:
        assert action.help and action.help.strip(), action.option_strings
        assert "(default: " in action.help, action.option_strings
