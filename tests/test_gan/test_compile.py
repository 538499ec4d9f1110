"""gan train --compile: G and D compiled with the backend asked for, the same training as eager, and what
torch.compile cannot run (double backward) refused before anything is written."""

import pytest
import torch

import equilib as eq
from gan import checkpoint as ck
from gan import training as T
from gan.config import ConfigError, TrainConfig

# dynamo itself reads .grad of D's input (G's output, not a leaf) while tracing, which warns
pytestmark = pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")

# r1=0: the ring recipes of simgd and extragradient add the R1 penalty, which compile refuses (tested below)
TINY = dict(data="ring", width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=200, progress=False,
            steps=6, eval_every=6, checkpoint_every=6, ema=0.9, threads=1, r1=0.0)


@pytest.mark.parametrize("solver", ["simgd", "extragradient"])
def test_compiled_run_trains_like_the_eager_one(tmp_path, monkeypatch, solver):
    """aot_eager traces G and D and runs them through AOTAutograd without generating code, so the
    iterates must match eager to float32 round-off; the compile calls are checked to have happened."""
    compiled = []
    original = torch.nn.Module.compile

    def recording(module, *args, **kwargs):
        compiled.append((type(module).__name__, kwargs.get("backend")))
        return original(module, *args, **kwargs)

    eager = T.train(solver=solver, out=str(tmp_path / "eager"), **TINY)
    monkeypatch.setattr(torch.nn.Module, "compile", recording)
    torch._dynamo.reset()
    fast = T.train(solver=solver, out=str(tmp_path / "compiled"), compile="aot_eager", **TINY)
    assert [backend for _, backend in compiled] == ["aot_eager", "aot_eager"]
    a = ck.load_checkpoint(tmp_path / "eager" / T.CHECKPOINT)
    b = ck.load_checkpoint(tmp_path / "compiled" / T.CHECKPOINT)
    for part in ("G", "D"):
        assert a[part].keys() == b[part].keys()  # the state_dict keys of an eager run: checkpoints interchange
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=1e-5, atol=1e-6)
    assert eager.steps == fast.steps == TINY["steps"]


@pytest.mark.parametrize("solver", [n for n, cls in eq.SOLVERS.items() if cls.second_order])
def test_second_order_solvers_refused(solver):
    with pytest.raises(ConfigError, match=rf"compile: solver '{solver}' differentiates through gradients.*simgd"):
        TrainConfig(data="ring", solver=solver, compile="inductor").resolved()


@pytest.mark.parametrize("extra,match", [
    (dict(r1=1.0), r"gradient penalties \['r1=1.0'\]"),
    (dict(loss="wgan-gp"), r"loss wgan-gp with gp_weight=10.0"),
    (dict(diagnostics_every=5, r1=0.0), r"diagnostics_every=5"),
    (dict(), r"gradient penalties \['r1=1'\] .* set them to 0"),   # simgd's ring recipe sets R1
    (dict(compile="tensorrt"), r"unknown compile .tensorrt.; allowed: inductor, aot_eager, eager"),
])
def test_what_compile_cannot_run_is_refused(extra, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**{"data": "ring", "solver": "simgd", "compile": "inductor", **extra}).resolved()


def test_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="compile"):
        T.train(solver="consensus", compile="inductor", out=str(tmp_path / "run"), **TINY)
    assert not (tmp_path / "run").exists()
