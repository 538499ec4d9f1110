"""The GAN-layer, recorder and memory measurements of make_performance.py."""

from __future__ import annotations

import statistics
import time
import warnings

import torch
from torch.profiler import ProfilerActivity, profile

import equilib as eq
import gan
from paired import interleaved
from test_bench_gan import SETUPS, handwritten, setup


def with_gan(name, fused: bool = False, backend: str | None = None):
    """The equilib side of the GAN-layer pair: the same z stream as the hand-written step
    (``torch.Generator().manual_seed(0)``, one z per step), passed as the step's argument; ``fused``:
    torch's fused Adam, as ``gan train`` builds it by default (``equilib.optim.fast_options``); ``backend``: G
    and D compiled with that torch.compile backend, as ``gan train --compile`` does."""
    G, D, real, latent = setup(name)
    if backend is not None:
        G.compile(backend=backend)
        D.compile(backend=backend)
    game = gan.GANGame(G, D, loss="nonsaturating")
    fast = eq.optim.fast_options("adam", game.parameters()) if fused else {}
    solver = eq.make_solver("simgd", game, lr=1e-4, optimizer="adam",
                            optimizer_options={"betas": (0.5, 0.999), **fast})
    noise = torch.Generator().manual_seed(0)
    return lambda: solver.step(real, torch.randn(real.shape[0], latent, generator=noise))


def handwritten_fused(name):
    """The hand-written step of test_bench_gan with torch's fused Adam (``fused=True``) for both players."""
    step = handwritten(name)
    optimizers = [c.cell_contents for c in step.__closure__ if isinstance(c.cell_contents, torch.optim.Adam)]
    assert len(optimizers) == 2, "the hand-written step should close over one Adam per player"
    for opt in optimizers:
        for group in opt.param_groups:
            group["fused"], group["foreach"] = True, None
    return step


def gan_layer(pairs: int) -> list[dict]:
    """Per setup, three pairs: the plain Adam step on both sides; gan with torch's fused Adam (gan train's
    default) against the plain hand-written step; and both sides fused (like for like)."""
    rows = []
    for name in SETUPS:
        hand, ours = interleaved(handwritten(name), with_gan(name), pairs, warmup=5)
        hand2, fused = interleaved(handwritten(name), with_gan(name, fused=True), pairs, warmup=5)
        hand_fused, fused2 = interleaved(handwritten_fused(name), with_gan(name, fused=True), pairs, warmup=5)
        rows.append({"setup": name, "hand_ms": hand, "ours_ms": ours, "ratio": ours / hand,
                     "fused_ms": fused, "fused_ratio": fused / hand2,
                     "hand_fused_ms": hand_fused, "both_fused_ratio": fused2 / hand_fused})
        print(f"gan layer {name}: plain {ours / hand:.3f}, fused vs plain hand-written {fused / hand2:.3f}, "
              f"both fused {fused2 / hand_fused:.3f}", flush=True)
    print("gan layer done", flush=True)
    return rows


def compile_ratio(pairs: int) -> list[dict]:
    """Per setup: the fused gan step with G and D compiled (inductor, ``gan train --compile``) against the same
    step eager, paired, after a first call that compiles (timed on its own)."""
    rows = []
    for name in SETUPS:
        torch._dynamo.reset()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dynamo's tracing warnings
            compiled = with_gan(name, fused=True, backend="inductor")
            start = time.perf_counter()
            compiled()
            compile_s = time.perf_counter() - start
            eager, fast = interleaved(with_gan(name, fused=True), compiled, pairs, warmup=5)
        rows.append({"setup": name, "eager_ms": eager, "compiled_ms": fast, "ratio": fast / eager,
                     "compile_s": compile_s})
        print(f"compile {name}: {fast / eager:.3f} after {compile_s:.0f} s", flush=True)
    return rows


def recorder_overhead(steps: int, repeats: int) -> dict:
    """Wall time of ``steps`` simgd steps on the ring MLP with and without a default Recorder
    (records at steps 0, every, 2 every, ...)."""
    recorder_default = eq.diagnostics.Recorder()

    def run(with_recorder: bool) -> tuple[float, list[float]]:
        G, D, real, _ = setup("gan-mlp-ring")
        game = gan.GANGame(G, D, loss="nonsaturating")
        solver = eq.make_solver("simgd", game, lr=1e-3)
        noise = torch.Generator().manual_seed(0)
        recorder = eq.diagnostics.Recorder() if with_recorder else None
        records = []
        start = time.perf_counter()
        for step in range(steps):
            z = game.latent(real.shape[0], noise)
            solver.step(real, z)
            if recorder is not None and step % recorder.every == 0:
                t = time.perf_counter()
                recorder(step, solver, real, z)
                records.append(time.perf_counter() - t)
        return time.perf_counter() - start, records

    with_s, without_s, record_s = [], [], []
    G, D, real, _ = setup("gan-mlp-ring")  # first-use costs (scipy's ARPACK, lazy imports) out of the way
    game = gan.GANGame(G, D)
    eq.diagnostics.Recorder().record(0, eq.make_solver("simgd", game, lr=1e-3), real,
                                     game.latent(real.shape[0], torch.Generator().manual_seed(0)))
    for _ in range(repeats):
        t, recs = run(True)
        with_s.append(t)
        record_s += recs
        without_s.append(run(False)[0])
    w, wo = statistics.median(with_s), statistics.median(without_s)
    print("recorder done", flush=True)
    return {"steps": steps, "every": recorder_default.every, "repeats": repeats, "with_s": w, "without_s": wo,
            "ratio": w / wo, "record_s": statistics.mean(record_s)}


def peak_bytes(fn) -> int:
    """The largest sum of live CPU tensor storage while ``fn`` runs (torch profiler memory events:
    allocations are attributed to the op that made them, frees are "[memory]" events)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def memory_table() -> list[dict]:
    rows = []
    for name in eq.SOLVERS:
        torch.manual_seed(0)
        G, D = gan.build_models("dcgan", (1, 32, 32), 64, width=32)
        game = gan.GANGame(G, D, loss="nonsaturating")
        second_order = name in ("cgd", "acgd")
        options = {"max_iter": 10} if second_order else {}
        solver = eq.make_solver(name, game, lr=2e-4, optimizer=None if second_order else "adam", **options)
        real = torch.randn(32, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        z = game.latent(32, torch.Generator().manual_seed(1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", eq.solvers.KrylovWarning)  # 10 iterations, as stated
            solver.step(real, z)  # first-step allocations (optimizer state) out of the way
            rows.append({"solver": name, "peak_mb": peak_bytes(lambda: solver.step(real, z)) / 2 ** 20})
    base = next(r["peak_mb"] for r in rows if r["solver"] == "simgd")
    for r in rows:
        r["ratio"] = r["peak_mb"] / base
    print("memory done", flush=True)
    return rows
