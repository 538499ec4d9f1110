"""Matrix-free eigenvalues run on a DCGAN-sized network pair (1.7M parameters, BatchNorm in train mode)."""

from __future__ import annotations

import numpy as np
import torch

import equilib as eq
from equilib import diagnostics as dg

from diagnostics_nets import dcgan_game  # tests/helpers is on sys.path (tests/conftest.py)


def test_top_eigenpairs_of_a_dcgan_pair():
    torch.set_num_threads(1)
    game = dcgan_game(batch=2)
    assert game.num_parameters() == 1_732_224
    before = [b.clone() for b in game.buffers()]
    info = {}
    values, vectors = dg.eigenvalues(game, k=3, tol=1e-3, info=info, return_eigenvectors=True)
    assert values.shape == (3,) and torch.isfinite(values.real).all() and 0 < info["matvecs"] < 200
    assert (values.abs()[:-1] >= values.abs()[1:]).all()  # largest magnitude first
    for b, v in zip(game.buffers(), before):  # BatchNorm running statistics untouched by the diagnostics
        assert torch.equal(b, v)
    # each pair satisfies J v = lambda v, checked with an independent Field product
    field = eq.Field(game, (), create_graph=True)
    like = eq.vec.detach(field.xi)
    for lam, v in zip(values.numpy(), vectors.numpy().T):
        parts = []
        for part in (v.real, v.imag):
            t = eq.vec.unflatten(torch.from_numpy(part.copy()).float(), like)
            parts.append(eq.vec.flatten(eq.vec.detach(field.jvp(t))).double().numpy())
        Jv = parts[0] + 1j * parts[1]
        assert np.linalg.norm(Jv - lam * v) <= 1e-2 * abs(lam) * np.linalg.norm(v)
