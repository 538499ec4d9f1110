"""A DCGAN on scikit-learn's 8x8 digits (upscaled to 16x16), trained with ExtraAdam.

    python examples/dcgan_digits.py [out_dir]        (default runs/dcgan_digits)

``gan.train`` with extragradient's digits recipe (16x16 DCGAN, Adam 4e-4 from the digits lr
sweep, beta1 0.5, batch 64, 2,000 steps), which with the Adam base is Gidel et al.'s
ExtraAdam (2019). Then 64 samples from the run (``gan.sample``) are saved as a grid,
samples.png. The digits ship with scikit-learn: nothing is downloaded. A full run takes a
few minutes on a CPU; EQUILIB_EXAMPLES_FAST=1 trains 3 steps.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import gan  # noqa: E402

FAST = os.environ.get("EQUILIB_EXAMPLES_FAST") == "1"


def save_grid(images: np.ndarray, path: Path) -> None:
    """images (n, 1, h, w) in [-1, 1] -> one PNG, 8 per row."""
    n = len(images)
    rows = (n + 7) // 8
    fig, axes = plt.subplots(rows, 8, figsize=(8, rows))
    for ax, k in zip(np.ravel(axes), range(rows * 8)):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k, 0], cmap="gray", vmin=-1, vmax=1)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(out: Path) -> None:
    steps = 3 if FAST else 2000
    run = out / "run"
    gan.train({"data": "digits", "solver": "extragradient", "steps": steps, "seed": 0, "out": str(run)})
    images = np.asarray(gan.sample(str(run), n=64, seed=0))
    print(f"{steps} steps; samples {images.shape}, values in [{images.min():.2f}, {images.max():.2f}]")
    save_grid(images, out / "samples.png")
    print(f"wrote {out / 'samples.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/dcgan_digits"))
