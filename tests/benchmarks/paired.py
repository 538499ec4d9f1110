"""Interleaved (paired) timing of equilib against the hand-written step, per solver.

    python tests/benchmarks/paired.py [solver ...]

pytest-benchmark times each side in its own block, so slow drifts of a shared or
virtual machine land on one side; here the two steps alternate, one call each,
and the ratio is of the medians of the per-call times.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "helpers"))
from handwritten import SOLVERS, make  # noqa: E402


def interleaved(a, b, pairs: int, warmup: int = 10) -> tuple[float, float]:
    """Median ms per call of ``a`` and of ``b``, called alternately (a, b, a, b, ...) after a warm-up."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(pairs):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3


def paired(name: str, calls: int) -> tuple[float, float]:
    hand, _ = make(name, "handwritten")
    ours, _ = make(name, "equilib")
    return interleaved(hand, ours, calls)


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    print("| solver | hand-written median (ms) | equilib median (ms) | ratio |")
    print("|---|---|---|---|")
    for name in names or list(SOLVERS):
        calls = 60 if name in ("cgd", "unrolled", "lola", "sga") else 600
        hand, ours = paired(name, calls)
        print(f"| {name} | {hand:.2f} | {ours:.2f} | {ours / hand:.3f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
