"""Write docs/reliability.md from test runs: never typed by hand.

    python tests/make_reliability.py [--out docs/reliability.md]

It collects the bad-input tests with pytest (no run: each collected case is one bad input),
runs the property-based test files with ``--hypothesis-show-statistics`` and adds up the
examples hypothesis generated, runs the kill-and-resume tests with ``--junitxml`` and reads
the kills each recorded (``record_property("kills", n)``; ``identical`` once the killed run
matched an unkilled one bit for bit), quotes what the checkpoint and run modules say a
checkpoint holds, and looks in the source for the CUDA determinism switches. A few minutes
on two cores (the property and kill tests dominate).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import torch

ROOT = Path(__file__).parents[1]
BAD_INPUT_FILES = ["tests/test_gan/test_bad_inputs.py", "tests/test_gan/test_cli_errors.py",
                   "tests/test_core_errors.py", "tests/test_compare_errors.py", "tests/test_solvers_nonfinite.py"]
HYPOTHESIS_FILES = ["tests/test_gan/test_properties.py", "tests/test_fuzz_equilib.py"]
KILL_FILE = "tests/test_gan/test_kill_resume.py"
RESUME_MODULES = ["gan/checkpoint.py", "gan/run_state.py", "gan/runs.py"]
SWITCHES = {"torch.use_deterministic_algorithms": "use_deterministic_algorithms",
            "CUBLAS_WORKSPACE_CONFIG": "CUBLAS_WORKSPACE_CONFIG",
            "torch.backends.cudnn.deterministic": "cudnn.deterministic",
            "torch.backends.cudnn.benchmark": "cudnn.benchmark"}


def pytest(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def closing_line(out: str) -> str:
    lines = [ln.strip("= ") for ln in out.strip().splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    return lines[-1] if lines else "(no summary line)"


def bad_inputs() -> tuple[list[tuple[str, int]], int]:
    files = [f for f in BAD_INPUT_FILES if (ROOT / f).exists()]
    done = pytest("--collect-only", "-q", *files, timeout=300)
    ids = [ln for ln in done.stdout.splitlines() if "::" in ln]
    per_file = Counter(ln.split("::")[0] for ln in ids)
    return [(f, per_file.get(f, 0)) for f in files], len(ids)


def hypothesis_counts() -> tuple[list[tuple[str, int, int, int]], str, float]:
    """(test, passing, failing, invalid examples) summed over hypothesis' phases, per test."""
    start = datetime.datetime.now()
    done = pytest("-q", "--hypothesis-show-statistics", *HYPOTHESIS_FILES)
    seconds = (datetime.datetime.now() - start).total_seconds()
    rows, current = {}, None
    for line in done.stdout.splitlines():
        head = re.match(r"^(tests/\S+::\S+):\s*$", line.strip())
        if head:
            current = head.group(1)
            rows.setdefault(current, [0, 0, 0])
            continue
        counts = re.search(r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?,(?: and)? (\d+) invalid", line)
        if counts and current:
            for k in range(3):
                rows[current][k] += int(counts.group(k + 1))
    return [(t, *v) for t, v in rows.items()], closing_line(done.stdout), seconds


def kill_tests() -> tuple[list[tuple[str, str, int, bool]], str, float]:
    """(test, outcome, kills, resumed identically) per kill test, from the JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "kills.xml"
        start = datetime.datetime.now()
        # record_property needs the xunit1 flavour (with xunit2 pytest warns, and warnings are errors here)
        done = pytest("-q", KILL_FILE, "-o", "junit_family=xunit1", f"--junitxml={xml}")
        seconds = (datetime.datetime.now() - start).total_seconds()
        rows = []
        for case in ET.parse(xml).getroot().iter("testcase"):
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            outcome = "failed" if failed else ("skipped" if skipped else "passed")
            rows.append((case.get("name"), outcome, int(props.get("kills", 0)), props.get("identical") == "1"))
    return rows, closing_line(done.stdout), seconds


def docstring(path: str) -> str:
    tree = ast.parse((ROOT / path).read_text())
    return ast.get_docstring(tree) or ""


def switches_in_source() -> dict[str, list[str]]:
    found = {name: [] for name in SWITCHES}
    for path in sorted([*ROOT.glob("equilib/**/*.py"), *ROOT.glob("gan/**/*.py")]):
        text = path.read_text()
        for name, needle in SWITCHES.items():
            if needle in text:
                found[name].append(str(path.relative_to(ROOT)))
    return found


def machine() -> str:
    mem = ""
    if Path("/proc/meminfo").exists():
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 2 ** 20:.0f} GiB memory"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def page() -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bad, bad_total = bad_inputs()
    load = os.getloadavg()[0]  # other work sharing the machine stretches the seconds below, not the counts
    hyp, hyp_line, hyp_seconds = hypothesis_counts()
    kills, kill_line, kill_seconds = kill_tests()
    found = switches_in_source()
    cuda_rng = any("cuda.get_rng_state" in p.read_text() for p in ROOT.glob("gan/**/*.py"))
    resumable = re.search(r"RESUMABLE_CHANGES\s*=\s*\(([^)]*)\)", (ROOT / "gan/config.py").read_text())
    lines = [
        "# Reliability",
        "",
        "<!-- generated by python tests/make_reliability.py: do not edit -->",
        "",
        f"Generated by `python tests/make_reliability.py` on {now}, on {machine()}, torch {torch.__version__}, "
        f"CUDA available: {torch.cuda.is_available()}. Every number below was counted from a pytest run or "
        f"collection made by that command; run it again to refresh the page. Load average when it started: {load:.1f} "
        "(training runs sharing the cores stretch the seconds quoted below, never the counts).",
        "",
        "## Bad inputs tried",
        "",
        "Each collected case gives one bad input (a wrong option, value, type, path or file) and checks the "
        "error: one line naming the argument and the allowed values, raised before anything changes "
        "(the files' docstrings say exactly what each checks).",
        "",
        "| test file | cases |",
        "|---|---|",
        *[f"| `{f}` | {n} |" for f, n in bad],
        f"| **total** | **{bad_total}** |",
        "",
        "## Property-based tests (hypothesis)",
        "",
        f"`python -m pytest --hypothesis-show-statistics {' '.join(HYPOTHESIS_FILES)}`: {hyp_line} "
        f"in {hyp_seconds:.0f} s. Examples hypothesis generated and ran, per test (all phases):",
        "",
        "| test | passing | failing | invalid |",
        "|---|---|---|---|",
        *[f"| `{t}` | {p} | {f} | {i} |" for t, p, f, i in hyp],
        f"| **total** | **{sum(r[1] for r in hyp)}** | **{sum(r[2] for r in hyp)}** | **{sum(r[3] for r in hyp)}** |",
        "",
        "Invalid examples are ones a strategy's filter or `assume` discarded; they were not run.",
        "",
        "## Kill tests",
        "",
        f"`python -m pytest {KILL_FILE} -o junit_family=xunit1 --junitxml=...`: {kill_line} in {kill_seconds:.0f} s. Each test SIGKILLs "
        "a training run at random moments (during steps, evaluations and checkpoint writes), resumes it each "
        "time, and compares the finished run with one never killed: checkpoint, metrics, plots and samples "
        "bit for bit. A run is lost when it could not be resumed to that identical result.",
        "",
        "| test | outcome | kills survived | resumed identically |",
        "|---|---|---|---|",
        *[f"| `{t}` | {o} | {k} | {'yes' if i else 'no'} |" for t, o, k, i in kills],
        f"| **total** | | **{sum(r[2] for r in kills)}** | runs lost: **{sum(1 for r in kills if not r[3])}** |",
        "",
        "## What resume guarantees",
        "",
        "From the code of the run folder and checkpoint modules:",
        "",
        "- A checkpoint is written to a temporary file, fsynced, read back and checked, then renamed into place "
        "(atomic on POSIX); the previous good checkpoints are kept (`keep_checkpoints`, default 2), so at every "
        "instant at least one checkpoint verifies. Each file carries its length and SHA-256; a truncated or "
        "corrupt one is refused, and resume takes the newest kept checkpoint that verifies, saying which it skipped.",
        "- A checkpoint holds the step, both models with their buffers, the solver's `state_dict()` (base "
        "optimizers, solver state, non-finite events), the parameter averages, the data and noise random streams "
        "and torch's global generator: a resumed run on the same machine and device continues bit-identically on "
        "CPU (the kill tests above check exactly that).",
        "- Logs are cut back to the resumed step (`metrics.jsonl` lines written after the checkpoint, and a line "
        "cut by a kill, are dropped), and leftovers of a write cut by a kill are removed.",
        f"- On resume only these options may change: {' '.join(resumable.group(1).split()) if resumable else '(not found)'}; "
        "any other difference from the saved configuration is refused.",
        "- Not guaranteed: bit-identity across machines, torch versions, devices (CPU to CUDA) or thread counts, "
        "and a run whose files were edited by hand.",
        "",
        "The modules' own words:",
        "",
    ]
    for path in RESUME_MODULES:
        if (ROOT / path).exists():
            lines += [f"`{path}`:", "", "```text", docstring(path), "```", ""]
    lines += [
        "## CUDA determinism",
        "",
        "**Not verified on a GPU here**: this machine has none, and everything above ran on CPU. What follows is "
        "what PyTorch documents (its *Reproducibility* notes) and what equilib does about it.",
        "",
        "- Deterministic on CUDA: the same kernels on the same GPU, driver and torch version give the same result "
        "for most element-wise and matrix operations once the switches below are set. The run's data and noise "
        "streams are CPU `torch.Generator`s (gan/building.py), so the batches and latents drawn are the same "
        "numbers on every device, and they are checkpointed with torch's global CPU generator. "
        + ("CUDA's own generator is saved too." if cuda_rng else
           "CUDA's own generator is not saved in checkpoints (nothing in `gan/` calls `torch.cuda.get_rng_state`), "
           "so code drawing random numbers on the GPU itself would not resume identically."),
        "- Not deterministic by default on CUDA: operations built on atomic adds (`index_add_`, `scatter_add_`, "
        "embedding and some pooling and interpolation backward passes), cuDNN's convolution and transposed "
        "convolution backward passes (the DCGAN models), cuBLAS matrix products in their default workspace "
        "configuration, and whatever algorithm `cudnn.benchmark` times fastest on a given run. Mixed precision "
        "(`--amp`) changes the numbers, not the determinism. CPU and CUDA runs differ from each other.",
        "- The switches, set before building anything:",
        "    - `torch.use_deterministic_algorithms(True)`: picks deterministic implementations, and raises "
        "`RuntimeError` for an operation that has none on CUDA;",
        "    - `CUBLAS_WORKSPACE_CONFIG=:4096:8` (or `:16:8`) in the environment before CUDA starts: needed for "
        "deterministic cuBLAS on CUDA 10.2 and later (without it the first flag raises);",
        "    - `torch.backends.cudnn.deterministic = True` and `torch.backends.cudnn.benchmark = False`.",
        "",
        "Where the project's own code sets them (searched in `equilib/` and `gan/` when this page was made):",
        "",
        "| switch | set in |",
        "|---|---|",
        *[f"| `{name}` | {', '.join(f'`{p}`' for p in files) if files else 'nowhere: set it yourself'} |"
          for name, files in found.items()],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs/reliability.md"))
    args = parser.parse_args(argv)
    text = page()
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
