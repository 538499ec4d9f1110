"""gan train twice with the same seed on CPU: bit-identical parameters, optimizer states, random
streams, metrics and samples, for a representative solver of each family."""

import json

import numpy as np
import pytest
import torch

from gan import checkpoint as ck
from gan import training as T
from gan.cli import main

TINY = ["--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "16",
        "--eval-samples", "50", "--no-progress", "--threads", "1", "--steps", "4", "--eval-every", "2",
        "--checkpoint-every", "4", "--seed", "3"]
# simultaneous, look-ahead, second-order (consensus), Krylov (cgd), unrolled
FAMILIES = {"simgd": [], "extragradient": [], "consensus": [],
            "cgd": ["--optimizer", "sgd", "--solver-option", "max_iter=5"],
            "unrolled": ["--solver-option", "unroll_steps=2"]}


def _flat(obj, prefix=""):
    if isinstance(obj, dict):
        return {k2: v2 for k, v in obj.items() for k2, v2 in _flat(v, f"{prefix}/{k}").items()}
    if isinstance(obj, (list, tuple)):
        return {k2: v2 for i, v in enumerate(obj) for k2, v2 in _flat(v, f"{prefix}/{i}").items()}
    return {prefix: obj}


@pytest.mark.filterwarnings("ignore::equilib.solvers.KrylovWarning")  # 5 Krylov iterations, as asked
@pytest.mark.parametrize("solver", sorted(FAMILIES))
def test_same_seed_same_run_bit_for_bit(tmp_path, solver):
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        assert main(["train", *TINY, "--solver", solver, *FAMILIES[solver], "--out", str(run)]) == 0
    a, b = (_flat(ck.load_checkpoint(r / T.CHECKPOINT)) for r in runs)
    assert a.keys() == b.keys()
    for k in a:
        if k.endswith(("/seconds", "/config/out")):
            continue
        if isinstance(a[k], torch.Tensor):
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k
    moved = ck.load_checkpoint(runs[0] / T.CHECKPOINT)
    assert moved["step"] == 4 and moved["solver"]["solver"] == solver
    init = T.build(T.load_run(runs[0])[0].config)           # the same seed's initial parameters: training moved them
    assert not all(torch.equal(p, moved["G"][k]) for k, p in init.G.state_dict().items())
    ma, mb = ([json.loads(x) for x in (r / T.METRICS).read_text().splitlines()] for r in runs)
    for r in (*ma, *mb):
        r.pop("seconds")
    assert ma == mb and [r["step"] for r in ma] == [2, 4]
    assert np.array_equal(T.sample(runs[0], 32, seed=1), T.sample(runs[1], 32, seed=1))
