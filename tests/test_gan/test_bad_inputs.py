"""The bad inputs of issue 12 (gan part): each is refused with one line naming the argument, or handled."""

import errno
import os

import numpy as np
import pytest
import torch
from torch import nn

import equilib as eq
import gan
from gan import checkpoint as ck
from gan import losses as L
from gan import models as M
from gan import runs
from gan import training as T
from gan.cli import main
from gan.config import ConfigError, TrainConfig
from gan.data import DataError

TINY = dict(data="ring", width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=100, progress=False,
            solver="simgd", eval_every=100, checkpoint_every=100)
CLI = ["--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "32",
       "--eval-samples", "100", "--no-progress", "--solver", "simgd", "--eval-every", "100"]
RING = gan.load_dataset("ring")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad") / "r"
    T.train(steps=2, out=str(out), **TINY)
    return out


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("gan: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


# ---- silently wrong ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["False", "off", "no", "0"])
def test_spectral_norm_false_words_turn_it_off(tmp_path, text):
    out = tmp_path / "r"
    assert main(["train", *CLI, "--steps", "1", "--model-option", f"spectral_norm={text}", "--out", str(out)]) == 0
    d = ck.load_checkpoint(out / T.CHECKPOINT)["D"]
    assert not any("parametrizations" in k for k in d)  # no spectral norm anywhere in D
    assert TrainConfig(model_options={"spectral_norm": text}).resolved().model_options == {"spectral_norm": False}
    _, D = M.build_models("mlp", (2,), 4, spectral_norm=text)
    assert not any("parametrizations" in k for k in D.state_dict())
    _, D = M.build_models("mlp", (2,), 4, spectral_norm="on")
    assert any("parametrizations" in k for k in D.state_dict())


def test_spectral_norm_unclear_word_refused(tmp_path, capsys):
    assert main(["train", *CLI, "--model-option", "spectral_norm=maybe", "--out", str(tmp_path / "r")]) == 2
    _one_line_error(capsys, "spectral_norm", "true/false", "yes/no", "on/off", "'maybe'")
    with pytest.raises(ValueError, match=r"spectral_norm must be a boolean \(true/false, 1/0, yes/no, on/off\)"):
        M.build_models("mlp", (2,), 4, spectral_norm="maybe")
    with pytest.raises(ValueError, match="minibatch_discrimination must be a boolean"):
        M.MLPDiscriminator(2, minibatch_discrimination=2)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option", ["width", "depth"])
def test_zero_width_or_depth_refused(tmp_path, capsys, option):
    with pytest.raises(ConfigError, match=f"{option} must be an integer >= 1, got 0"):
        TrainConfig(**{option: 0}).resolved()
    assert main(["train", *CLI, f"--{option}", "0", "--out", str(tmp_path / "r")]) == 2
    _one_line_error(capsys, f"{option} must be an integer >= 1, got 0")


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "adagrad"])
def test_momentum_with_an_optimizer_without_momentum_refused(optimizer):
    with pytest.raises(ConfigError, match=rf"momentum applies to .*\(sgd, rmsprop\); optimizer is '{optimizer}'"):
        TrainConfig(optimizer=optimizer, momentum=0.5).resolved()
    for ok in ("sgd", "rmsprop"):
        assert TrainConfig(optimizer=ok, momentum=0.5).resolved().optimizer_options() == {"momentum": 0.5}
    with pytest.raises(ConfigError, match="beta1 applies to the optimizers adam, adamw; optimizer is 'sgd'"):
        TrainConfig(optimizer="sgd", beta1=0.5).resolved()


def test_negative_momentum_only_with_sgd():
    """Negative momentum (Gidel et al. 2019) is sgd's; torch's RMSprop refuses it: named before anything is built."""
    with pytest.raises(ConfigError, match=r"momentum must be in \[0, 1\) for optimizer 'rmsprop'.*got -0.5.*sgd"):
        TrainConfig(optimizer="rmsprop", momentum=-0.5).resolved()
    assert TrainConfig(optimizer="sgd", momentum=-0.5).resolved().optimizer_options() == {"momentum": -0.5}


class TwoLogits(nn.Module):
    input_shape = (2,)

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(2, 2)

    def forward(self, x):
        return self.net(x)


