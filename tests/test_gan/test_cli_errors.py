"""Every option of ``gan train`` and ``gan sample`` given an invalid value: exit status 2, one line
``gan: error: ...`` naming the option, no traceback, nothing written."""

import pytest

from gan import training as T
from gan.cli import build_parser, main

BASE = ["--data", "ring", "--width", "8", "--depth", "1", "--no-progress"]

# option -> [(value, extra arguments, text the message must contain)]; argparse's type and choice
# errors are added from the parser itself (see _cases).
SEMANTIC = {
    "--data-root": [("/nonexistent-gan-data", ["--data", "mnist"], "/nonexistent-gan-data")],
    "--data-option": [("radius", [], "KEY=VALUE"), ("radius=abc", [], "radius"), ("modes=0", [], "modes"),
                      ("foo=1", [], "foo")],
    "--image-size": [("0", [], "image_size"), ("20", [], "image_size"), ("20", ["--data", "digits"], "image_size")],
    "--model": [("dcgan", [], "dcgan")],
    "--latent-dim": [("0", [], "latent_dim")], "--width": [("0", [], "width")], "--depth": [("-1", [], "depth")],
    "--model-option": [("spectral_norm=maybe", [], "spectral_norm"), ("nope", [], "KEY=VALUE"),
                       ("foo=1", [], "foo"), ("activation=[]", [], "activation"), ("pack=0", [], "pack"),
                       ("pack=3", [], "pack")],
    "--label-smoothing": [("1", [], "label_smoothing"), ("nan", [], "label_smoothing")],
    "--r1": [("-1", [], "r1")], "--r2": [("inf", [], "r2")], "--gp-weight": [("-1", [], "gp_weight")],
    "--instance-noise": [("-0.5", [], "instance_noise")],
    "--lr": [("0", [], "lr"), ("nan", [], "lr")], "--lr-g": [("-1", [], "lr_g")], "--lr-d": [("0", [], "lr_d")],
    "--lr-decay-at": [("0", [], "lr_decay_at")], "--lr-decay-factor": [("0", [], "lr_decay_factor")],
    "--beta1": [("0.5", [], "beta1"), ("1", ["--optimizer", "adam"], "beta1")],
    "--beta2": [("1.5", ["--optimizer", "adam"], "beta2")],
    "--momentum": [("1", [], "momentum"), ("0.5", ["--optimizer", "adam"], "momentum")],
    # solver options: names from equilib.solver_options, values checked by the solver itself
    "--solver-option": [("gamma=-1", [], "gamma"), ("gamma=1", ["--solver", "simgd"], "gamma"),
                        ("lam=1", [], "lam"), ("gamma", [], "KEY=VALUE"),
                        ("unroll_steps=-1", ["--solver", "unrolled"], "unroll_steps"),
                        ("unroll_optimizer=adam", ["--solver", "unrolled"], "unroll_optimizer"),
                        ("steps=G:0,D:1", ["--solver", "altgd"], "steps"), ("steps=X:1", ["--solver", "altgd"], "steps"),
                        ("align=maybe", ["--solver", "sga"], "align"), ("max_iter=0", ["--solver", "cgd"], "max_iter"),
                        ("a=-1", ["--solver", "sos"], "a"), ("alpha=G:-1,D:1", ["--solver", "lola"], "alpha")],
    "--rollback-factor": [("1", [], "rollback_factor"), ("0", [], "rollback_factor")],
    "--max-rollbacks": [("0", [], "max_rollbacks")],
    "--batch-size": [("0", [], "batch_size")], "--steps": [("0", [], "steps")], "--seed": [("-1", [], "seed")],
    "--device": [("gpu", [], "gpu"), ("cuda:7", [], "cuda:7")],
    "--amp": [("bf16", [], "amp")], "--channels-last": [(None, [], "channels_last")],
    "--ema": [("1", [], "ema"), ("-0.1", [], "ema")], "--uniform-average-from": [("-1", [], "uniform_average_from")],
    "--eval-every": [("0", [], "eval_every")], "--eval-samples": [("0", [], "eval_samples")],
    "--checkpoint-every": [("0", [], "checkpoint_every")], "--keep-checkpoints": [("0", [], "keep_checkpoints")],
    "--diagnostics-every": [("-1", [], "diagnostics_every")], "--tensorboard-every": [("0", [], "tensorboard_every")], "--threads": [("0", [], "threads")],
    "--resume": [("{tmp}/missing", [], "does not exist")], "--out": [("{tmp}/file/run", [], "--out")],
}
SAMPLE = {"--run": [("{tmp}/missing", "run folder")], "--n": [("0", "n must"), ("x", "--n")],
          "--out": [("{tmp}/s.txt", ".npy"), ("{tmp}/file/s.npy", "--out")], "--seed": [("-1", "seed"), ("x", "--seed")],
          "--which": [("bogus", "--which")]}
VALUELESS = {"--no-progress", "-h", "--help", "--tensorboard", "--fused", "--no-fused"}


def _options(sub):
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return {o: a for a in action.choices[sub]._actions for o in a.option_strings if o.startswith("--") or o == "-h"}


def _cases():
    cases = []
    for opt, a in _options("train").items():
        for value, extra, text in SEMANTIC.get(opt, []):
            cases.append((opt, value, extra, text))
        if a.type in (int, float):
            cases.append((opt, "x", [], opt))
        if a.type is int:
            cases.append((opt, "1.5", [], opt))
        if a.choices:
            cases.append((opt, "bogus", [], opt))
    return cases


def test_every_option_has_invalid_cases():
    train, sample = _options("train"), _options("sample")
    assert set(train) - VALUELESS <= set(SEMANTIC) | {o for o, a in train.items() if a.type or a.choices}
    assert set(SEMANTIC) <= set(train)
    assert set(sample) - VALUELESS == set(SAMPLE)


def _check(capsys, status, text, folder):
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("gan: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert text in err, (text, err)
    assert not (folder / "x").exists()


@pytest.mark.parametrize("opt,value,extra,text", _cases())
def test_invalid_train_option(tmp_path, capsys, opt, value, extra, text):
    (tmp_path / "file").write_text("")
    args = [*BASE, *extra, opt] + ([value.format(tmp=tmp_path)] if value is not None else [])
    if opt != "--out":
        args += ["--out", str(tmp_path / "x")]
    try:
        status = main(["train", *args])
    except SystemExit as e:
        status = e.code
    _check(capsys, status, text, tmp_path)


def test_missing_data_file_names_the_path_and_how_to_get_it(tmp_path, capsys):
    assert main(["train", "--data", "mnist", "--data-root", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "none") in err and "download" in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-errors") / "r"
    T.train(data="ring", width=8, depth=1, latent_dim=4, batch_size=16, steps=1, eval_samples=50, progress=False,
            solver="simgd", out=str(out))
    return out


@pytest.mark.parametrize("opt,value,text", [(o, v, t) for o, cases in SAMPLE.items() for v, t in cases])
def test_invalid_sample_option(run, tmp_path, capsys, opt, value, text):
    (tmp_path / "file").write_text("")
    args = {"--run": str(run), "--n": "3", "--out": str(tmp_path / "s.npy")}
    args[opt] = value.format(tmp=tmp_path)
    try:
        status = main(["sample", *[x for kv in args.items() for x in kv]])
    except SystemExit as e:
        status = e.code
    _check(capsys, status, text, tmp_path)
    assert not (tmp_path / "s.npy").exists()
