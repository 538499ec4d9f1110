"""The per-rank side of tests/test_distributed.py: every solver on a small GAN game, 2 gloo ranks.

Each rank takes its share of one global batch (real samples and latent noise), so N ranks with
per-rank batch B are one process with batch N * B. Run by ``torch.multiprocessing.spawn``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

import equilib as eq

F = nn.functional
BATCH = 16  # the global batch: each of N ranks takes BATCH / N of it
OPTIONS = {
    "simgd": {}, "altgd": {"steps": {"G": 1, "D": 2}}, "extragradient": {}, "optimistic": {},
    "consensus": {"gamma": 0.5}, "unrolled": {"unroll_steps": 2}, "sga": {"lam": 0.5},
    "cgd": {"tol": 1e-12, "max_iter": 60}, "acgd": {"tol": 1e-12, "max_iter": 60}, "hamiltonian": {},
    "lola": {"alpha": 0.05}, "sos": {"alpha": 0.05},
}
BASES = {"simgd": ("adam", {"betas": (0.5, 0.9)}), "optimistic": ("sgd", {"momentum": 0.5})}


def global_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    real = torch.randn(BATCH, 2, generator=g, dtype=torch.float64) * 0.5 + 1.0
    z = torch.randn(BATCH, 3, generator=g, dtype=torch.float64)
    return real, z


def make_game(zero_sum: bool, seed: int = 0) -> eq.Game:
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()

    def losses(p, real, z):
        d_fake = p["D"](p["G"](z))
        ld = F.softplus(-p["D"](real)).mean() + F.softplus(d_fake).mean()
        return {"G": -ld if zero_sum else F.softplus(-d_fake).mean(), "D": ld}

    if zero_sum:
        return eq.ZeroSumGame({"G": G, "D": D}, lambda p, real, z: losses(p, real, z)["G"])
    return eq.Game({"G": G, "D": D}, losses)


def make_solver(name: str, zero_sum: bool, seed: int = 0) -> eq.Solver:
    optimizer, opt_options = BASES.get(name, (None, None))
    return eq.make_solver(name, make_game(zero_sum, seed), lr=0.05, optimizer=optimizer,
                          optimizer_options=opt_options, **OPTIONS[name])


BN_SOLVERS = ("simgd", "consensus", "sga", "cgd")


def make_bn_solver(name: str, seed: int = 0) -> eq.Solver:
    """A small conv GAN game whose D has batch norm over the global batch (gan.parallel.GlobalBatchNorm)."""
    from gan.parallel import GlobalBatchNorm
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Unflatten(1, (1, 4, 4))).double()
    D = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), GlobalBatchNorm(3), nn.Tanh(), nn.Flatten(),
                      nn.Linear(48, 1)).double()

    def value(p, real, z):
        return -(F.softplus(-p["D"](real.view(-1, 1, 4, 4))).mean() + F.softplus(p["D"](p["G"](z))).mean())

    game = eq.ZeroSumGame({"G": G, "D": D}, value)
    return eq.make_solver(name, game, lr=0.05, **{k: v for k, v in OPTIONS[name].items()})


def bn_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(200 + step)
    return torch.randn(BATCH, 16, generator=g, dtype=torch.float64), torch.randn(BATCH, 3, generator=g,
                                                                                 dtype=torch.float64)


def run_bn(solver: eq.Solver, world: int, rank: int, steps: range) -> None:
    for t in steps:
        real, z = bn_batch(t)
        part = slice(rank * len(real) // world, (rank + 1) * len(real) // world)
        solver.step(real[part], z[part])


def run(solver: eq.Solver, world: int, rank: int, steps: range) -> None:
    for t in steps:
        real, z = global_batch(t)
        part = slice(rank * len(real) // world, (rank + 1) * len(real) // world)
        solver.step(real[part], z[part])


def flat(solver: eq.Solver) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in solver.game.parameters()])


def worker(rank: int, world: int, init: str, out: str, task: str) -> None:
    # one thread per rank: 2 ranks on 2 cores, no oversubscribed (spinning) OpenMP threads
    torch.set_num_threads(1)
    # a dead peer is noticed at once (its sockets close); the timeout only bounds a stuck one
    seconds = 30 if task == "die" else 180
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=seconds))
    out = Path(out)
    try:
        if task == "exact":
            report = {}
            for name in OPTIONS:
                for zero_sum in (False, True):
                    # rank 1 starts from other weights: construction must broadcast rank 0's
                    solver = make_solver(name, zero_sum, seed=rank)
                    before = dict(eq.distributed.traffic)
                    run(solver, world, rank, range(3))
                    key = f"{name}-{'zs' if zero_sum else 'gs'}"
                    report[key] = {k: (eq.distributed.traffic[k] - before[k]) / 3 for k in before}
                    if rank == 0:
                        torch.save(flat(solver), out / f"{key}.pt")
                        if key in ("consensus-gs", "acgd-gs", "optimistic-gs"):  # for the resume tests
                            torch.save(solver.state_dict(), out / f"{key}.state.pt")
            if rank == 0:
                (out / "traffic.json").write_text(json.dumps(report))
        elif task == "batchnorm":  # batch norm over the global batch: still exact, second-order solvers too
            for name in BN_SOLVERS:
                solver = make_bn_solver(name, seed=rank)
                run_bn(solver, world, rank, range(3))
                if rank == 0:
                    buffers = [b.detach().reshape(-1).double() for b in solver.game.buffers()]
                    torch.save(torch.cat([flat(solver), *buffers]), out / f"bn-{name}.pt")
        elif task == "resume":  # continue 2 steps from states written by one process
            for key in ("consensus-gs", "acgd-gs", "optimistic-gs"):
                solver = make_solver(key.split("-")[0], False)
                state = torch.load(out / f"single-{key}.state.pt", weights_only=False)
                with torch.no_grad():
                    for t, v in zip(solver.game.parameters(), state.pop("parameters")):
                        t.copy_(v)
                solver.load_state_dict(state)
                run(solver, world, rank, range(3, 5))
                if rank == 0:
                    torch.save(flat(solver), out / f"resumed-{key}.pt")
        elif task == "die":  # rank 1 dies after the start; rank 0 must stop with a clear error, not hang
            solver = make_solver("simgd", False)
            if rank == 1:
                os._exit(0)
            start = time.monotonic()
            try:
                run(solver, world, rank, range(3))
            finally:
                (out / "seconds.txt").write_text(str(time.monotonic() - start))
        elif task == "disagree":
            eq.make_solver("consensus", make_game(False), lr=0.05, gamma=1.0 + rank)
        dist.barrier()  # leave together: a rank that tears gloo down while the other still talks aborts it
    except Exception as e:  # noqa: BLE001 - reported to the test through a file
        (out / f"error-{rank}.txt").write_text(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        if task == "disagree":  # both ranks raised after the same gather: leave together, no rank cut off mid-way
            dist.barrier()
            dist.destroy_process_group()
            _leave()
        # a rank that fails alone leaves without tearing gloo down (which aborts a peer still in a
        # collective): its sockets close, and the peer's collective fails with a Python error it reports
        os._exit(0)
    dist.destroy_process_group()
    _leave()


def _leave() -> None:
    """Exit the rank at once, its files written and its process group destroyed: at interpreter exit, gloo's
    static teardown sometimes aborts ("terminate called without an active exception", SIGABRT) after the
    work is done, seen on 2026-12-07 in about 1 of 10 runs of the exact task under the test suite."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
