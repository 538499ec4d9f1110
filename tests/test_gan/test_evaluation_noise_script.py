"""docs/make_evaluation_noise.py: its figures are the run's own, its many-batch mean is the fraction over every
sample (counted here from the distances), and its batch spread agrees with the binomial closed form."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "make_evaluation_noise.py"
BATCHES, N = 60, 500


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("noise")
    run = tmp / "ring-simgd"
    subprocess.run([sys.executable, "-m", "gan", "train", "--data", "ring", "--solver", "simgd", "--steps", "800",
                    "--eval-every", "800", "--checkpoint-every", "800", "--eval-samples", str(N), "--seed", "0",
                    "--threads", "1", "--no-progress", "--out", str(run)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = tmp / "noise.json"
    subprocess.run([sys.executable, str(SCRIPT), str(run), "--batches", str(BATCHES), "--results", str(results)],
                   check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    return run, json.loads(results.read_text()), results.with_suffix(".md").read_text()


def test_own_figure_is_the_runs_last_evaluation(measured):
    run, res, _ = measured
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    row = res["rows"][0]
    assert row["step"] == last["step"] == 800 and row["eval_samples"] == N and row["batches"] == BATCHES
    for name in ("G", "ema"):
        assert row["generators"][name]["own"] == last[name]["high_quality"]


def test_batch_mean_is_the_fraction_over_every_sample_and_its_spread_is_binomial(measured):
    from gan.evaluation import generate, latents
    from gan.run_state import load_run

    run, res, _ = measured
    latent_seed = 10_000  # the script's LATENT_SEED: new draws, not the run's evaluation batch
    b, _, _ = load_run(run)
    x = generate(b.generators()["G"], latents(BATCHES * N, b.config.latent_dim, latent_seed), b.device).double()
    good = (torch.cdist(x, torch.as_tensor(b.data.means, dtype=torch.float64)).min(dim=1).values <= 3 * b.data.std)
    p = good.double().mean().item()
    g = res["rows"][0]["generators"]["G"]
    assert 0.005 < p < 0.995  # a non-degenerate case, else the spread would be zero either way
    assert g["batch_mean"] == pytest.approx(p, abs=1e-12)
    assert g["binomial_std"] == pytest.approx((p * (1 - p) / N) ** 0.5, rel=1e-12)
    # 60 batches estimate a standard deviation to about 9%; the binomial law holds exactly for iid samples
    assert g["batch_std"] == pytest.approx(g["binomial_std"], rel=0.3)
    per_batch = good.double().reshape(BATCHES, N).mean(dim=1)
    assert g["batch_std"] == pytest.approx(per_batch.std().item(), rel=1e-9)


def test_page_prints_the_measurements(measured):
    _, res, page = measured
    g = res["rows"][0]["generators"]["ema"]
    row = f"| ring-simgd | ema | {100 * g['own']:.2f} | {100 * g['batch_mean']:.2f} | {100 * g['batch_std']:.2f} | "
    assert row in page
    # one seed: its own figure is the mean, and it has no spread over seeds
    summary = f"| simgd | ema | 0 | {100 * g['own']:.2f} | - | {100 * g['batch_mean']:.2f} | - | {100 * g['batch_std']:.2f} | "
    assert summary in page


def test_a_folder_that_is_not_a_run_is_refused_by_name(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "nothing"), "--results", str(tmp_path / "x.json")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "not run folders (no config.json)" in out.stderr and "nothing" in out.stderr
    assert not (tmp_path / "x.json").exists()
