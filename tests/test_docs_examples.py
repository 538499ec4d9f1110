"""The README's and docs/'s code runs as written, every example script runs (in its fast mode),
shell blocks name files that exist, and the solver pages are generated from the code, so none rots.

Markers in docs/*.md (an HTML comment right before a block):
  <!-- not run: reason -->   the block is not run (say why; use sparingly)
  <!-- setup: code -->       code run before the block, for names the prose leaves to the reader
Long loops are shortened: ``range(N)`` and ``steps=N`` with N >= 10000 become N // 1000.
"""

import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"```(\w*)\n(.*?)```", flags=re.S)
SHELL = ("bash", "sh", "shell", "console")


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def marked_blocks(path: Path) -> list[tuple[str, str, str | None]]:
    """(language, code, marker comment or None) for every fenced block of ``path``."""
    text, out = path.read_text(), []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip()
        marker = before[before.rfind("<!--") + 4:-3].strip() if before.endswith("-->") else None
        out.append((m.group(1), m.group(2), marker))
    return out


def shorten(code: str) -> str:
    return re.sub(r"(range\(|steps\s*=\s*)(\d{5,})", lambda m: f"{m.group(1)}{max(int(m.group(2)) // 1000, 2)}", code)


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


def test_markers_and_shortening():
    assert shorten("for _ in range(20000): f(steps=30000, n=2500)") == "for _ in range(20): f(steps=30, n=2500)"
    assert shorten("range(1000)") == "range(1000)"


