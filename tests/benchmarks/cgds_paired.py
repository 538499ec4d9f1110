"""Interleaved (paired) timing of equilib's cgd / acgd against the CGDs package's BCGD / ACGD.

    python tests/benchmarks/cgds_paired.py [--calls N] [--cold] [cgd] [acgd]

The game, rates and matched tolerances are those of test_bench_cgds.py (the package's
defaults T = 1e-12, A = 1e-20 on squared norms). The two sides alternate, one step each, from
the same starting point, so a slow drift of a shared machine lands on both; the table gives the
median ms per step, the ratio equilib / CGDs of the medians, and the mean Krylov iterations per
step on each side (equilib's ``last_info``; CGDs' count as its solvers return it, which says 1
when the warm start already meets the tolerance). ``--cold``: equilib with ``warm_start=False``
(each solve from 0, which saves the warm start's two backward passes; CGDs always warm-starts).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import CGDs.acgd
import CGDs.cgd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_bench_cgds import Setup, cgds_side, equilib_side  # noqa: E402

PEER = {"cgd": "BCGD", "acgd": "ACGD"}


class _Counted:
    """The package's Krylov solver, wrapped to record the iterations it returns (one Python call)."""

    def __init__(self, module, attr):
        self.module, self.attr, self.inner = module, attr, getattr(module, attr)
        self.iterations: list[int] = []

    def __call__(self, *args, **kwargs):
        x, iters = self.inner(*args, **kwargs)
        self.iterations.append(int(iters))
        return x, iters

    def __enter__(self):
        setattr(self.module, self.attr, self)
        return self

    def __exit__(self, *exc):
        setattr(self.module, self.attr, self.inner)


def paired(name: str, calls: int, warmup: int = 5, warm_start: bool = True) -> dict:
    ours, solver = equilib_side(name, Setup(), warm_start=warm_start)
    theirs, _ = cgds_side(name, Setup())
    module, attr = (CGDs.cgd, "conjugate_gradient") if name == "cgd" else (CGDs.acgd, "general_conjugate_gradient")
    a, b, iters = [], [], []
    with _Counted(module, attr) as counted:
        for _ in range(warmup):
            ours()
            theirs()
        del counted.iterations[:]
        for _ in range(calls):
            t0 = time.perf_counter()
            ours()
            t1 = time.perf_counter()
            theirs()
            t2 = time.perf_counter()
            a.append(t1 - t0)
            b.append(t2 - t1)
            iters.append(solver.last_info["iterations"])
    return {"ours": statistics.median(a) * 1e3, "theirs": statistics.median(b) * 1e3,
            "iters_ours": statistics.mean(iters), "iters_theirs": statistics.mean(counted.iterations)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=["cgd", "acgd", []], default=[])
    parser.add_argument("--calls", type=int, default=100, help="paired calls per method (default 100)")
    parser.add_argument("--cold", action="store_true", help="equilib without warm start (CGDs keeps its own)")
    opts = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {opts.calls} paired calls per method, "
          f"equilib warm_start={not opts.cold}\n")
    print("| method | CGDs | CGDs median (ms) | equilib median (ms) | ratio equilib / CGDs "
          "| Krylov iterations per step (CGDs / equilib) |")
    print("|---|---|---|---|---|---|")
    for name in opts.names or ["cgd", "acgd"]:
        r = paired(name, opts.calls, warm_start=not opts.cold)
        print(f"| {name} | {PEER[name]} | {r['theirs']:.2f} | {r['ours']:.2f} | {r['ours'] / r['theirs']:.3f} "
              f"| {r['iters_theirs']:.1f} / {r['iters_ours']:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
