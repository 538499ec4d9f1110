"""Where the time goes in the targets docs/performance.md reports as missed: cost ladders.

    python tests/benchmarks/profile_misses.py [--pairs N]

Each ladder times a sequence of stages on the same game and batch, every stage paired and
interleaved with the first (the hand-written reference), so the step from one stage to the next is
the cost of what that stage adds:

- evaluation (zero-sum and general-sum forms of the products benchmark's game): the hand-written
  losses and ``torch.autograd.grad``; the same gradients through ``Game.evaluate`` (equilib's
  structure and loss checks); a whole ``Field`` (distributed check, loss connectivity check, the
  maximizer's sign flip, zero blocks);
- second order (general-sum): the gradient; the same with ``create_graph=True`` (what consensus and
  SGA must build before any product); + J^T xi (consensus); + J xi by forward over reverse (SGA);
- altgd: the hand-written alternating step; equilib's; one snapshot of the parameters and the
  optimizer state (what lets a NaN in the second player's gradient undo the first player's move),
  timed alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "helpers")]

import equilib as eq  # noqa: E402
import products  # noqa: E402
from handwritten import make  # noqa: E402
from paired import interleaved  # noqa: E402


def _ladder(stages: list[tuple[str, object]], pairs: int) -> list[dict]:
    """Each stage paired with the first; ms of both and the stage's ratio to the reference."""
    name0, ref = stages[0]
    rows = []
    for name, fn in stages:
        base, ms = interleaved(ref, fn, pairs)
        rows.append({"stage": name, "reference_ms": base, "ms": ms, "ratio": ms / base})
    return rows


def evaluation(zero_sum: bool, pairs: int) -> list[dict]:
    s = products.Setup(zero_sum)
    players = s.params[:s.nG], s.params[s.nG:]

    def through_game():
        losses, inputs = s.game.evaluate(None, s.real)
        if zero_sum:
            return torch.autograd.grad(losses["G"], inputs)
        a = torch.autograd.grad(losses["G"], players[0], retain_graph=True)
        return a + torch.autograd.grad(losses["D"], players[1])

    return _ladder([("hand-written: losses + autograd.grad", s.reference),
                    ("through Game.evaluate", through_game),
                    ("Field(game, args).xi", lambda: eq.Field(s.game, (s.real,)).xi)], pairs)


def second_order(pairs: int) -> list[dict]:
    s = products.Setup(False)

    def with_graph():
        return eq.Field(s.game, (s.real,), create_graph=True).xi

    def consensus_direction():
        f = eq.Field(s.game, (s.real,), create_graph=True)
        return f.vjp(eq.vec.detach(f.xi))

    def sga_products():
        f = eq.Field(s.game, (s.real,), create_graph=True)
        xi = eq.vec.detach(f.xi)
        return f.vjp(xi), f.jvp_forward(xi)

    return _ladder([("gradient (Field, no graph)", lambda: eq.Field(s.game, (s.real,)).xi),
                    ("gradient with create_graph=True", with_graph),
                    ("+ J^T xi (consensus)", consensus_direction),
                    ("+ J^T xi + J xi forward over reverse (sga)", sga_products)], pairs)


def altgd(pairs: int) -> list[dict]:
    hand, _ = make("altgd", "handwritten")
    ours, setup = make("altgd", "equilib")
    params = [p for m in (setup.G, setup.D) for p in m.parameters()]

    def snapshot():
        return [p.detach().clone() for p in params]

    rows = _ladder([("hand-written altgd step", hand), ("equilib altgd step", ours)], pairs)
    base, ms = interleaved(hand, snapshot, pairs)
    rows.append({"stage": "one snapshot of the parameters (clone), timed alone", "reference_ms": base, "ms": ms,
                 "ratio": ms / base})
    return rows


def run(pairs: int) -> dict:
    return {"evaluation zero-sum": evaluation(True, pairs), "evaluation general-sum": evaluation(False, pairs),
            "second order, general-sum": second_order(pairs), "altgd": altgd(pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--json", help="also write the rows here")
    opts = parser.parse_args()
    torch.set_num_threads(1)
    res = run(opts.pairs)
    for ladder, rows in res.items():
        print(f"\n{ladder}")
        for r in rows:
            print(f"  {r['stage']:<58} {r['ms']:.3f} ms  {r['ratio']:.3f}x")
    if opts.json:
        Path(opts.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
