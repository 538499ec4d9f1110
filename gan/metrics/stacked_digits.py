"""Mode coverage on stacked digits (1,000 modes), the protocol of Stacked MNIST on the bundled digits.

Each channel of a generated image (n, 3, s, s) is classified by the digits classifier
(:func:`gan.metrics.digits_classifier`, an MLP trained on 80% of the bundled digits; held-out
accuracy 97.5% at 16x16 and 97.8% at 32x32, measured by
``python -c "from gan.metrics import digits_classifier as c; print(c(16).test_accuracy, c(32).test_accuracy)"``),
and the image is assigned the mode 100 a + 10 b + c of its three predicted digits, as Metz et al.
(2017), Srivastava et al. (2017, VEEGAN) and Lin et al. (2018, PacGAN) do with an MNIST classifier.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan.metrics.digits import DigitsClassifier, digits_classifier
from gan.metrics.frechet import frechet_distance, gaussian_stats
from gan.metrics.modes import kl_from_uniform, mode_coverage

__all__ = ["stacked_digits_modes", "stacked_digits_metrics", "STACKED_MODES"]

STACKED_MODES = 1000


def _channels(images) -> Tensor:
    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() != 4 or images.shape[0] == 0 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
        raise ValueError(f"images must be stacked digits, a non-empty (n, 3, size, size) tensor, "
                         f"got shape {tuple(images.shape)}")
    return images.reshape(-1, 1, *images.shape[2:])                 # (3n, 1, s, s): channel j of image i at 3i + j


def _classify(images) -> tuple[Tensor, Tensor, Tensor, DigitsClassifier]:
    """(modes (n,), max softmax probabilities (n, 3), the 3n channels (3n, 1, s, s), the classifier)."""
    x = _channels(images)
    clf = digits_classifier(x.shape[-1])
    with torch.no_grad():
        probs = torch.softmax(clf(clf._check(x)), dim=1)
    confidence, digits = probs.max(dim=1)
    digits = digits.reshape(-1, 3)
    modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return modes, confidence.reshape(-1, 3), x, clf


def stacked_digits_modes(images) -> Tensor:
    """The mode 100 a + 10 b + c (int64, (n,)) of each image, a, b, c the classifier's digits of channels 0, 1, 2."""
    return _classify(images)[0]


def stacked_digits_metrics(images, min_fraction: float = 1e-4) -> dict:
    """Mode coverage of stacked digits (n, 3, s, s) in [-1, 1] (s = 16 or 32; any size the classifier takes).

    With p the histogram over the 1,000 modes of :func:`stacked_digits_modes`:
    ``modes`` = #{j : p_j > 0} (a mode counts with one sample, as in the papers),
    ``modes_min_fraction`` = #{j : p_j >= min_fraction} (default 1e-4, a tenth of a mode's fair share;
    the same as ``modes`` below 10,000 samples), ``kl`` = KL(p || U_1000) = sum_{p_j > 0} p_j log(1000 p_j)
    (PacGAN, Table 3), split exactly as ``kl`` = ``kl_digits`` + ``kl_dependence``: ``kl_digits`` =
    sum over the three channels of KL(p_channel || U_10) (digits drawn unevenly), ``kl_dependence`` =
    H(p_0) + H(p_1) + H(p_2) - H(p), the total correlation (the channels' digits not independent;
    also where most of the sampling floor 999 / (2n) of a finite sample goes); ``confidence`` = mean of
    the classifier's largest softmax probability over all 3n channels, ``frechet`` = Frechet distance of
    the classifier's features of the 3n channels to those of the 1,797 real digits (each channel of
    real stacked digits is a real digit).
    Classifier accuracy: see the module docstring. Closed forms: one mode gives 1 and log 1000, m
    equally filled modes m and log(1000 / m); n real samples E[kl] ~ 999 / (2n) (chi-square).
    """
    if isinstance(min_fraction, bool) or not isinstance(min_fraction, (int, float)) or not 0 <= min_fraction <= 1:
        raise ValueError(f"min_fraction must be a number in [0, 1], got {min_fraction!r}")
    modes, confidence, channels, clf = _classify(images)
    coverage = mode_coverage(modes, STACKED_MODES, min_fraction)
    mu, sigma = gaussian_stats(clf.features(channels))
    return {"modes": coverage["modes"], "modes_min_fraction": coverage["modes_min_fraction"],
            "kl": coverage["kl"], **_kl_split(coverage["counts"], coverage["kl"]),
            "confidence": float(confidence.mean()), "frechet": frechet_distance(mu, sigma, *clf.real_stats)}


def _kl_split(counts: Tensor, kl: float) -> dict:
    """``kl_digits`` (the channels' marginal KLs to U_10, summed) and ``kl_dependence`` (the rest)."""
    cube = counts.reshape(10, 10, 10)
    kl_digits = sum(kl_from_uniform(cube.sum(dim=[d for d in range(3) if d != channel])) for channel in range(3))
    return {"kl_digits": kl_digits, "kl_dependence": kl - kl_digits}
