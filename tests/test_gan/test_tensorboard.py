"""``gan train --tensorboard``: the event files hold what metrics.jsonl and diagnostics.jsonl hold, a resumed
run shows every step once, and without the package the option is one clear error before anything is written."""

import json
import math
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gan import training as T
from gan.cli import main
from gan.config import ConfigError
from gan.tensorboard import FOLDER, INSTALL

SMALL = dict(data="ring", width=16, depth=2, latent_dim=4, batch_size=64, eval_samples=500, progress=False,
             threads=1, steps=30, eval_every=10, checkpoint_every=10, tensorboard=True)


def _events(run, purge=True):
    acc = EventAccumulator(str(run / FOLDER), purge_orphaned_data=purge)
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return {e.step: e.value for e in acc.Scalars(tag)}


def _f32(value):
    """What TensorBoard stores for a number of metrics.jsonl (a float32; non-finite numbers are text there)."""
    return float(np.float32(float(value)))


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tb") / "r"
    T.train(out=str(out), tensorboard_every=4, diagnostics_every=15, optimizer="sgd", **SMALL)
    return out


def test_losses_learning_rates_and_metrics_equal_metrics_jsonl(run):
    acc = _events(run)
    records = _jsonl(run / T.METRICS)
    assert [r["step"] for r in records] == [10, 20, 30]
    every_4_and_evaluations = sorted(set(range(4, 31, 4)) | {10, 20, 30})
    for player in ("G", "D"):
        losses = _scalars(acc, f"loss/{player}")
        assert sorted(losses) == every_4_and_evaluations
        for r in records:
            assert losses[r["step"]] == _f32(r["losses"][player])
    config = json.loads((run / T.CONFIG).read_text())
    assert set(_scalars(acc, "lr/G").values()) == {_f32(config["lr_g"])}
    assert set(_scalars(acc, "lr/D").values()) == {_f32(config["lr_d"])}
    compared = 0
    for r in records:
        for action, count in r["nonfinite"].items():
            assert _scalars(acc, f"nonfinite/{action}")[r["step"]] == count
        for generator in ("G", "ema"):
            for metric, value in r[generator].items():
                logged = _scalars(acc, f"metrics/{generator}/{metric}")[r["step"]]
                assert logged == _f32(value) or (math.isnan(logged) and value == "nan"), (generator, metric)
                compared += 1
    assert compared == 3 * 2 * 3  # evaluations x generators x (modes, high_quality, kl)


def test_diagnostics_and_figures(run):
    acc = _events(run)
    rows = _jsonl(run / "diagnostics.jsonl")
    assert [r["step"] for r in rows] == [15, 30]
    for r in rows:
        step = r["step"]
        assert _scalars(acc, "grad_norm/G")[step] == _f32(r["grad_norm_G"])
        assert _scalars(acc, "grad_norm/D")[step] == _f32(r["grad_norm_D"])
        assert _scalars(acc, "diagnostics/spectral_radius")[step] == _f32(r["spectral_radius"])
        for i, (re, im) in enumerate(r["eigenvalues"]):
            assert _scalars(acc, f"diagnostics/eig{i}_re")[step] == _f32(re)
            assert _scalars(acc, f"diagnostics/eig{i}_im")[step] == _f32(im)
    assert [im.step for im in acc.Images("diagnostics/eigenvalues")] == [15, 30]
    samples = acc.Images("samples/ema")
    assert [im.step for im in samples] == [10, 20, 30]
    assert all(im.encoded_image_string.startswith(b"\x89PNG") and im.width > 100 for im in samples)


class Killed(BaseException):
    """Stands in for a kill between two checkpoints."""


