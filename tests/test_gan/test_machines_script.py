"""docs/machines.py: the CPU a report ran on is the one `gan compare` recorded, two runs of one configuration and
seed compute the same trajectory whatever their timings, and a claimed pair of identical runs is refused when
their configurations differ."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from equilib.compare.machine import cpu_model
from gan.compare.report import meta

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("machines", ROOT / "docs" / "machines.py")
machines = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(machines)


def _train(out: Path, seed: int) -> Path:
    subprocess.run([sys.executable, "-m", "gan", "train", "--data", "ring", "--solver", "simgd", "--steps", "300",
                    "--eval-every", "100", "--checkpoint-every", "300", "--eval-samples", "500", "--seed", str(seed),
                    "--threads", "1", "--no-progress", "--out", str(out)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("machines")
    return _train(tmp / "a", 0), _train(tmp / "b", 0), _train(tmp / "c", 1)


def test_machine_is_the_cpu_that_gan_compare_recorded(tmp_path):
    recorded, old = tmp_path / "recorded", tmp_path / "old"
    for folder, info in ((recorded, meta(["gan", "compare"])), (old, {"machine": "Linux-6.18-x86_64, 2 cores"})):
        folder.mkdir()
        (folder / "meta.json").write_text(json.dumps(info))
    assert machines.machine(recorded) == cpu_model()
    assert machines.machine(old) == machines.UNRECORDED
    assert machines.machine(tmp_path) == machines.UNRECORDED  # no meta.json at all


def test_a_reports_cpus_are_its_runs_own_records_else_its_gan_compare_meta(runs, tmp_path):
    a, _, c = runs
    assert json.loads((a / "environment.json").read_text())[0]["cpu"] == cpu_model()  # gan train records it
    moved, unrecorded = tmp_path / "moved", tmp_path / "unrecorded"
    shutil.copytree(c, moved)
    shutil.copytree(c, unrecorded)
    env = json.loads((moved / "environment.json").read_text())
    (moved / "environment.json").write_text(json.dumps([{**e, "cpu": "Other CPU (family 1)"} for e in env]))
    (unrecorded / "environment.json").unlink()
    report = tmp_path / "report"
    report.mkdir()
    (report / "meta.json").write_text(json.dumps({"machine": "Linux-x86_64, 2 cores, Compare CPU"}))
    (report / "table.csv").write_text(f"method,seed,folder\nsimgd,0,{a}\nsimgd,1,{moved}\n")
    assert machines.cpus(report, root=Path("/")) == sorted([cpu_model(), "Other CPU (family 1)"])
    assert machines.machine(report, root=Path("/")) == " and ".join(sorted([cpu_model(), "Other CPU (family 1)"]))
    (report / "table.csv").write_text(f"method,seed,folder\nsimgd,0,{a}\nsimgd,1,{unrecorded}\n")
    assert machines.cpus(report, root=Path("/")) == sorted([cpu_model(), "Compare CPU"])


def test_same_configuration_and_seed_give_the_same_trajectory_whatever_the_timings(runs):
    a, b, c = runs
    timings = [[json.loads(t)["seconds"] for t in (r / "metrics.jsonl").read_text().splitlines()] for r in (a, b)]
    assert len(timings[0]) == 3 and timings[0] != timings[1]  # the raw files differ by their timings
    assert machines.trajectory(a) == machines.trajectory(b)
    assert machines.trajectory(a) != machines.trajectory(c)  # another seed is another trajectory
    assert all("seconds" not in line for line in machines.trajectory(a))


def test_identical_pairs_count_agreeing_runs_and_refuse_differing_configurations(runs, tmp_path, monkeypatch):
    a, b, c = runs
    results = tmp_path / "docs" / "results"
    for name, folder in (("first", a), ("same", b), ("other", c)):
        (results / name).mkdir(parents=True)
        (results / name / "table.csv").write_text(f"method,seed,folder\nsimgd,0,{folder}\n")
    monkeypatch.setattr(machines, "RESULTS", results)
    monkeypatch.setattr(machines, "IDENTICAL", [("first", "same")])
    rows = machines.identical_rows(root=Path("/"))
    assert rows[2].endswith("| simgd 0 | 1 of 1 |")
    monkeypatch.setattr(machines, "IDENTICAL", [("first", "other")])
    with pytest.raises(ValueError, match="config.json differ"):
        machines.identical_rows(root=Path("/"))


def test_the_repositorys_identical_pairs_hold_one_configuration_each():
    for row in machines.identical_rows()[2:-1]:  # raises if a pair's configurations differ
        agree, _, total = row.rstrip(" |").rpartition("| ")[2].partition(" of ")
        assert int(total) > 0 and 0 <= int(agree) <= int(total)
