"""Paired timing of the Jacobian products, each path against one gradient evaluation.

    python tests/benchmarks/products.py [--pairs N] [--json out.json]

The game is a GAN with tanh MLPs G 8 -> 128 -> 2, D 2 -> 128 -> 1 and a batch of 256, one
torch thread, in its zero-sum form (minimax value V, losses V and -V) and its general-sum form
(non-saturating generator loss). Each product is timed interleaved with the reference
(``torch.autograd.grad`` of the losses), call by call, and reported as the ratio of medians.
The paths compared for J v in a general-sum game:

- restricted: (J v)_i = grad_i <grad L_i, v>, one backward pass per player through the full
  gradient of L_i (whose cross blocks take one extra backward pass per player, once per point);
- double backward: J v = d/du <J^T u, v> at a dummy u (one pass to build J^T u, once per point,
  then one pass per product through that larger graph);
- forward over reverse: ``Field.jvp_forward`` (torch.autograd.forward_ad: the losses and their
  gradients once more with dual parameters) and torch.func.jvp of torch.func.grad; both recompute
  the forward pass for each product.
"""

from __future__ import annotations

import argparse
import json

import torch
from torch import nn
from torch.func import functional_call

import equilib as eq
from paired import interleaved

F = nn.functional


class Setup:
    def __init__(self, zero_sum: bool, seed: int = 0, batch: int = 256):
        torch.manual_seed(seed)
        self.G = nn.Sequential(nn.Linear(8, 128), nn.Tanh(), nn.Linear(128, 2))
        self.D = nn.Sequential(nn.Linear(2, 128), nn.Tanh(), nn.Linear(128, 1))
        self.z, self.real = torch.randn(batch, 8), torch.randn(batch, 2)
        self.params = list(self.G.parameters()) + list(self.D.parameters())
        self.nG = len(list(self.G.parameters()))
        self.zero_sum = zero_sum
        if zero_sum:
            self.game = eq.ZeroSumGame({"G": self.G, "D": self.D}, lambda p, r: self.value(p["G"], p["D"], r))
        else:
            self.game = eq.Game({"G": self.G, "D": self.D}, lambda p, r: dict(zip("GD", self.losses(p["G"], p["D"], r))))
        g = torch.Generator().manual_seed(1)
        self.v = [torch.randn(t.shape, generator=g) for t in self.params]

    def value(self, G, D, real):
        return -(F.softplus(-D(real)).mean() + F.softplus(D(G(self.z))).mean())

    def losses(self, G, D, real):
        if self.zero_sum:
            v = self.value(G, D, real)
            return v, -v
        d_fake = D(G(self.z))
        return F.softplus(-d_fake).mean(), F.softplus(-D(real)).mean() + F.softplus(d_fake).mean()

    def reference(self):
        """One gradient evaluation, hand-written: autograd.grad of each loss over its player."""
        lg, ld = self.losses(self.G, self.D, self.real)
        if self.zero_sum:
            return torch.autograd.grad(lg, self.params)
        a = torch.autograd.grad(lg, self.params[:self.nG], retain_graph=True)
        return a + torch.autograd.grad(ld, self.params[self.nG:])

    def field(self):
        return eq.Field(self.game, (self.real,), create_graph=True)

    def double_backward_jvp(self, f):
        u = [torch.zeros_like(x, requires_grad=True) for x in f.xi]
        jtu = torch.autograd.grad(f.xi, f.inputs, u, create_graph=True)
        return lambda v: torch.autograd.grad(jtu, u, v, retain_graph=True)

    def forward_over_reverse_jvp(self, v):
        names = [n for n, _ in self.G.named_parameters()] + [n for n, _ in self.D.named_parameters()]
        nG = self.nG

        def xi(*flat):
            gp, dp = dict(zip(names[:nG], flat[:nG])), dict(zip(names[nG:], flat[nG:]))
            G = lambda x: functional_call(self.G, gp, (x,))  # noqa: E731

            def loss_g(*g):
                return self.losses(lambda x: functional_call(self.G, dict(zip(names[:nG], g)), (x,)),
                                   lambda x: functional_call(self.D, dp, (x,)), self.real)[0]

            def loss_d(*d):
                return self.losses(G, lambda x: functional_call(self.D, dict(zip(names[nG:], d)), (x,)), self.real)[1]
            return torch.func.grad(loss_g, argnums=tuple(range(nG)))(*flat[:nG]) + \
                torch.func.grad(loss_d, argnums=tuple(range(len(flat) - nG)))(*flat[nG:])

        primals = tuple(t.detach() for t in self.params)
        return torch.func.jvp(xi, primals, tuple(v))[1]


def paired(reference, candidate, pairs: int) -> tuple[float, float]:
    return interleaved(reference, candidate, pairs)


def cases(s: Setup):
    """(name, setup-free callable) pairs; each product callable reuses one Field built once."""
    f = s.field()
    v, vG, vD = s.v, s.v[:s.nG], s.v[s.nG:]
    yield "Field(game, args) (xi only)", lambda: eq.Field(s.game, (s.real,)).xi
    yield "Field.vjp(v) = J^T v", lambda: f.vjp(v)
    yield "Field.jvp(v) = J v", lambda: f.jvp(v)
    yield "block_jvp(G, D, v_D) = J_GD v_D", lambda: f.block_jvp("G", "D", vD)
    yield "block_jvp(D, G, v_G) = J_DG v_G", lambda: f.block_jvp("D", "G", vG)
    yield "block_vjp(D, G, w_D) = J_DG^T w_D", lambda: f.block_vjp("D", "G", vD)
    jv = s.double_backward_jvp(f)
    yield "J v by double backward (per product)", lambda: jv(v)
    if not s.zero_sum:
        yield "J v by double backward, incl. its J^T u pass", lambda: s.double_backward_jvp(f)(v)
        yield "J v restricted, incl. the cross gradients", lambda: s.field().jvp(v)
    yield "J v forward over reverse (Field.jvp_forward, autograd.forward_ad)", lambda: f.jvp_forward(v)
    yield "J v forward over reverse (torch.func)", lambda: s.forward_over_reverse_jvp(v)


def check(s: Setup) -> None:
    """The three J v paths agree (so the timings compare the same product)."""
    f = s.field()
    a = torch.cat([t.reshape(-1) for t in f.jvp(s.v)])
    b = torch.cat([t.reshape(-1) for t in s.double_backward_jvp(f)(s.v)])
    c = torch.cat([t.reshape(-1) for t in s.forward_over_reverse_jvp(s.v)])
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    print("| game | product | gradient evaluation (ms) | product (ms) | ratio |")
    print("|---|---|---|---|---|")
    for zero_sum in (True, False):
        s = Setup(zero_sum)
        check(s)
        game = "zero-sum" if zero_sum else "general-sum"
        for name, fn in cases(s):
            ref, t = paired(s.reference, fn, args.pairs)
            rows.append({"game": game, "product": name, "reference_ms": ref, "ms": t, "ratio": t / ref})
            print(f"| {game} | {name} | {ref:.3f} | {t:.3f} | {t / ref:.2f} |", flush=True)
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
