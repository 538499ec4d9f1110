"""Unattended resume: newest verifying checkpoint, keep K, kill before the first checkpoint,
leftover temporaries, metrics cut back to the resumed step."""

import json

import pytest
import torch

from gan import callbacks
from gan import checkpoint as ck
from gan import training as T
from gan.cli import main
from gan.runs import RunWarning

TINY = dict(data="ring", width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=100, progress=False,
            solver="simgd", optimizer="rmsprop")


class Killed(BaseException):
    """Stands in for SIGKILL at a chosen point (the real kills are in test_kill_resume.py)."""


def _die_on_save(monkeypatch, calls_before_death):
    real = callbacks.save_checkpoint
    count = {"n": 0}

    def save(state, path, keep=2):
        if count["n"] == calls_before_death:
            raise Killed
        count["n"] += 1
        return real(state, path, keep=keep)

    monkeypatch.setattr(callbacks, "save_checkpoint", save)


def _params(path):
    state = ck.load_checkpoint(path)
    return state["step"], {k: v for k, v in (*state["G"].items(), *state["D"].items())}


def _same(a, b):
    (sa, pa), (sb, pb) = a, b
    return sa == sb and pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "r"
    T.train(steps=8, eval_every=2, checkpoint_every=2, out=str(out), **TINY)
    return out


def test_newest_verifying_checkpoint_is_picked_and_skips_named(full, tmp_path):
    run = tmp_path / "r"
    T.train(steps=6, eval_every=2, checkpoint_every=2, keep_checkpoints=3, out=str(run), **TINY)
    path = run / T.CHECKPOINT
    assert [p.name for p in ck.kept_checkpoints(path)] == ["checkpoint.pt", "checkpoint.pt.prev", "checkpoint.pt.prev2"]
    assert [ck.load_checkpoint(p)["step"] for p in ck.kept_checkpoints(path)] == [6, 4, 2]
    path.write_bytes(path.read_bytes()[:100])                     # truncated by a crash
    prev = ck.previous_path(path)
    data = bytearray(prev.read_bytes())
    data[-5] ^= 1                                                 # one flipped bit
    prev.write_bytes(bytes(data))
    with pytest.warns(RunWarning) as record:
        T.train(resume=run, steps=8)
    messages = [str(w.message) for w in record]
    assert any("skipped checkpoint checkpoint.pt:" in m and "truncated" in m for m in messages)
    assert any("skipped checkpoint checkpoint.pt.prev:" in m and "checksum" in m and "using checkpoint.pt.prev2" in m
               for m in messages)
    assert _same(_params(path), _params(full / T.CHECKPOINT))
    assert [json.loads(x)["step"] for x in (run / T.METRICS).read_text().splitlines()] == [2, 4, 6, 8]


def test_no_verifying_checkpoint_is_an_error_naming_them(tmp_path):
    run = tmp_path / "r"
    T.train(steps=2, checkpoint_every=2, eval_every=100, out=str(run), **TINY)
    for p in ck.kept_checkpoints(run / T.CHECKPOINT):
        p.write_bytes(b"EQUILIB-CKPT 1 5 00\nxx")
    with pytest.warns(RunWarning), pytest.raises(T.RunError, match=r"no checkpoint of .* verifies "
                                                                   r"\(checkpoint.pt, checkpoint.pt.prev\)"):
        T.train(resume=run, steps=4)


@pytest.mark.parametrize("keep", [1, 3])
def test_keep_last_k_checkpoints(tmp_path, keep):
    run = tmp_path / "r"
    assert main(["train", "--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "32",
                 "--eval-every", "100", "--eval-samples", "100", "--no-progress", "--solver", "simgd",
                 "--steps", "10", "--checkpoint-every", "2", "--keep-checkpoints", str(keep), "--out", str(run)]) == 0
    kept = ck.kept_checkpoints(run / T.CHECKPOINT)
    assert [ck.load_checkpoint(p)["step"] for p in kept] == [10, 8, 6][:keep]
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(("checkpoint", ".checkpoint"))) == \
        sorted(p.name for p in kept)
    # keep may change on resume; the extra old ones are dropped at the next write
    T.train(resume=run, steps=12, keep_checkpoints=2)
    assert [ck.load_checkpoint(p)["step"] for p in ck.kept_checkpoints(run / T.CHECKPOINT)] == [12, 10]
    assert json.loads((run / T.CONFIG).read_text())["keep_checkpoints"] == 2


def test_killed_before_first_checkpoint_resumes_from_step_0(full, tmp_path, monkeypatch):
    run = tmp_path / "r"
    _die_on_save(monkeypatch, 0)
    with pytest.raises(Killed):
        T.train(steps=8, eval_every=2, checkpoint_every=2, out=str(run), **TINY)
    monkeypatch.undo()
    assert (run / T.CONFIG).exists() and not ck.kept_checkpoints(run / T.CHECKPOINT)
    with pytest.raises(T.RunError, match="already holds a run"):
        T.train(steps=8, eval_every=2, checkpoint_every=2, out=str(run), **TINY)
    with pytest.warns(RunWarning, match="has no checkpoint yet .*starting it from step 0"):
        T.train(resume=run)
    assert _same(_params(run / T.CHECKPOINT), _params(full / T.CHECKPOINT))


def test_leftover_temporaries_are_removed_on_resume(tmp_path):
    run = tmp_path / "r"
    T.train(steps=2, checkpoint_every=2, eval_every=100, out=str(run), **TINY)
    left = run / ".checkpoint.pt.tmp-99999"
    left.write_bytes(b"half a checkpoint")
    with pytest.warns(RunWarning, match=r"removed 1 leftover temporary file\(s\).*\.checkpoint\.pt\.tmp-99999"):
        T.train(resume=run, steps=4)
    assert not left.exists()
    assert not [p for p in run.iterdir() if ".tmp-" in p.name]


def test_metrics_rewritten_to_the_resumed_step(full, tmp_path, monkeypatch):
    run = tmp_path / "r"
    _die_on_save(monkeypatch, 3)  # checkpoints 0, 2, 4 written; killed writing the one of step 6
    with pytest.raises(Killed):
        T.train(steps=8, eval_every=2, checkpoint_every=2, out=str(run), **TINY)
    monkeypatch.undo()
    with open(run / T.METRICS, "a") as fh:
        fh.write('{"step": 8, "seconds": 1.2, "los')  # a line cut by the kill
    lines = (run / T.METRICS).read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines[:-1]] == [2, 4, 6]  # step 6 logged after checkpoint 4
    T.train(resume=run)
    got = [json.loads(x) for x in (run / T.METRICS).read_text().splitlines()]
    want = [json.loads(x) for x in (full / T.METRICS).read_text().splitlines()]
    assert [r["step"] for r in got] == [2, 4, 6, 8]
    for a, b in zip(got, want):
        a.pop("seconds"), b.pop("seconds")
        assert a == b
