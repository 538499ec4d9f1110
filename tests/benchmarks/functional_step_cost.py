"""What the functional base step would cost as every solver's commit path (issue: one functional step).

    python tests/benchmarks/functional_step_cost.py [--pairs N]

On the parameters of the ring recipe's GAN (MLPs with 3 hidden layers of 64, G 16 -> 2, D 2 -> 1),
one base-optimizer step for a given direction, timed interleaved (paired) against torch.optim's
step as solvers use it today (the direction as .grad, ``optimizer.step()``, fused where torch has
it, else foreach): ``FunctionalStep.update`` (pure and differentiable: new moves and new state
tensors) followed by adding the moves to the parameters. Prints the medians and their ratio per
rule; a simgd step of this game takes about 2.4 ms (docs/performance.md), so the difference per
step is what every solver would pay.
"""

from __future__ import annotations

import argparse

import torch

import equilib as eq
from equilib.functional_step import FunctionalStep
from paired import interleaved


def params() -> list[torch.Tensor]:
    torch.manual_seed(0)
    G = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                            torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    D = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                            torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    return list(G.parameters()) + list(D.parameters())


RULES = {"adam": (torch.optim.Adam, {"lr": 1e-3}), "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3}),
         "sgd-momentum": (torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.pairs} pairs")
    print("| rule | torch.optim step (ms) | functional update + commit (ms) | ratio |\n|---|---|---|---|")
    for name, (cls, options) in RULES.items():
        p_torch, p_func = params(), params()
        directions = [torch.randn_like(t) for t in p_torch]
        opt = cls(p_torch, **options, **eq.optim.fast_options(name.split("-")[0], p_torch))
        fstep = FunctionalStep.of(cls(p_func, **options))
        state = [{} for _ in p_func]

        def torch_step():
            for t, d in zip(p_torch, directions):
                t.grad = d
            opt.step()

        def functional_step():
            nonlocal state
            with torch.no_grad():
                moves, state = fstep.update(p_func, directions, state)
                torch._foreach_add_(p_func, moves)

        a, b = interleaved(torch_step, functional_step, args.pairs)
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
