"""A 32x32 DCGAN on CIFAR-10 from a local copy, on a GPU.

    python examples/cifar10_gpu.py --data-root data/cifar10 --device cuda [--solver extragradient] [--out DIR]

The data is read from ``--data-root``: the folder ``cifar-10-batches-py`` as unpacked from
cifar-10-python.tar.gz (Krizhevsky 2009), or that folder's files directly in it. Nothing is
downloaded: without the data the script stops at once with a one-line error (exit 2), and so it
does when ``--device cuda`` is asked for on a machine without CUDA. Training uses ``gan.train``
with the CIFAR-10 defaults (DCGAN, Adam 2e-4, beta1 0.5, batch 64, 20,000 steps); the device is a
parameter (``--device cpu`` works too, slowly). EQUILIB_EXAMPLES_FAST=1 trains 2 steps.
"""

import argparse
import os
import sys
import time
from pathlib import Path

FAST = os.environ.get("EQUILIB_EXAMPLES_FAST") == "1"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def refuse(message: str) -> None:
    print(f"cifar10_gpu.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def check(root: Path, device: str) -> None:
    """Stop before anything is built when the data or the device is missing."""
    base = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    missing = [name for name in BATCHES if not (base / name).is_file()]
    if not root.is_dir() or missing:
        refuse(f"--data-root {str(root)!r} holds no CIFAR-10 copy (missing {', '.join(missing or BATCHES)}); "
               "unpack cifar-10-python.tar.gz there on a machine with the file, then run again")
    import torch  # imported only after the data check, so a missing folder is refused at once

    if device.startswith("cuda") and not torch.cuda.is_available():
        refuse(f"--device {device!r} asked for, but CUDA is not available here; use --device cpu to run on the CPU")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="data/cifar10", help="folder holding cifar-10-batches-py")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu, ...")
    parser.add_argument("--solver", default="extragradient")
    parser.add_argument("--steps", type=int, default=2 if FAST else 20000)
    parser.add_argument("--out", default="runs/cifar10")
    args = parser.parse_args(argv)
    check(Path(args.data_root), args.device)
    import numpy as np

    import gan

    start = time.perf_counter()
    gan.train({"data": "cifar10", "data_root": args.data_root, "device": args.device,
               "solver": args.solver, "steps": args.steps, "seed": 0, "out": args.out})
    images = np.asarray(gan.sample(args.out, n=16, seed=0))
    seconds = time.perf_counter() - start
    print(f"{args.steps} steps on {args.device} in {seconds:.1f} s; samples {images.shape}; run {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
