"""One step of each solver on a ~100k-parameter MLP GAN game, next to a hand-written step.

Run: pytest tests/benchmarks --benchmark-only --benchmark-json=bench.json
then python tests/benchmarks/report.py bench.json for the ratios. The two tests
of a group are the same method; the ratio equilib / handwritten is its overhead.
tests/test_solvers_handwritten.py checks that both sides take the same step, so the
benchmark compares like with like.
"""

import pytest

from handwritten import SOLVERS, make  # tests/helpers is on sys.path (tests/conftest.py)


@pytest.mark.parametrize("which", ["handwritten", "equilib"])
@pytest.mark.parametrize("name", list(SOLVERS))
def test_step(benchmark, name, which):
    benchmark.group = name
    step, _ = make(name, which)
    step()  # warm up (first-call allocations)
    benchmark.pedantic(step, rounds=15 if name in ("cgd", "unrolled", "lola") else 150, warmup_rounds=5)