@pytest.mark.parametrize("page", [p for p in DOCS if "```python" in p.read_text()], ids=lambda p: p.name)
def test_docs_python_blocks_run(page, tmp_path, monkeypatch):
    """Every python block of the page runs, in order, in one namespace, in a temporary folder."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    ran = not_run = 0
    for language, code, marker in marked_blocks(page):
        if language != "python":
            continue
        if marker and marker.startswith("not run:"):
            assert len(marker) > len("not run:") + 5, f"{page.name}: a not-run marker must say why"
            not_run += 1
            continue
        if marker and marker.startswith("setup:"):
            exec(compile(marker[len("setup:"):], f"{page.name} (setup)", "exec"), namespace)  # noqa: S102
        exec(compile(shorten(code), page.name, "exec"), namespace)  # noqa: S102 - the page's own code
        ran += 1
    assert ran + not_run == len(python_blocks(page)) and ran + not_run >= 1


def shell_paths(text: str) -> list[str]:
    """Repository files named in the shell blocks of ``text``: examples/..., tests/..., a .py or .md file."""
    names = []
    for language, code in FENCE.findall(text):
        if language not in SHELL:
            continue
        for line in code.splitlines():
            for token in line.split("#")[0].split():
                token = token.strip("'\"")
                if "://" in token or "=" in token or ":" in token:
                    continue
                if re.match(r"(examples|tests|docs|equilib|gan|\.ci)/", token) or token.endswith((".py", ".md")):
                    names.append(token)
    return names


def test_shell_blocks_name_files_that_exist():
    named = {page.name: shell_paths(page.read_text()) for page in [ROOT / "README.md", *DOCS]}
    assert "examples/quickstart.py" in named["examples.md"]  # the check sees what it should
    missing = [(page, n) for page, names in named.items() for n in names if not (ROOT / n).exists()]
    assert not missing, missing


def test_solver_pages_generated_from_the_code(tmp_path):
    """The pages the site's hook builds: one per solver, every option of the code, closed-form rates on x*y."""
    import equilib as eq

    done = subprocess.run([sys.executable, "docs/make_solver_pages.py", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    pages = {p.stem: p.read_text() for p in tmp_path.glob("*.md")}
    assert set(pages) == set(eq.SOLVERS)
    for name, cls in eq.SOLVERS.items():
        assert all(f"| `{option}` | `{default!r}` |" in pages[name] for option, default in cls.defaults.items())
        assert "| x*y (`ZeroSumGame`" in pages[name] and cls.__doc__.strip().splitlines()[0] in pages[name]
    closed = {"simgd": (1 + 0.01) ** 0.5, "extragradient": (1 - 0.01 + 0.0001) ** 0.5, "cgd": (1 + 0.01) ** -0.5,
              "hamiltonian": 0.9, "consensus": (0.81 + 0.01) ** 0.5}
    for name, rho in closed.items():
        assert f"rho = {rho:.6f} at eta = 0.1" in pages[name], name
    assert "converge at none" in pages["simgd"] and "No update map" in pages["acgd"]
    assert re.search(r"\| x\*y \(`ZeroSumGame`, 1 \+ 1 parameters\) \| 2 \| 2 \| 0 \|", pages["extragradient"])


ENV = {"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "EQUILIB_EXAMPLES_FAST": "1",
       "OMP_NUM_THREADS": "1"}


def run(*args, timeout=300, code=0):
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert done.returncode == code, done.stderr[-2000:]
    return done


TESTED = {"quickstart.py", "own_game.py", "diagnostics_own_game.py", "diagnostics_xy.py", "unrolled_ring.py",
          "dcgan_digits.py", "cifar10_gpu.py", "reproduce_tables.py"}


def test_every_example_has_a_test():
    assert {p.name for p in (ROOT / "examples").glob("*.py")} == TESTED


def test_quickstart_example():
    out = run("examples/quickstart.py").stdout
    assert "extragradient, 1000 steps" in out and "simgd" in out and "(diverges)" in out


def test_own_game_example():
    out = run("examples/own_game.py").stdout
    distance = {m[0]: float(m[1]) for m in re.findall(r"^(\w+)\s+\d+ steps: distance to the equilibrium (\S+)",
                                                      out, flags=re.M)}
    assert distance["sga"] < 1e-5 and distance["simgd"] > 10 and distance["extragradient"] > 10, out


def test_diagnostics_own_game_example(tmp_path):
    out = run("examples/diagnostics_own_game.py", str(tmp_path)).stdout
    assert re.search(r"simgd .*never converges", out) and re.search(r"sga .*converges for eta", out), out
    assert {p.name for p in tmp_path.iterdir()} == {"eigenvalues.png", "step_size_scan.png", "step_size_scan.csv"}


def test_diagnostics_example_writes_every_file_it_names(tmp_path):
    run("examples/diagnostics_xy.py", str(tmp_path))
    doc = (ROOT / "examples/diagnostics_xy.py").read_text().split('"""')[1]
    named = set(re.findall(r"^\s+(\S+\.(?:png|csv))\s", doc, flags=re.M))
    assert len(named) == 7 and named <= {p.name for p in tmp_path.iterdir()}
    figures = ROOT / "docs/figures/diagnostics"  # the committed figures of docs/concepts.md
    assert {n for n in named if n.endswith(".png")} <= {p.name for p in figures.iterdir()}


def test_unrolled_ring_example(tmp_path):
    out = run("examples/unrolled_ring.py", str(tmp_path)).stdout
    for solver in ("simgd", "unrolled"):
        assert re.search(rf"^{solver}\s+30 steps: \d of 8 modes captured", out, flags=re.M), out
        assert (tmp_path / solver / "config.json").exists() or any((tmp_path / solver).iterdir())


def test_dcgan_digits_example(tmp_path):
    out = run("examples/dcgan_digits.py", str(tmp_path)).stdout
    assert "samples (64, 1, 16, 16)" in out and (tmp_path / "samples.png").stat().st_size > 1000


def fake_cifar(root: Path, per_batch: int = 8) -> None:
    """CIFAR-10's python format: pickled dicts of uint8 rows (n, 3072) and labels."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, per_batch).tolist()}
        (base / name).write_bytes(pickle.dumps(batch))


def test_cifar10_example_refuses_without_data(tmp_path):
    done = run("examples/cifar10_gpu.py", "--data-root", str(tmp_path / "nothing"), "--device", "cpu",
               "--out", str(tmp_path / "run"), code=2)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--data-root" in lines[0] and "data_batch_1" in lines[0], done.stderr
    assert not (tmp_path / "run").exists()


def test_cifar10_example_refuses_cuda_when_absent(tmp_path):
    fake_cifar(tmp_path / "data")
    if torch.cuda.is_available():  # on a GPU machine the refusal cannot happen; the run below covers cuda
        run("examples/cifar10_gpu.py", "--data-root", str(tmp_path / "data"), "--device", "cuda",
            "--out", str(tmp_path / "run"))
        return
    done = run("examples/cifar10_gpu.py", "--data-root", str(tmp_path / "data"), "--device", "cuda",
               "--out", str(tmp_path / "run"), code=2)
    assert "CUDA is not available" in done.stderr and not (tmp_path / "run").exists()


def test_cifar10_example_trains_on_a_local_copy(tmp_path):
    fake_cifar(tmp_path / "data")
    out = run("examples/cifar10_gpu.py", "--data-root", str(tmp_path / "data"), "--device", "cpu",
              "--out", str(tmp_path / "run")).stdout
    assert "2 steps on cpu" in out and "samples (16, 3, 32, 32)" in out


def test_reproduce_tables_example_quick(tmp_path):
    out = run("examples/reproduce_tables.py", "--data", "ring", "--solvers", "simgd", "--seeds", "0", "--steps", "40",
              "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "reports"),
              "--set", "eval_every=40", "--set", "eval_samples=500").stdout
    table = (tmp_path / "reports/ring/table.md").read_text()
    assert re.search(r"^\| simgd \| 0 \|", table, flags=re.M), table
    assert "report:" in out and (tmp_path / "reports/ring/report.html").exists()