def test_resumed_run_shows_every_step_once_with_the_uninterrupted_values(tmp_path):
    options = dict(SMALL, tensorboard_every=1, solver="simgd", optimizer="rmsprop")
    T.train(out=str(tmp_path / "whole"), **options)

    def kill_at_25(b, step, losses):
        if step == 25:
            raise Killed

    stopped = tmp_path / "stopped"
    with pytest.raises(Killed):  # steps 21-24 are logged, the newest checkpoint is step 20's
        T.train(out=str(stopped), callbacks=[kill_at_25], **options)
    assert len(_events(stopped, purge=False).Scalars("loss/G")) == 24
    T.train(resume=str(stopped))

    whole, resumed = _events(tmp_path / "whole"), _events(stopped)
    for tag in ("loss/G", "loss/D", "lr/G", "metrics/ema/high_quality"):
        steps = [e.step for e in resumed.Scalars(tag)]
        assert steps == sorted(set(steps)), tag                      # no step twice
        assert _scalars(resumed, tag) == _scalars(whole, tag), tag   # bit-identical resume, same events
    assert sorted(_scalars(resumed, "loss/G")) == list(range(1, 31))
    raw = [e.step for e in _events(stopped, purge=False).Scalars("loss/G")]
    assert sorted(raw) == sorted([*range(1, 31), *range(21, 25)])   # what purge_step hides: the killed session's 21-24
    for r in _jsonl(stopped / T.METRICS):
        assert _scalars(resumed, "loss/G")[r["step"]] == _f32(r["losses"]["G"])


@pytest.fixture
def no_tensorboard(monkeypatch):
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, as when it is not installed


def test_missing_package_is_one_error_before_anything_is_written(no_tensorboard, tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"pip install 'equilib\[tensorboard\]'"):
        T.train(out=str(tmp_path / "api"), **SMALL)
    assert not (tmp_path / "api").exists()
    status = main(["train", "--data", "ring", "--steps", "2", "--no-progress", "--tensorboard",
                   "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("gan: error: ") and INSTALL in err, err
    assert not (tmp_path / "cli").exists()
    T.train(out=str(tmp_path / "off"), **dict(SMALL, tensorboard=False, steps=2))  # off: not needed
    assert not (tmp_path / "off" / FOLDER).exists()


@pytest.mark.parametrize("option,value", [("tensorboard_every", 0), ("tensorboard_every", 2.5), ("tensorboard", "yes")])
def test_bad_values_are_refused(tmp_path, option, value):
    with pytest.raises(ConfigError, match=option):
        T.train(out=str(tmp_path / "r"), **dict(SMALL, **{option: value}))
    assert not (tmp_path / "r").exists()


def test_image_grid_is_the_plots_folders_grid(tmp_path):
    import io

    import matplotlib.image as mpimg
    import torch

    def scramble(b, step, losses):  # varied images, so a wrong grid (other samples, order, scale) shows
        with torch.no_grad():
            for p in b.G.parameters():
                p.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(step))

    run = tmp_path / "digits"
    T.train(data="digits", steps=2, eval_every=2, eval_samples=100, batch_size=16, width=8, ema=0.0, threads=1,
            progress=False, tensorboard=True, out=str(run), callbacks=[scramble])
    (logged,) = _events(run).Images("samples/G")
    grid = mpimg.imread(io.BytesIO(logged.encoded_image_string))[..., 0]
    plotted = mpimg.imread(run / "plots" / "step0000002-G-grid.png")[..., 0]
    assert logged.step == 2 and grid.shape == plotted.shape == (3 * (8 * 17 + 1),) * 2  # 8 x 8 cells of 16 + 1, x3
    assert np.unique(np.round(plotted * 255)).size > 50
    assert np.abs(grid - plotted).max() <= 1.5 / 255  # the two PNG writers round [0, 1] to 8 bits differently


def test_tensorboard_can_be_switched_on_when_a_run_is_resumed(tmp_path):
    import json

    from gan import train
    run = tmp_path / "run"
    train(data="ring", solver="simgd", steps=10, eval_every=10, checkpoint_every=10, eval_samples=200,
          batch_size=64, progress=False, out=str(run))
    assert not (run / "tensorboard").exists()
    train(resume=run, steps=20, tensorboard=True, tensorboard_every=5)
    saved = json.loads((run / "config.json").read_text())
    assert saved["tensorboard"] is True and saved["tensorboard_every"] == 5 and saved["steps"] == 20
    assert any((run / "tensorboard").iterdir())
