"""Data parallelism: 2 gloo ranks with per-rank batch B take the same steps as one process with batch 2B.

Real processes (torch.multiprocessing.spawn, gloo on loopback), every solver, a general-sum and a
zero-sum GAN game in float64 without batch norm; rank 1 starts from other weights, which the
solver's construction must replace by rank 0's. Checkpoints cross between 2 ranks and 1 process.
"""

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

import distributed_worker as W  # tests/helpers is on sys.path (tests/conftest.py)
import equilib as eq

WORLD = 2
os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: no dependence on the host name resolving


def spawn(task, out):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the children get plain file descriptors for their output, not pytest's capture files
    saved = [os.dup(1), os.dup(2)]
    with open(out / "ranks.log", "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            mp.spawn(W.worker, args=(WORLD, f"tcp://127.0.0.1:{port}", str(out), task), nprocs=WORLD, join=True)
        except Exception as e:  # a rank died by a signal: show what the ranks printed and reported
            reports = "".join(f"\n--- {f.name}:\n{f.read_text()}" for f in sorted(out.glob("error-*.txt")))
            raise AssertionError(f"{e}\n--- ranks.log:\n{(out / 'ranks.log').read_text()[-4000:]}{reports}") from e
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
    return {r: (out / f"error-{r}.txt").read_text() for r in range(WORLD) if (out / f"error-{r}.txt").exists()}


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    assert spawn("exact", out) == {}
    return out


@pytest.mark.parametrize("zero_sum", [False, True], ids=["general-sum", "zero-sum"])
@pytest.mark.parametrize("name", sorted(W.OPTIONS))
def test_two_ranks_equal_one_process_with_the_whole_batch(exact_run, name, zero_sum):
    single = W.make_solver(name, zero_sum)
    W.run(single, 1, 0, range(3))
    start = W.flat(W.make_solver(name, zero_sum))
    two = torch.load(exact_run / f"{name}-{'zs' if zero_sum else 'gs'}.pt")
    assert not torch.allclose(W.flat(single), start)
    torch.testing.assert_close(two, W.flat(single), rtol=1e-9, atol=1e-11)


def test_table_covers_every_solver():
    assert set(W.OPTIONS) == set(eq.SOLVERS)


def test_communication_per_step_is_counted(exact_run):
    """simgd: one all-reduce of xi and the losses per step; extragradient two; consensus one more
    for J^T xi; cgd two per Krylov iteration on top."""
    traffic = json.loads((exact_run / "traffic.json").read_text())
    n = W.make_game(False).num_parameters()
    assert traffic["simgd-gs"] == {"collectives": 1, "bytes": (n + 2) * 8}
    assert traffic["extragradient-gs"]["collectives"] == 2
    assert traffic["consensus-gs"] == {"collectives": 2, "bytes": (2 * n + 2) * 8}
    assert traffic["cgd-zs"]["collectives"] > 4


def test_checkpoint_crosses_between_two_ranks_and_one_process(exact_run, tmp_path):
    for key in ("consensus-gs", "acgd-gs", "optimistic-gs"):
        name = key.split("-")[0]
        # written on 2 ranks (after 3 steps), resumed on 1 for 2 more steps
        resumed = W.make_solver(name, False)
        resumed.load_state_dict(torch.load(exact_run / f"{key}.state.pt", weights_only=False))
        with torch.no_grad():
            for t, v in zip(resumed.game.parameters(), torch.load(exact_run / f"{key}.pt").split(
                    [t.numel() for t in resumed.game.parameters()])):
                t.copy_(v.view_as(t))
        W.run(resumed, 1, 0, range(3, 5))
        straight = W.make_solver(name, False)
        W.run(straight, 1, 0, range(5))
        torch.testing.assert_close(W.flat(resumed), W.flat(straight), rtol=1e-9, atol=1e-11)
        # written by one process, resumed on 2 ranks
        single = W.make_solver(name, False)
        W.run(single, 1, 0, range(3))
        state = single.state_dict()
        state["parameters"] = [t.detach().clone() for t in single.game.parameters()]
        torch.save(state, tmp_path / f"single-{key}.state.pt")
    assert spawn("resume", tmp_path) == {}
    for key in ("consensus-gs", "acgd-gs", "optimistic-gs"):
        straight = W.make_solver(key.split("-")[0], False)
        W.run(straight, 1, 0, range(5))
        torch.testing.assert_close(torch.load(tmp_path / f"resumed-{key}.pt"), W.flat(straight),
                                   rtol=1e-9, atol=1e-11)


def test_batch_norm_over_the_global_batch_keeps_two_ranks_equal_to_one_process(tmp_path):
    """gan.parallel.GlobalBatchNorm: statistics of the whole batch, differentiable to second order
    (consensus, sga and cgd differentiate xi again), running statistics included."""
    assert spawn("batchnorm", tmp_path) == {}
    for name in W.BN_SOLVERS:
        single = W.make_bn_solver(name)
        W.run_bn(single, 1, 0, range(3))
        want = torch.cat([W.flat(single), *[b.detach().reshape(-1).double() for b in single.game.buffers()]])
        assert not torch.allclose(W.flat(single), W.flat(W.make_bn_solver(name)))
        torch.testing.assert_close(torch.load(tmp_path / f"bn-{name}.pt"), want, rtol=1e-9, atol=1e-11)


def test_global_batch_norm_is_plain_batch_norm_on_one_process():
    from gan.parallel import GlobalBatchNorm, convert_batchnorm
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3, momentum=None))
    x = torch.randn(5, 2, 6, 6)
    for _ in range(2):
        plain(x)  # some running statistics to carry over
    converted = convert_batchnorm(__import__("copy").deepcopy(plain))
    assert isinstance(converted[1], GlobalBatchNorm)
    torch.testing.assert_close(converted(x), plain(x), rtol=0, atol=0)
    torch.testing.assert_close(converted[1].running_var, plain[1].running_var, rtol=0, atol=0)


def test_ranks_that_disagree_are_stopped_naming_the_difference(tmp_path):
    errors = spawn("disagree", tmp_path)
    assert set(errors) == {0, 1}
    for text in errors.values():
        first = text.splitlines()[0]
        assert first.startswith("SolverError: the ranks disagree on options")
        assert "rank 0 {'gamma': 1.0}" in first and "rank 1 {'gamma': 2.0}" in first


def test_a_rank_that_dies_stops_the_others_with_a_clear_message(tmp_path):
    errors = spawn("die", tmp_path)
    assert errors[0].startswith("DistributedError: rank 0 of 2: a collective failed, so another rank has probably "
                                "died or stopped")
    assert float((tmp_path / "seconds.txt").read_text()) < 30  # the group's timeout, not a hang
