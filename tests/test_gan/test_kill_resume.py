"""Kill tests: real ``gan train`` processes SIGKILLed at random moments, resumed each time, and
ending bit-identical to an uninterrupted run (parameters, optimizer and RNG states, metrics, plots, samples).

The processes are forked from a forkserver that has imported torch and gan once, so a kill and
restart costs milliseconds instead of the ~3 s of a fresh interpreter; one test also kills and
resumes ``python -m gan train`` itself. Kill moments come from a seeded RNG: after a random
delay, while a checkpoint is being written (its temporary file exists), right after a checkpoint,
metrics line or plot appeared, and never later than the first or second new checkpoint (the
fourth when waiting for an evaluation). That bounds the work between kills, so each test can
check beforehand that its run cannot end before the last planned kill.
"""

import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gan import checkpoint as ck
from gan import training as T

RING = ["--data", "ring", "--width", "8", "--depth", "1", "--latent-dim", "4", "--batch-size", "32",
        "--eval-samples", "200", "--threads", "1", "--no-progress", "--optimizer", "rmsprop", "--lr", "1e-3"]
DIGITS = ["--data", "digits", "--model", "dcgan", "--width", "4", "--latent-dim", "8", "--batch-size", "8",
          "--eval-samples", "64", "--threads", "1", "--no-progress", "--solver", "simgd", "--optimizer", "adam",
          "--lr", "2e-4", "--beta1", "0.5", "--ema", "0.9"]
MODES = ("time", "checkpoint-write", "checkpoint-done", "metrics", "plot")


