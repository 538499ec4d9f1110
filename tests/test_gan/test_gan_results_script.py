"""docs/make_gan_results.py: a report's command shows its run folders as one glob only when they are every
folder of one folder, whichever way `--run` was given, and its note is elided."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import make_gan_results  # noqa: E402  (imports docs/machines.py and docs/targets.py as siblings)


def test_folded(tmp_path):
    for name in ("a-seed0", "a-seed1"):
        (tmp_path / "runs" / "rep" / name).mkdir(parents=True)
    tail = " --note some words --out docs/results/rep"
    one = "gan compare --run runs/rep/a-seed0 runs/rep/a-seed1" + tail
    each = "gan compare --run runs/rep/a-seed0 --run runs/rep/a-seed1" + tail
    for command in (one, each):
        assert make_gan_results.folded(command, tmp_path) == \
            "gan compare --run runs/rep/* --note ... --out docs/results/rep"
    # a folder the command did not name: the glob would claim it, so the folders are listed
    (tmp_path / "runs" / "rep" / "b-seed0").mkdir()
    assert make_gan_results.folded(one, tmp_path) == \
        "gan compare --run runs/rep/a-seed0 runs/rep/a-seed1 --note ... --out docs/results/rep"
    # folders that are not in the repository (run where the report was made) are listed too
    assert make_gan_results.folded("gan compare --run x-s0 --run x-s1 --out r", tmp_path) == \
        "gan compare --run x-s0 --run x-s1 --out r"
