"""Test-suite settings.

- The tests use tiny tensors, for which one intra-op thread is fastest (and several
  processes sharing two cores do not oversubscribe them).
- tests/helpers (hand-written reference steps, test networks) is importable from tests and benchmarks.
- tests/benchmarks is collected only with --benchmark-only (speed is measured there,
  never asserted in the normal run).
"""

import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent / "helpers"))  # helpers shared by tests and benchmarks


def pytest_ignore_collect(collection_path, config):
    if "benchmarks" in collection_path.parts and not config.getoption("benchmark_only", False):
        return True
    return None
