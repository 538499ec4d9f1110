"""The README's code runs as written, and every example script runs (in a short mode), so none rots."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_code_runs_and_gives_what_it_says():
    blocks = python_blocks(ROOT / "README.md")
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    assert set(namespace["game"].params) == {"G", "D"}  # the last block's GAN game
    assert set(namespace["losses"]) == {"G", "D"} and all(torch.isfinite(v) for v in namespace["losses"].values())


def test_readme_quickstart_numbers():
    """The quickstart's comment: {"x": tensor([0.0059]), "y": tensor([0.0078])} after 1000 extragradient steps."""
    block = python_blocks(ROOT / "README.md")[0]
    namespace: dict = {}
    exec(compile(block.replace("print(game.params)", "result = game.params"), "README.md", "exec"), namespace)
    x, y = float(namespace["result"]["x"]), float(namespace["result"]["y"])
    assert (round(x, 4), round(y, 4)) == (0.0059, 0.0078)


def run(*args, timeout=300):
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_quickstart_example():
    out = run("examples/quickstart.py")
    assert "extragradient, 1000 steps" in out and "simgd" in out and "(diverges)" in out


def test_diagnostics_example(tmp_path):
    run("examples/diagnostics_xy.py", str(tmp_path))
    assert any(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("data", ["ring"])
def test_reproduce_tables_example_quick(tmp_path, data):
    out = run("examples/reproduce_tables.py", "--data", data, "--solvers", "simgd", "--seeds", "0",
              "--steps", "40", "--out", str(tmp_path), "--extra", "--eval-every 40 --eval-samples 500")
    assert (tmp_path / "tables.md").exists() and "simgd" in (tmp_path / "tables.md").read_text()
    assert "tables:" in out
