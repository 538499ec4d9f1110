"""Property-based tests (hypothesis) of gan's public entry points: every case ends in a correct
result, checked against an independent specification, or in a ValueError/TypeError whose message
names the argument; never another exception, never a value silently replaced."""

import math
import uuid

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gan
from gan import losses as L
from gan import models as M
from gan import training as T
from gan.config import DATA_NAMES, LOSS_NAMES, OPTIMIZER_NAMES, SOLVER_NAMES

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.sampled_from([0.5, 1.5, -0.5, 0.0, 1.0, 1e-3]),
                st.sampled_from([math.nan, math.inf, -math.inf]), st.text(max_size=6),
                st.sampled_from(["1", "true", "off", "cpu", "cuda", "mlp", "dcgan", "adam", "sgd", "ring", "digits"]),
                st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.sampled_from(["a", "radius"]),
                                                                        st.integers(0, 2), max_size=1))


def _int(low):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _num(low, high=math.inf, open_low=False, open_high=True):
    def ok(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
    return ok


def _flag(v):
    return isinstance(v, bool) or v in (0, 1) or (isinstance(v, str) and v.strip().lower() in
                                                  ("true", "false", "1", "0", "yes", "no", "on", "off"))


_RING_OPTION = {"modes": _int(1), "radius": _num(0, open_low=True), "std": _num(0, open_low=True)}
_MODEL_OPTION = {"spectral_norm": _flag, "minibatch_discrimination": _flag, "hidden": _int(1), "depth": _int(1),
                 "activation": lambda v: v in ("relu", "leaky_relu", "tanh", "elu", "softplus")}

# Independent specification of gan.train's options, changed one at a time from data=ring,
# solver=consensus (default optimizer rmsprop, no CUDA on the test machines): None is "the default".
VALID = {
    "data": lambda v: v in ("gaussian1d", "ring", "grid", "digits", "stacked-digits"),   # the others need root=
    "model": lambda v: v in (None, "mlp"),
    "loss": lambda v: v in LOSS_NAMES, "solver": lambda v: v in SOLVER_NAMES,
    "optimizer": lambda v: v is None or v in OPTIMIZER_NAMES,
    **{k: (lambda v: v is None or _int(1)(v)) for k in ("latent_dim", "width", "depth", "batch_size", "steps",
                                                         "eval_every", "eval_samples", "checkpoint_every",
                                                         "lr_decay_at", "threads")},
    "keep_checkpoints": _int(1), "seed": _int(0), "diagnostics_every": _int(0),
    "tensorboard": lambda v: isinstance(v, bool), "tensorboard_every": _int(1), "fused": lambda v: isinstance(v, bool),
    "uniform_average_from": lambda v: v is None or _int(0)(v),
    **{k: (lambda v: v is None or _num(0, open_low=True)(v)) for k in ("lr", "lr_g", "lr_d", "lr_decay_factor")},
    # consensus takes one option, gamma, a finite number >= 0 (Mescheder et al. 2017)
    "solver_options": lambda v: isinstance(v, dict) and all(k == "gamma" and _num(0)(x) for k, x in v.items()),
    "on_nonfinite": lambda v: v in ("raise", "skip", "rollback"),
    "rollback_factor": _num(0, 1, open_low=True), "max_rollbacks": _int(1),
    **{k: (lambda v: v is None or _num(0)(v)) for k in ("r1", "r2")},   # None: the recipe's, else 0
    **{k: _num(0) for k in ("gp_weight", "instance_noise")},
    "label_smoothing": _num(0, 1),
    # the ring recipe's optimizer is RMSProp: momentum in [0, 1) (negative momentum is sgd's: test_bad_inputs.py)
    "momentum": lambda v: v is None or _num(0, 1)(v),
    "ema": lambda v: v is None or _num(0, 1)(v),
    **{k: (lambda v: v is None) for k in ("beta1", "beta2", "image_size", "amp")},
    "compile": lambda v: v is None,  # consensus differentiates through gradients: every backend is refused for it
    "device": lambda v: v == "cpu", "channels_last": lambda v: v is False, "progress": lambda v: isinstance(v, bool),
    "data_root": lambda v: v is None or (isinstance(v, str) and v != ""),
    "data_options": lambda v: isinstance(v, dict) and all(k in _RING_OPTION and _RING_OPTION[k](x) for k, x in v.items()),
    "model_options": lambda v: isinstance(v, dict) and all(k in _MODEL_OPTION and _MODEL_OPTION[k](x)
                                                           for k, x in v.items()),
}
SPECIAL = {"data": st.sampled_from(DATA_NAMES), "solver": st.sampled_from(SOLVER_NAMES),
           "optimizer": st.sampled_from(OPTIMIZER_NAMES), "loss": st.sampled_from(LOSS_NAMES),
           "compile": st.sampled_from([None, "inductor", "aot_eager", "eager", "tensorrt"]),
           "data_options": st.dictionaries(st.sampled_from(["modes", "radius", "std", "side"]), ANY, max_size=2),
           "model_options": st.dictionaries(st.sampled_from(sorted(_MODEL_OPTION) + ["width"]), ANY, max_size=2)}


class Reached(Exception):
    """Raised instead of training: the configuration was accepted and everything was built."""


def test_covers_every_option():
    from dataclasses import fields

    from gan.config import TrainConfig

    assert {f.name for f in fields(TrainConfig)} - {"out"} == set(VALID)


@settings(max_examples=250, **SETTINGS)
@given(data=st.data())
def test_train_options_are_validated(tmp_path, monkeypatch, data):
    def stop(b, *args):
        raise Reached(b.config)

    monkeypatch.setattr(T, "loop", stop)
    key = data.draw(st.sampled_from(sorted(VALID)), label="option")
    value = data.draw(st.one_of(SPECIAL[key], ANY) if key in SPECIAL else ANY, label="value")
    out = tmp_path / uuid.uuid4().hex
    try:
        gan.train(**{"data": "ring", "solver": "consensus", "out": str(out), "progress": False, key: value})
    except Reached as r:
        cfg = r.args[0]
        assert VALID[key](value), f"{key}={value!r} was accepted"
        got = getattr(cfg, key)
        if key == "model_options":
            value = {k: (M._flag(k, v) if k in ("spectral_norm", "minibatch_discrimination") else v)
                     for k, v in value.items()}
        if key == "solver_options":  # merged over the recipe of ring + consensus (gan/recipes.json: gamma 10)
            value = {"gamma": 10.0, **value}
        assert value is None or got == value, f"{key}={value!r} became {got!r}"
    except (ValueError, TypeError) as e:
        assert not VALID[key](value), f"{key}={value!r} was refused: {e}"
        names = [key, *(value if isinstance(value, dict) else ())]  # a dict option: the option or its entry
        assert any(n in str(e) for n in names) or (key == "data" and "data set" in str(e)), str(e)
        assert not out.exists()


@settings(max_examples=150, **SETTINGS)
@given(name=st.sampled_from(["ring", "grid", "gaussian1d", "rings", 3]),
       options=st.dictionaries(st.sampled_from(["modes", "radius", "std", "side", "spacing", "means", "weights"]),
                               ANY, max_size=2))
def test_load_dataset(name, options):
    spec = {"ring": {"modes": _int(1), "radius": _num(0, open_low=True), "std": _num(0, open_low=True)},
            "grid": {"side": _int(1), "spacing": _num(0, open_low=True), "std": _num(0, open_low=True)},
            "gaussian1d": {"means": lambda v: isinstance(v, list) and len(v) > 0, "std": _num(0, open_low=True),
                           "weights": lambda v: v is None}}.get(name)
    bad = ["name"] if spec is None else [k for k, v in options.items() if k not in spec or not spec[k](v)]
    if name == "gaussian1d" and "weights" in options and options["weights"] is not None:
        bad.append("weights")
    try:
        data = gan.load_dataset(name, **options)
    except (ValueError, TypeError) as e:
        assert bad, f"{name} {options} refused: {e}"
        assert any(k in str(e) for k in bad) or (spec is None and "unknown data set" in str(e)), str(e)
        return
    assert not bad, f"{name} {options} accepted"
    if name == "ring":
        k, r = options.get("modes", 8), options.get("radius", 1.0)
        assert data.means.shape == (k, 2)
        torch.testing.assert_close(data.means.double().norm(dim=1), torch.full((k,), float(r), dtype=torch.float64),
                                   rtol=1e-6, atol=1e-6)
    elif name == "grid":
        assert data.means.shape == (options.get("side", 5) ** 2, 2)
    else:
        assert data.means.reshape(-1).tolist() == [float(m) for m in options.get("means", (-2.0, 2.0))]
    assert data.std == float(options.get("std", data.std))


@settings(max_examples=120, **SETTINGS)
@given(model=st.sampled_from(["mlp", "dcgan", "MLP", "gan", None]),
       shape=st.one_of(st.lists(st.integers(-1, 17), min_size=1, max_size=3),
                       st.sampled_from([(1, 16, 16), (3, 16, 16), (2,), "ab", (1.5,)])),
       latent=st.one_of(st.integers(-1, 6), st.sampled_from([2.5, "4", True])),
       options=st.dictionaries(st.sampled_from(["hidden", "depth", "width", "spectral_norm", "activation", "foo"]),
                               st.one_of(st.integers(0, 4), st.sampled_from(["off", "maybe", "tanh", 2.5])),
                               max_size=2))
def test_build_models(model, shape, latent, options):
    try:
        G, D = M.build_models(model, shape, latent, **options)
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert any(w in msg for w in ("model", "data_shape", "latent_dim", *options)), msg
        return
    shape = tuple(shape)
    # accepted only for what the documentation allows
    assert isinstance(model, str) and model.lower() in ("mlp", "dcgan")
    assert isinstance(latent, int) and not isinstance(latent, bool) and latent >= 1
    if model.lower() == "mlp":
        assert len(shape) == 1 and set(options) <= {"hidden", "depth", "spectral_norm", "activation"}
    else:
        assert shape[1:] in ((16, 16),) and set(options) <= {"width", "spectral_norm"}
    z = torch.randn(3, latent)
    x = G(z)
    assert x.shape == (3, *shape) and D(x).shape == (3,)


SCORES = st.one_of(st.lists(st.floats(-30, 30), min_size=1, max_size=4).map(torch.tensor),
                   st.sampled_from(["scores", None, 1.0]),
                   st.integers(1, 3).map(lambda n: torch.zeros(n, 2)), st.integers(1, 3).map(lambda n: torch.ones(n, 1)),
                   st.integers(1, 3).map(lambda n: torch.ones(n, dtype=torch.int64)), st.just(torch.zeros(0)))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _reference(name, r, f, s):
    """The losses of the gan.losses table, in numpy float64."""
    r, f = r.reshape(-1), f.reshape(-1)
    bce = ((1 - s) * _softplus(-r) + s * _softplus(r)).mean() + _softplus(f).mean()
    return {"minimax": (-bce, bce), "nonsaturating": (_softplus(-f).mean(), bce),
            "wgan-gp": (-f.mean(), f.mean() - r.mean()),
            "hinge": (-f.mean(), np.maximum(1 - r, 0).mean() + np.maximum(1 + f, 0).mean()),
            "lsgan": (0.5 * ((f - 1) ** 2).mean(), 0.5 * ((r - (1 - s)) ** 2).mean() + 0.5 * (f ** 2).mean())}[name]


def _good_scores(t):
    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.shape[:1] != (0,) and (
        t.dim() == 1 or (t.dim() == 2 and t.shape[1] == 1))


@settings(max_examples=200, **SETTINGS)
@given(name=st.sampled_from(LOSS_NAMES), r=SCORES, f=SCORES,
       s=st.sampled_from([0.0, 0.1, 0.99, 1.0, -0.1, math.nan, "0.1", True]), checked=st.booleans())
def test_losses(name, r, f, s, checked):
    fn = L.get_loss(name) if checked else L.LOSS_FUNCTIONS[name]
    if checked and isinstance(r, torch.Tensor) and r.is_floating_point():
        r = r.clone().requires_grad_(True)
    if checked and isinstance(f, torch.Tensor) and f.is_floating_point():
        f = f.clone().requires_grad_(True)
    s_ok = isinstance(s, float) and 0.0 <= s < 1.0 and (s == 0.0 or name in L.SMOOTHABLE)
    try:
        g, d = fn(r, f, s)
    except (ValueError, TypeError) as e:
        bad = [n for n, t in (("d_real", r), ("d_fake", f)) if not _good_scores(t)] + ([] if s_ok else ["label_smoothing"])
        assert bad, f"refused: {e}"
        assert any(n in str(e) for n in bad), str(e)
        return
    assert _good_scores(r) and _good_scores(f) and s_ok
    want = _reference(name, r.detach().double().numpy(), f.detach().double().numpy(), s)
    for got, ref in zip((g, d), want):
        assert got.shape == () and math.isclose(got.item(), float(ref), rel_tol=1e-5, abs_tol=1e-5)
        assert got.requires_grad == checked


OUTPUTS = st.one_of(st.sampled_from(["grad", "nograd", "nan", "vector", "int", "float", "none"]))


def _make(kind, base):
    return {"grad": base, "nograd": base.detach(), "nan": base * math.nan, "vector": base.repeat(2),
            "int": torch.tensor(1), "float": 1.0, "none": None}[kind]


@settings(max_examples=60, **SETTINGS)
@given(g_kind=OUTPUTS, d_kind=OUTPUTS)
def test_custom_loss_outputs_are_checked(monkeypatch, g_kind, d_kind):
    """A loss registered in LOSS_FUNCTIONS returning non-scalars, integers, NaN or tensors without gradient."""
    def custom(d_real, d_fake, label_smoothing=0.0):
        return _make(g_kind, d_fake.mean()), _make(d_kind, d_real.mean() - d_fake.mean())

    monkeypatch.setitem(L.LOSS_FUNCTIONS, "custom", custom)
    r, f = torch.randn(4, requires_grad=True), torch.randn(4, requires_grad=True)
    ok = {"grad", "nan"}
    try:
        g, d = L.get_loss("custom")(r, f)
    except (ValueError, TypeError) as e:
        bad = [p for p, k in (("'G'", g_kind), ("'D'", d_kind)) if k not in ok]
        assert bad and any(p in str(e) for p in bad), str(e)
        return
    assert g_kind in ok and d_kind in ok
    assert g.requires_grad and d.requires_grad and math.isnan(g.item()) == (g_kind == "nan")
