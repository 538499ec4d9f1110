"""gan.training: run folders, bit-identical resume, NaN handling, configuration errors."""

import json

import pytest
import torch

import equilib as eq
from gan import checkpoint as ck
from gan import training as T
from gan.config import DATA_NAMES, LOSS_NAMES, MODEL_NAMES, SOLVER_NAMES, ConfigError, TrainConfig

TINY = dict(data="ring", width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=200, progress=False)


def _tensors(obj, prefix=""):
    """Flatten a nested state into {path: tensor or value}."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_tensors(v, f"{prefix}/{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(_tensors(v, f"{prefix}/{i}"))
    else:
        out[prefix] = obj
    return out


def _assert_states_equal(a, b, also_skip=()):
    fa, fb = _tensors(a), _tensors(b)
    skip = ("/seconds", "/config/steps", "/config/out", *also_skip)
    assert sorted(fa) == sorted(fb)
    for k in fa:
        if k in skip:
            continue
        if isinstance(fa[k], torch.Tensor):
            assert fa[k].dtype == fb[k].dtype and torch.equal(fa[k], fb[k]), k
        else:
            assert fa[k] == fb[k], k


@pytest.mark.parametrize("solver,extra", [
    ("consensus", dict(optimizer="rmsprop", solver_options={"gamma": 10.0}, ema=0.9, uniform_average_from=3)),
    ("optimistic", dict(optimizer="adam", beta1=0.5, lr_decay_at=8, lr_decay_factor=0.5)),
    ("extragradient", dict(optimizer="sgd", momentum=-0.3, lr=0.01)),
])
def test_resume_is_bit_identical(tmp_path, solver, extra):
    n = 6
    opts = dict(TINY, solver=solver, eval_every=4, checkpoint_every=4, **extra)
    full = T.train(steps=2 * n, out=str(tmp_path / "full"), **opts)
    half = T.train(steps=n, out=str(tmp_path / "half"), **opts)
    assert half.steps == n
    resumed = T.train(resume=tmp_path / "half", steps=2 * n)
    assert resumed.steps == full.steps == 2 * n
    a = ck.load_checkpoint(tmp_path / "full" / T.CHECKPOINT)
    b = ck.load_checkpoint(tmp_path / "half" / T.CHECKPOINT)
    assert a["step"] == b["step"] == 2 * n
    _assert_states_equal(a, b)
    if "lr_decay_at" in extra:  # the step decay is in force after step 8 in both runs
        lr = TrainConfig(**{**opts, "steps": 2 * n}).resolved().lr_g * extra["lr_decay_factor"]
        assert a["solver"]["optimizers"]["G"]["param_groups"][0]["lr"] == lr
    # and the evaluation logs agree on every step evaluated in both
    la = [json.loads(x) for x in (tmp_path / "full" / T.METRICS).read_text().splitlines()]
    lb = [json.loads(x) for x in (tmp_path / "half" / T.METRICS).read_text().splitlines()]
    steps_b = {r["step"]: r for r in lb}
    for r in la:
        if r["step"] in steps_b:
            assert r["G"] == steps_b[r["step"]]["G"] and r["losses"] == steps_b[r["step"]]["losses"]


def test_resume_with_batchnorm_dcgan_is_bit_identical(tmp_path):
    opts = dict(data="digits", model="dcgan", width=4, latent_dim=8, batch_size=8, eval_every=100,
                checkpoint_every=100, eval_samples=20, solver="simgd", optimizer="adam", lr=2e-4,
                beta1=0.5, ema=0.9, progress=False)
    T.train(steps=4, out=str(tmp_path / "full"), **opts)
    T.train(steps=2, out=str(tmp_path / "half"), **opts)
    T.train(resume=tmp_path / "half", steps=4)
    a = ck.load_checkpoint(tmp_path / "full" / T.CHECKPOINT)
    b = ck.load_checkpoint(tmp_path / "half" / T.CHECKPOINT)
    assert any("running_mean" in k for k in a["G"])  # BatchNorm buffers are in the checkpoint
    _assert_states_equal(a, b)


def test_run_folder_contents(tmp_path):
    res = T.train(steps=10, eval_every=5, checkpoint_every=5, out=str(tmp_path / "r"), solver="simgd", **TINY)
    run = tmp_path / "r"
    assert res.run_dir == run and str(run) == str(res.__fspath__())
    cfg = json.loads((run / T.CONFIG).read_text())
    assert cfg["solver"] == "simgd" and cfg["steps"] == 10 and cfg["optimizer"] == "rmsprop"
    lines = [json.loads(x) for x in (run / T.METRICS).read_text().splitlines()]
    assert [r["step"] for r in lines] == [5, 10]
    assert set(lines[-1]["G"]) == {"modes", "high_quality", "kl"} and "ema" in lines[-1]
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["step0000005-ema.png", "step0000010-ema.png"]
    assert ck.load_checkpoint(run / T.CHECKPOINT)["step"] == 10
    assert ck.load_checkpoint(ck.previous_path(run / T.CHECKPOINT))["step"] == 5


def test_nan_stops_with_step_and_player_and_keeps_checkpoint(tmp_path, monkeypatch):
    opts = dict(TINY, solver="consensus", optimizer="rmsprop", checkpoint_every=5, eval_every=100)
    T.train(steps=5, out=str(tmp_path / "clean"), **opts)
    from gan.data import GaussianMixture

    real_sample = GaussianMixture.sample
    calls = {"n": 0}

    def poisoned(self, n, generator=None):
        x = real_sample(self, n, generator)
        calls["n"] += 1
        if calls["n"] == 8:  # the 8th batch holds a NaN
            x[0, 0] = float("nan")
        return x

    monkeypatch.setattr(GaussianMixture, "sample", poisoned)
    with pytest.raises(T.TrainingError, match=r"step 8: non-finite loss for player 'D'.*step 5\) is intact") as info:
        T.train(steps=20, out=str(tmp_path / "nan"), **opts)
    assert isinstance(info.value, eq.NonFiniteError)
    assert info.value.player == "D" and info.value.step == 8
    monkeypatch.undo()
    kept = ck.load_checkpoint(tmp_path / "nan" / T.CHECKPOINT)
    clean = ck.load_checkpoint(tmp_path / "clean" / T.CHECKPOINT)
    assert kept["step"] == 5
    # the cost counted since the last evaluation differs by design: the 5-step run evaluated at step 5
    assert clean["cost"] == {"evals": 0, "backward": 0, "steps": 0} and kept["cost"]["steps"] == 5
    _assert_states_equal(kept, clean, also_skip=("/cost/evals", "/cost/backward", "/cost/steps"))


def test_resume_errors(tmp_path):
    with pytest.raises(T.RunError, match="does not exist"):
        T.train(resume=tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(T.RunError, match="holds no run"):
        T.train(resume=tmp_path / "empty")
    T.train(steps=3, out=str(tmp_path / "r"), solver="simgd", **TINY)
    with pytest.raises(T.RunError, match=r"solver: saved 'simgd', given 'consensus'.*lr_d: saved 0.001, given 0.5"):
        T.train(resume=tmp_path / "r", steps=6, solver="consensus", lr_d=0.5)
    with pytest.raises(T.RunError, match="already holds a run"):
        T.train(steps=3, out=str(tmp_path / "r"), solver="simgd", **TINY)
    with pytest.raises(T.RunError, match="already at step 3"):
        T.train(resume=tmp_path / "r", steps=2)


def test_corrupt_checkpoint_resume_falls_back_to_previous(tmp_path):
    from gan.runs import RunWarning

    T.train(steps=8, checkpoint_every=2, out=str(tmp_path / "full"), solver="simgd", **TINY)
    T.train(steps=4, checkpoint_every=2, out=str(tmp_path / "r"), solver="simgd", **TINY)
    path = tmp_path / "r" / T.CHECKPOINT
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ck.CheckpointError, match=r"truncated.*checkpoint\.pt\.prev is intact"):
        ck.load_checkpoint(path)
    with pytest.warns(RunWarning, match=r"skipped checkpoint checkpoint\.pt: .*truncated.*; using checkpoint\.pt\.prev"):
        T.train(resume=tmp_path / "r", steps=8)
    _assert_states_equal(ck.load_checkpoint(tmp_path / "full" / T.CHECKPOINT), ck.load_checkpoint(path))


def test_config_errors_name_option_and_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match="unknown data 'rings'; allowed: gaussian1d, ring, grid, digits"):
        T.train(data="rings", out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="unknown solver 'adam'; allowed: simgd, altgd"):
        T.train(solver="adam", out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="unknown loss 'wgan'; allowed: minimax, nonsaturating, wgan-gp"):
        T.train(loss="wgan", out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"solver simgd has no option\(s\) \['gamma'\]; its options: none"):
        T.train(solver="simgd", solver_options={"gamma": 1.0}, out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"solver sga has no option\(s\) \['gamma'\]; its options: lam \(default 1.0\), "
                                          r"align \(default True\), eps \(default 0.1\)"):
        T.train(solver="sga", solver_options={"gamma": 1.0}, out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"\['d_steps', 'gamma'\] are solver options now: d_steps -> "
                                          r"solver_options\['steps'\], gamma -> solver_options\['gamma'\]"):
        T.train(gamma=1.0, d_steps=2, out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="lr_g must be > 0"):
        T.train(lr_g=0.0, out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="model 'dcgan' needs image data"):
        T.train(model="dcgan", out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"does not fit data 'digits'.*\(1, 16, 16\)"):
        T.train(data="digits", model="mlp", out=str(tmp_path / "x"), steps=1, progress=False)
    with pytest.raises(ConfigError, match=r"image_size 20 is not supported by DCGAN; supported sizes: \[16, 32, 64\]"):
        T.train(data="digits", image_size=20, out=str(tmp_path / "x"), steps=1, progress=False)
    assert not (tmp_path / "x").exists()  # nothing was written for bad input


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_device_errors():
    with pytest.raises(ConfigError, match=r"CUDA is not available.*use --device cpu"):
        T.resolve_device("cuda")
    with pytest.raises(ConfigError, match=r"CUDA is not available"):
        T.resolve_device("cuda:1")
    with pytest.raises(ConfigError, match="amp='bf16' .*needs a CUDA device"):
        T.resolve_device("cpu", amp="bf16")
    with pytest.raises(ConfigError, match="channels_last needs a CUDA device"):
        T.resolve_device("cpu", channels_last=True)
    with pytest.raises(ConfigError, match="not a device"):
        T.resolve_device("gpu0")


def test_config_names_match_the_packages():
    import gan

    assert set(SOLVER_NAMES) == set(eq.SOLVERS)
    assert set(LOSS_NAMES) == set(gan.losses.LOSSES)
    assert set(MODEL_NAMES) == set(gan.models.MODELS)
    assert set(DATA_NAMES) == set(gan.data.DATASETS)


def test_defaults_resolve_for_every_data_set_and_solver():
    for data in ("ring", "grid", "gaussian1d", "digits"):
        for solver in SOLVER_NAMES:
            cfg = TrainConfig(data=data, solver=solver).resolved()
            assert cfg.lr_g > 0 and cfg.lr_d > 0 and cfg.steps >= 1 and cfg.model in MODEL_NAMES


def test_image_tiles_and_interpolation_strip(tmp_path):
    import numpy as np

    from gan import plots

    images = torch.stack([torch.full((1, 2, 3), -1.0), torch.full((1, 2, 3), 1.0), torch.zeros(1, 2, 3)])
    tiled = plots.tile_images(images, nrow=2, pad=1)
    # 2 columns, 2 rows of 2x3 images with 1-pixel white padding: (2*(2+1)+1, 2*(3+1)+1)
    assert tiled.shape == (7, 9)
    assert np.all(tiled[1:3, 1:4] == 0.0) and np.all(tiled[1:3, 5:8] == 1.0) and np.all(tiled[4:6, 1:4] == 0.5)
    assert np.all(tiled[0] == 1.0) and np.all(tiled[4:6, 5:8] == 1.0)  # padding and the empty cell

    # strip: rows are G((1 - t) z0 + t z1); with G = identity-as-image the middle column is the mean
    class Lift(torch.nn.Module):
        def forward(self, z):
            return z.reshape(-1, 1, 1, 2)

    z0, z1 = torch.tensor([[-1.0, -1.0]]), torch.tensor([[1.0, 1.0]])
    path = plots.interpolation_strip(Lift(), z0, z1, tmp_path / "s.png", steps=3, min_cell=0)
    import matplotlib.pyplot as plt

    img = plt.imread(path)
    row = img[1, 1:-1, 0] if img.ndim == 3 else img[1, 1:-1]
    # cells 0, 0.5, 1 in [0, 1] after mapping [-1, 1] -> [0, 1], separated by white padding
    np.testing.assert_allclose(row[[0, 1, 3, 4, 6, 7]], [0, 0, 0.5, 0.5, 1, 1], atol=1 / 255 + 1e-6)
    # enlarged: every pixel becomes a 2 x 2 block (min_cell 2 on 1-pixel-high images)
    big = plt.imread(plots.interpolation_strip(Lift(), z0, z1, tmp_path / "b.png", steps=3, min_cell=2))
    small = img[..., 0] if img.ndim == 3 else img
    big = big[..., 0] if big.ndim == 3 else big
    np.testing.assert_array_equal(big, small.repeat(2, axis=0).repeat(2, axis=1))


def test_diagnostics_are_recorded_and_leave_training_unchanged(tmp_path):
    opts = dict(TINY, solver="simgd", optimizer="sgd", lr=0.05, steps=6, eval_every=100, checkpoint_every=100)
    T.train(out=str(tmp_path / "plain"), **opts)
    T.train(out=str(tmp_path / "diag"), diagnostics_every=3, **opts)
    rows = [json.loads(x) for x in (tmp_path / "diag" / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6]
    assert len(rows[0]["eigenvalues"]) == 6 and rows[0]["grad_norm_D"] > 0
    # simgd with plain SGD: the recorder also gives the update map's spectral radius
    assert rows[0]["spectral_radius"] > 0
    a = ck.load_checkpoint(tmp_path / "plain" / T.CHECKPOINT)
    b = ck.load_checkpoint(tmp_path / "diag" / T.CHECKPOINT)
    assert b["config"].pop("diagnostics_every") == 3 and a["config"].pop("diagnostics_every") == 0
    _assert_states_equal(a, b)


def test_gan_train_is_a_function(tmp_path):
    import gan

    result = gan.train(steps=2, out=str(tmp_path / "r"), solver="simgd", **TINY)
    assert isinstance(result, T.TrainResult) and result.steps == 2
    assert gan.sample is T.sample and gan.load_run is T.load_run
