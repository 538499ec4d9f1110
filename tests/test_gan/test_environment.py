"""environment.json: what a run ran with (solver options in effect, CPU kernels, threads), one entry per
start or resume, and `gan compare` telling apart runs whose solver defaults or kernels differed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from gan import training as T
from gan.cli import main
from gan.compare import read_run, rows
from gan.run_state import ENVIRONMENT, KERNEL_VARIABLES, read_environment

TINY = dict(data="ring", width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=100, progress=False,
            optimizer="rmsprop")


def test_a_run_records_the_solver_defaults_and_the_cpu_kernels_it_ran_with(tmp_path):
    """Run in a child process with the kernels of a CPU without AVX forced: the record names them and the CPU,
    and holds cgd's defaults (the CGDs package's tolerances) beside the option given."""
    run = tmp_path / "r"
    code = ("import gan; gan.train(data='ring', solver='cgd', solver_options={'tol': 1e-7}, steps=2, threads=1, "
            f"eval_every=2, checkpoint_every=2, width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=100, "
            f"progress=False, out={str(run)!r})")
    env = {**{k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}, "ATEN_CPU_CAPABILITY": "default",
           "MPLBACKEND": "Agg"}  # none of the caller's kernel variables (OMP_NUM_THREADS, ...) leak in
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=300)
    (entry,) = json.loads((run / ENVIRONMENT).read_text())
    assert entry["step"] == 0 and entry["threads"] == 1 and entry["ranks"] == 1 and entry["device"] == "cpu"
    assert entry["solver_options"] == {"tol": 1e-7, "atol": 1e-10, "max_iter": 100, "warm_start": True}
    assert entry["cpu_capability"] == "DEFAULT"
    assert entry["kernel_variables"] == {"ATEN_CPU_CAPABILITY": "default"}
    assert entry["versions"]["torch"] == torch.__version__.split("+")[0]
    assert read_run(run).kernels == f"DEFAULT (ATEN_CPU_CAPABILITY=default) on {entry['cpu']}"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():  # the CPU the child ran on, as Linux names it: the first "model name" line
        name = next(line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name"))
        assert name in entry["cpu"]
    else:
        assert entry["cpu"]


def test_each_resume_adds_an_entry_at_its_step_replacing_one_killed_there(tmp_path):
    """A resume from step 4 replaces the entry a killed resume from step 4 left; an entry without a readable
    step (a hand-edited file) is dropped, not a crash."""
    run = tmp_path / "r"
    T.train(solver="simgd", steps=4, eval_every=2, checkpoint_every=2, threads=1, out=str(run), **TINY)
    entries = json.loads((run / ENVIRONMENT).read_text()) + [{"step": 4, "threads": 99}, {"step": "x"}]
    (run / ENVIRONMENT).write_text(json.dumps(entries))
    T.train(resume=run, steps=6, threads=2)
    assert [(e["step"], e["threads"]) for e in read_environment(run)] == [(0, 1), (4, 2)]


def test_a_cut_or_missing_environment_file_reads_as_none(tmp_path):
    assert read_environment(tmp_path) == []
    (tmp_path / ENVIRONMENT).write_text('[{"step": 0, "solver_opt')
    assert read_environment(tmp_path) == []


def _run(folder, seed, in_effect=None, capability="AVX512"):
    """A cgd run folder as gan train writes it, with no solver option given; ``in_effect`` the tolerance its
    environment.json records (None: a run from before environment.json)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"data": "ring", "solver": "cgd", "seed": seed, "steps": 10,
                                                    "out": str(folder)}))
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 10, "seconds": 1.0, "ema": {"modes": 8}}) + "\n")
    if in_effect is not None:
        options = {"tol": in_effect, "atol": 1e-10, "max_iter": 100, "warm_start": True}
        (folder / ENVIRONMENT).write_text(json.dumps([{"step": 0, "solver_options": options,
                                                       "cpu_capability": capability, "kernel_variables": {}}]))
    return folder


def test_runs_made_under_another_solver_default_are_another_method(tmp_path):
    """Three cgd runs that gave no option: one before environment.json (counts at today's default tol 1e-6), one
    that ran with 1e-6 and one that ran when the default was 1e-8. The last is a method of its own."""
    folders = [_run(tmp_path / "old", 0), _run(tmp_path / "now", 1, 1e-6), _run(tmp_path / "then", 2, 1e-8)]
    table = rows([read_run(f) for f in folders])
    assert sorted(r.seeds for r in table) == [[0, 1], [2]]
    assert next(r.label for r in table if r.seeds == [2]) == "cgd (solver_options={'tol': 1e-08})"


def test_the_report_names_the_cpu_kernels_of_each_row(tmp_path, capsys):
    a = _run(tmp_path / "a", 0, 1e-6)
    b = _run(tmp_path / "b", 1, 1e-6, capability="DEFAULT")
    assert main(["compare", "--run", str(a), "--run", str(b), "--out", str(tmp_path / "rep"), "--no-figures"]) == 0
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "- **cgd**: seeds 0, 1; 10 steps; CPU kernels AVX512, DEFAULT; run folders a, b" in report