def _child(argv, log):
    """The body of one killed process: the gan command, output to ``log``, exiting with its status."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import threading

    from tqdm.auto import tqdm

    from gan.cli import main

    tqdm.set_lock(threading.RLock())  # not tqdm's multiprocessing lock, which a killed process would leak

    sys.exit(main(argv))


@pytest.fixture(scope="module")
def ctx():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "torch._dynamo", "tqdm.auto", "gan.cli", "gan.training", "gan.plots",
                                "gan.metrics", "test_kill_resume"])
    return ctx


def _stamp(path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _plots(run):
    d = run / "plots"
    return {p.name: _stamp(p) for p in d.iterdir()} if d.is_dir() else {}


def _round(ctx, argv, run, plan=None):
    """Start one process; kill it at the moment ``plan = (mode, limit, delay)`` picks: after
    ``delay`` seconds ("time"), while a checkpoint is written ("checkpoint-write": only counted so
    if its temporary file was left behind), right after a checkpoint ("checkpoint-done"), a metrics
    line was appended ("metrics") or a plot written ("plot"), and at the latest at the ``limit``-th
    new checkpoint ("bound"). Returns the kind of kill, or None if the process finished by itself
    (its exit status must then be 0)."""
    log = run.with_name(run.name + ".log")
    p = ctx.Process(target=_child, args=(argv, str(log)))
    p.start()
    mode, limit, delay = plan or (None, None, None)
    ckpt, metrics = run / T.CHECKPOINT, run / T.METRICS
    last, changes, m_last, m_changes = _stamp(ckpt), 0, _stamp(metrics), 0
    plots0, tmp = _plots(run), run / f".{T.CHECKPOINT}.tmp-{p.pid}"
    deadline = time.monotonic() + (delay or 0.0)
    kind = None
    while p.is_alive():
        now, m_now = _stamp(ckpt), _stamp(metrics)
        if now != last:
            changes, last = changes + 1, now
        if m_now != m_last:  # created or rewritten on resume, then appended to
            m_changes, m_last = m_changes + 1, m_now
        if mode == "time" and time.monotonic() >= deadline:
            kind = "time"
        elif mode == "checkpoint-write" and tmp.exists():
            kind = "checkpoint-write"
        elif mode == "checkpoint-done" and changes:
            kind = "checkpoint-done"
        elif mode == "metrics" and m_changes >= 2:
            kind = "metrics"
        elif mode == "plot" and _plots(run) != plots0:
            kind = "plot"
        elif mode is not None and changes >= limit:
            kind = "bound"
        if kind:
            p.kill()
            break
        time.sleep(0.0005)
    p.join()
    if p.exitcode == -9:
        if kind == "checkpoint-write" and not tmp.exists():
            kind = "checkpoint-done"  # the write had just finished
        return kind
    assert p.exitcode == 0, f"gan train exited with status {p.exitcode} (mode {mode}): {log.read_text()}"
    return None


def _plan(kills, seed):
    """(mode, limit, delay) of every kill, from a seeded RNG; an evaluation is at most 4 checkpoints away."""
    rng = random.Random(seed)
    plan = []
    for _ in range(kills):
        mode = rng.choice(MODES)
        plan.append((mode, 4 if mode in ("metrics", "plot") else rng.choice((1, 2)), rng.uniform(0.0, 0.6)))
    return plan


def _killed_run(ctx, argv, run, plan):
    """Run ``argv`` to the end, killed once per entry of ``plan``; returns the (mode, kind) of every kill."""
    done = []
    for entry in [*plan, None]:
        fresh = not (run / T.CONFIG).exists()
        cmd = ["train", *argv, "--out", str(run)] if fresh else ["train", "--resume", str(run), "--no-progress"]
        kind = _round(ctx, cmd, run, entry)
        if entry is None:
            assert kind is None
        else:
            assert kind is not None, f"the run finished after only {len(done)} kills"
            done.append((entry[0], kind))
    return done


def _summary(name, done):
    kinds = [k for _, k in done]
    return f"{name}: {len(done)} kills: " + ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds)))


def _states_equal(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k not in ("seconds", "out"):
                _states_equal(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _states_equal(x, y, f"{path}/{i}")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), path
    else:
        assert a == b, path


def _assert_identical(run, ref):
    """Final checkpoint, metrics (but the seconds), plots and samples agree bit for bit."""
    a, b = ck.load_checkpoint(run / T.CHECKPOINT), ck.load_checkpoint(ref / T.CHECKPOINT)
    assert a["step"] == b["step"] == json.loads((ref / T.CONFIG).read_text())["steps"]
    _states_equal(a, b)
    ma = [json.loads(x) for x in (run / T.METRICS).read_text().splitlines()]
    mb = [json.loads(x) for x in (ref / T.METRICS).read_text().splitlines()]
    for r in (*ma, *mb):
        r.pop("seconds")
    assert ma == mb and len(mb) >= 1
    pa, pb = sorted((run / "plots").iterdir()), sorted((ref / "plots").iterdir())
    assert [p.name for p in pa] == [p.name for p in pb]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(pa, pb))
    assert np.array_equal(T.sample(run, 64, seed=3), T.sample(ref, 64, seed=3))
    assert all(ck.verify_checkpoint(p) for p in ck.kept_checkpoints(run / T.CHECKPOINT))
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name]


# solver, kills, steps S, checkpoint every c, eval every (at most 4 checkpoints apart); one solver per
# family: Jacobian-corrected (the representative run), first-order, extrapolation, unrolled, Krylov
CASES = [("consensus", 22, 180, 3, 12), ("simgd", 5, 64, 4, 16), ("extragradient", 5, 64, 4, 16),
         ("unrolled", 5, 64, 4, 16), ("cgd", 5, 64, 4, 16)]


@pytest.mark.parametrize("solver,kills,steps,every,evals", CASES)
def test_ring_survives_random_kills(ctx, tmp_path, solver, kills, steps, every, evals, record_property):
    argv = [*RING, "--solver", solver, "--steps", str(steps), "--checkpoint-every", str(every),
            "--eval-every", str(evals)]
    if solver == "unrolled":
        argv += ["--solver-option", "unroll_steps=2"]
    plan = _plan(kills, seed=sum(map(ord, solver)))
    # each kill comes at the latest at its limit-th new checkpoint: the run cannot end before the last kill
    assert sum(limit for _, limit, _ in plan) * every < steps
    ref = tmp_path / "ref"
    assert _round(ctx, ["train", *argv, "--out", str(ref)], ref) is None
    done = _killed_run(ctx, argv, tmp_path / "run", plan)
    print(_summary(solver, done))
    record_property("kills", len(done))
    assert len(done) == kills
    if solver == "consensus":  # the representative run: every kind of moment, some kills inside a checkpoint write
        assert {m for m, _ in done} == set(MODES)
        assert any(k == "checkpoint-write" for _, k in done)
    _assert_identical(tmp_path / "run", ref)
    record_property("identical", 1)


def test_dcgan_with_batchnorm_on_digits_survives_random_kills(ctx, tmp_path, record_property):
    argv = [*DIGITS, "--steps", "48", "--checkpoint-every", "4", "--eval-every", "24"]
    plan = _plan(5, seed=7)
    assert sum(limit for _, limit, _ in plan) * 4 < 48
    ref = tmp_path / "ref"
    assert _round(ctx, ["train", *argv, "--out", str(ref)], ref) is None
    done = _killed_run(ctx, argv, tmp_path / "run", plan)
    print(_summary("dcgan", done))
    record_property("kills", len(done))
    assert len(done) == 5
    assert any("running_mean" in k for k in ck.load_checkpoint(ref / T.CHECKPOINT)["G"])
    _assert_identical(tmp_path / "run", ref)
    record_property("identical", 1)


def test_python_m_gan_train_killed_and_resumed(tmp_path, record_property):
    """The real command: ``python -m gan train`` SIGKILLed right after its second checkpoint, then resumed."""
    argv = [*RING, "--solver", "simgd", "--steps", "40", "--checkpoint-every", "4", "--eval-every", "20"]
    run, ref = tmp_path / "run", tmp_path / "ref"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen([sys.executable, "-m", "gan", "train", *argv, "--out", str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []
    while proc.poll() is None and len(seen) < 3:
        s = _stamp(run / T.CHECKPOINT)
        if s is not None and (not seen or s != seen[-1]):
            seen.append(s)
        time.sleep(0.0005)
    proc.kill()
    proc.wait()
    assert proc.returncode == -9 and ck.load_checkpoint(run / T.CHECKPOINT)["step"] < 40
    record_property("kills", 1)
    done = subprocess.run([sys.executable, "-m", "gan", "train", "--resume", str(run)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    T.train(config=json.loads((run / T.CONFIG).read_text()) | {"out": str(ref)})
    _assert_identical(run, ref)
    record_property("identical", 1)
