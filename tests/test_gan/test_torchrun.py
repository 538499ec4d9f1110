"""`gan train` under torchrun: 2 CPU ranks (gloo) take the steps of one process with the whole batch,
rank 0 alone writes, a checkpoint resumes on another number of ranks, bad splits are refused."""

import os
import subprocess
import sys

import pytest
import torch

from gan.checkpoint import load_checkpoint

COMMON = ["--data", "ring", "--solver", "simgd", "--eval-every", "10", "--checkpoint-every", "10",
          "--batch-size", "64", "--eval-samples", "200", "--threads", "1", "--no-progress"]
ENV = {**os.environ, "MPLBACKEND": "Agg", "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}


def gan(*args, ranks=1):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"] \
        if ranks > 1 else [sys.executable]
    return subprocess.run([*launcher, "-m", "gan", "train", *args], capture_output=True, text=True, env=ENV,
                          timeout=300)


def parameters(run):
    state = load_checkpoint(run / "checkpoint.pt")
    return torch.cat([v.reshape(-1).double() for key in ("G", "D") for v in state[key].values()]), state["step"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("tr") / "one"
    done = gan(*COMMON, "--steps", "20", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_two_ranks_take_the_steps_of_one_process_and_only_rank_0_writes(single, tmp_path):
    out = tmp_path / "two"
    done = gan(*COMMON, "--steps", "20", "--out", str(out), ranks=2)
    assert done.returncode == 0, done.stderr[-3000:]
    two, step = parameters(out)
    one, _ = parameters(single)
    assert step == 20
    torch.testing.assert_close(two, one, rtol=0, atol=1e-4)  # float32: the ranks' mean rounds differently
    assert not torch.allclose(one, parameters(single)[0] * 0)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [line[:12] for line in lines] == ['{"step": 10,', '{"step": 20,']  # one writer, no duplicates
    assert done.stdout.count("run folder:") == 1


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_checkpoint_resumes_on_another_number_of_ranks(single, tmp_path, first, then):
    out = tmp_path / "run"
    done = gan(*COMMON, "--steps", "10", "--out", str(out), ranks=first)
    assert done.returncode == 0, done.stderr[-3000:]
    done = gan("--resume", str(out), "--steps", "20", ranks=then)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed, step = parameters(out)
    assert step == 20
    torch.testing.assert_close(resumed, parameters(single)[0], rtol=0, atol=1e-4)


def test_a_batch_that_does_not_divide_among_the_ranks_is_refused_before_training(tmp_path):
    out = tmp_path / "bad"
    done = gan(*COMMON[:-9], "--batch-size", "63", "--steps", "5", "--out", str(out), ranks=2)
    assert done.returncode != 0
    assert "--batch-size 63 does not divide among 2 ranks" in done.stderr
    assert not (out / "checkpoint.pt").exists()
