"""equilib's solvers take the same step as hand-written PyTorch on a ~100k-parameter GAN game.

The hand-written steps (tests/helpers/handwritten.py) are the baselines of the
benchmark; this makes sure the benchmark compares the same method, and is one more
independent implementation of each update rule on real networks.
"""

import pytest
import torch

from handwritten import SOLVERS, Setup, make  # tests/helpers is on sys.path (tests/conftest.py)


# cgd runs exactly max_iter Krylov iterations on both sides (tol ~ 0): its KrylovWarning is expected
@pytest.mark.filterwarnings("ignore::equilib.solvers.KrylovWarning")
@pytest.mark.parametrize("name", list(SOLVERS))
def test_handwritten_and_equilib_take_the_same_step(name):
    results = []
    for which in ("handwritten", "equilib"):
        step, setup = make(name, which)
        for _ in range(2):
            step()
        results.append(torch.cat([p.detach().reshape(-1) for p in setup.gp + setup.dp]))
    start = torch.cat([p.detach().reshape(-1) for p in Setup().gp + Setup().dp])
    assert not torch.equal(results[0], start)
    tol = 1e-4 if name == "cgd" else 1e-6
    torch.testing.assert_close(results[1], results[0], rtol=tol, atol=tol)