def test_discriminator_with_two_logits_refused():
    torch.manual_seed(0)
    G, _ = M.build_models("mlp", (2,), 4, hidden=8, depth=1)
    game = gan.GANGame(G, TwoLogits())
    solver = eq.make_solver("simgd", game, lr=1e-3)
    before = [p.clone() for p in game.parameters()]
    with pytest.raises(ValueError, match=r"one score per sample, shape \(n,\) or \(n, 1\); d_real = D\(x\) has "
                                         r"shape \(16, 2\)"):
        solver.step(RING.sample(16, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(before, game.parameters()))  # nothing changed
    g, d = L.nonsaturating(torch.zeros(3, 1), torch.zeros(3, 1))  # (n, 1) is fine
    assert g.shape == d.shape == ()


def test_sample_writes_exactly_the_path_or_refuses(run, tmp_path, capsys):
    assert main(["sample", "--run", str(run), "--n", "5", "--out", str(tmp_path / "s.txt")]) == 2
    _one_line_error(capsys, "s.txt", ".npy")
    assert list(tmp_path.iterdir()) == []
    assert main(["sample", "--run", str(run), "--n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy"]
    assert np.load(tmp_path / "s.npy").shape == (5, 2)


# ---- raw tracebacks ---------------------------------------------------------------------------

def test_out_under_a_file(run, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["train", *CLI, "--out", str(f / "r")]) == 2
    _one_line_error(capsys, "--out", "which is a file, not a folder")
    assert main(["sample", "--run", str(run), "--n", "5", "--out", str(f / "s.npy")]) == 2
    _one_line_error(capsys, "--out", "which is a file, not a folder")
    assert f.read_text() == "x"


def test_out_on_a_read_only_filesystem(run, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open = os.open

    def read_only(path, *args, **kw):  # what the kernel answers on a read-only mount
        if str(path).startswith(str(ro)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(runs.os, "open", read_only)
    monkeypatch.setattr(T, "build", lambda cfg: pytest.fail("work started before --out was checked"))
    assert main(["train", *CLI, "--out", str(ro / "r")]) == 2
    _one_line_error(capsys, f"--out {ro / 'r'}", "Read-only file system")
    assert main(["sample", "--run", str(run), "--n", "5", "--out", str(ro / "s.npy")]) == 2
    _one_line_error(capsys, "Read-only file system")
    assert list(ro.iterdir()) == []


def test_bad_data_option_value(tmp_path, capsys):
    assert main(["train", *CLI, "--data-option", "radius=abc", "--out", str(tmp_path / "r")]) == 2
    _one_line_error(capsys, "radius", "'abc'")
    assert not (tmp_path / "r").exists()


def test_generator_latent_dim_mismatch_named():
    torch.manual_seed(0)
    G, D = M.build_models("mlp", (2,), 4, hidden=8, depth=1)
    game = gan.GANGame(G, D, latent_dim=3)
    with pytest.raises(ValueError, match=r"latent_dim=4, got z of shape \(16, 3\)"):
        eq.make_solver("simgd", game, lr=1e-3).step(RING.sample(16, torch.Generator().manual_seed(0)))
    Gd = M.DCGANGenerator(8, 16, 1, width=4)
    with pytest.raises(ValueError, match="latent_dim=8"):
        Gd(torch.randn(2, 5))


def _item_loss(d_real, d_fake, label_smoothing=0.0):
    g = torch.tensor(torch.nn.functional.softplus(-d_fake).mean().item())  # through .item(): no gradient
    return g, torch.nn.functional.softplus(d_fake).mean() + torch.nn.functional.softplus(-d_real).mean()


def test_loss_through_item_names_the_player(monkeypatch):
    monkeypatch.setitem(L.LOSS_FUNCTIONS, "itemloss", _item_loss)
    torch.manual_seed(0)
    G, D = M.build_models("mlp", (2,), 4, hidden=8, depth=1)
    game = gan.GANGame(G, D, loss="itemloss")
    with pytest.raises(ValueError, match=r"player 'G''s \(generator's\) loss has no gradient.*\.item\(\)"):
        eq.make_solver("simgd", game, lr=1e-3).step(RING.sample(16, torch.Generator().manual_seed(0)))


class Detached(nn.Module):
    input_shape = (2,)

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(2, 1)

    def forward(self, x):
        return torch.tensor(self.net(x).detach().numpy()).reshape(-1)


def test_discriminator_without_gradient_named():
    torch.manual_seed(0)
    G, _ = M.build_models("mlp", (2,), 4, hidden=8, depth=1)
    game = gan.GANGame(G, Detached())
    with pytest.raises(ValueError, match=r"discriminator's outputs D\(x\) and D\(G\(z\)\) carry no gradient"):
        eq.make_solver("simgd", game, lr=1e-3).step(RING.sample(16, torch.Generator().manual_seed(0)))


# ---- unclear ----------------------------------------------------------------------------------

def test_ring_with_zero_modes():
    with pytest.raises(DataError, match="modes must be an integer >= 1, got 0"):
        gan.load_dataset("ring", modes=0)
    with pytest.raises(DataError, match="side must be an integer >= 1"):
        gan.load_dataset("grid", side=0)
    with pytest.raises(DataError, match="weights must have one entry per mean"):
        gan.load_dataset("gaussian1d", means=[0, 1], weights=[1])


def test_sample_on_a_missing_run_speaks_of_a_run_folder(tmp_path, capsys):
    assert main(["sample", "--run", str(tmp_path / "none"), "--n", "3", "--out", str(tmp_path / "s.npy")]) == 2
    err = _one_line_error(capsys, f"run folder {tmp_path / 'none'} does not exist")
    assert "resume" not in err


def test_per_player_optimizer_options_explained():
    with pytest.raises(ConfigError, match=r"optimizer_options is not an option of gan train.*beta1, beta2.*"
                                          r"momentum.*lr_g and lr_d"):
        gan.train(optimizer_options={"G": {"betas": (0.5, 0.9)}}, **TINY)


# ---- foreign checkpoints and folders ----------------------------------------------------------

def _copy_run(run, dest):
    import shutil

    shutil.copytree(run, dest)
    return dest


def test_checkpoint_of_another_model_refused(run, tmp_path):
    other = tmp_path / "w16"
    T.train(steps=1, out=str(other), **{**TINY, "width": 16})
    mixed = _copy_run(run, tmp_path / "mixed")
    for p in ck.kept_checkpoints(mixed / T.CHECKPOINT):
        p.unlink()
    (mixed / T.CHECKPOINT).write_bytes((other / T.CHECKPOINT).read_bytes())
    with pytest.raises(T.RunError, match=r"does not belong to this run.*width: config.json 8, checkpoint 16"):
        T.train(resume=mixed, steps=4)


def _rewrite(path, edit):
    state = ck.load_checkpoint(path)
    edit(state)
    for p in ck.kept_checkpoints(path):
        p.unlink()
    ck.save_checkpoint(state, path)


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.update(format=0, versions={"equilib": "0.0.1", "torch": "1.13.0"}),
     r"written by equilib 0\.0\.1, torch 1\.13\.0 in run-state format 0; .*reads format 2"),
    # the format before the trainer drew z itself: refused, naming both formats
    (lambda s: s.update(format=1), r"run-state format 1 \(the game drew its own latent noise\); this version .*reads "
                                   r"format 2 only \(the trainer draws z from its own checkpointed stream\)"),
    (lambda s: s["G"].pop("net.0.weight"), r"another model G .*net\.0\.weight"),
    (lambda s: s["solver"].update(solver="consensus"), r"another solver state .*'consensus'.*'simgd'"),
])
def test_incompatible_checkpoint_refused_naming_what_differs(run, tmp_path, edit, message):
    mixed = _copy_run(run, tmp_path / "mixed")
    _rewrite(mixed / T.CHECKPOINT, edit)
    with pytest.raises(ck.CheckpointError, match=message):
        T.train(resume=mixed, steps=4)


def test_folder_holding_something_else_is_never_overwritten(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(T.RunError, match=r"not empty \(notes.txt\) and holds no gan run; it is never overwritten"):
        gan.train(steps=1, out=str(folder), **TINY)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    (folder / T.CONFIG).write_text('{"format": "something else"}')
    with pytest.raises(T.RunError, match="is not the config of a gan run"):
        gan.train(resume=folder, steps=1)
    assert (folder / "notes.txt").read_text() == "precious"
