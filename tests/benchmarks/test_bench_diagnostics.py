"""Benchmarks of equilib.diagnostics (skipped in the normal run).

    pytest tests/benchmarks/test_bench_diagnostics.py --benchmark-only --benchmark-json=bench.json
    python tests/benchmarks/report.py bench.json

Groups (the "reference" test of a group is the baseline for report.py's ratios):
- diagnostics-dense-jacobian: dense J of a ~2,000-parameter MLP GAN game, equilib vs a row-by-row
  torch.autograd loop.
- diagnostics-dcgan-top6: top-6 eigenvalues (LM, tol 1e-3) of J of a 32x32 DCGAN pair (1,732,224
  parameters), in seconds; the number of Jacobian-vector products is in extra_info and printed.
- diagnostics-recorder: 100 simgd steps of a ~10k-parameter MLP GAN, with a Recorder every 25 / 100
  steps (matrix-free, k = 6, with the update map's spectral radius) vs without.
"""

from __future__ import annotations

import torch

import equilib as eq
from equilib import diagnostics as dg

from diagnostics_nets import dcgan_game, mlp_game  # noqa: E402  (tests/helpers is on sys.path)


def rowwise_jacobian(game):
    """Plain PyTorch: xi with create_graph, then one backward pass per row."""
    losses, _ = game.evaluate(None)
    xi = []
    for p in game.players:
        xi += list(torch.autograd.grad(losses[p], game.parameters(p), create_graph=True))
    flat = torch.cat([x.reshape(-1) for x in xi])
    params = game.parameters()
    return torch.stack([torch.cat([r.reshape(-1) for r in torch.autograd.grad(
        flat[k], params, retain_graph=True, allow_unused=True, materialize_grads=True)])
        for k in range(flat.numel())])


def test_dense_jacobian_reference_rowwise(benchmark):
    torch.set_num_threads(1)
    game = mlp_game(29)
    benchmark.group = "diagnostics-dense-jacobian"
    benchmark.extra_info["parameters"] = game.num_parameters()
    benchmark.pedantic(lambda: rowwise_jacobian(game), rounds=3, warmup_rounds=1)


def test_dense_jacobian_equilib(benchmark):
    torch.set_num_threads(1)
    game = mlp_game(29)
    benchmark.group = "diagnostics-dense-jacobian"
    benchmark.extra_info["parameters"] = game.num_parameters()
    J = benchmark.pedantic(lambda: dg.jacobian(game), rounds=3, warmup_rounds=1)
    torch.testing.assert_close(J, rowwise_jacobian(game), rtol=1e-10, atol=1e-10)


def test_dcgan_top6_eigenvalues(benchmark):
    torch.set_num_threads(1)
    game = dcgan_game()
    assert game.num_parameters() == 1_732_224
    benchmark.group = "diagnostics-dcgan-top6"
    info = {}
    values = benchmark.pedantic(lambda: dg.eigenvalues(game, k=6, which="LM", tol=1e-3, info=info),
                                rounds=1, warmup_rounds=0)
    benchmark.extra_info.update(parameters=game.num_parameters(), jacobian_vector_products=info["matvecs"],
                                eigenvalues=[str(complex(z)) for z in values])
    print(f"\nDCGAN top-6: {info['matvecs']} Jacobian-vector products, eigenvalues {values.tolist()}")


def _train(game, recorder, steps=100):
    solver = eq.make_solver("simgd", game, lr=0.01)
    for step in range(steps):
        solver.step()
        if recorder is not None:
            recorder(step + 1, solver)


def test_recorder_reference_training(benchmark):
    torch.set_num_threads(1)
    game = mlp_game(64, dtype=torch.float32, n=256)
    benchmark.group = "diagnostics-recorder"
    benchmark.extra_info["parameters"] = game.num_parameters()
    benchmark.pedantic(lambda: _train(game, None), rounds=3, warmup_rounds=1)


def test_recorder_every_100(benchmark):
    torch.set_num_threads(1)
    game = mlp_game(64, dtype=torch.float32, n=256)
    benchmark.group = "diagnostics-recorder"
    rec = dg.Recorder(every=100, k=6, dense=False, tol=1e-4)
    benchmark.pedantic(lambda: _train(game, rec), rounds=3, warmup_rounds=1)
    benchmark.extra_info["products_per_record"] = rec.rows[-1]["products"]
    benchmark.extra_info["seconds_per_record"] = rec.rows[-1]["seconds"]


def test_recorder_every_25(benchmark):
    torch.set_num_threads(1)
    game = mlp_game(64, dtype=torch.float32, n=256)
    benchmark.group = "diagnostics-recorder"
    rec = dg.Recorder(every=25, k=6, dense=False, tol=1e-4)
    benchmark.pedantic(lambda: _train(game, rec), rounds=3, warmup_rounds=1)
    benchmark.extra_info["products_per_record"] = rec.rows[-1]["products"]
