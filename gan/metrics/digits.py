"""The offline image metric on the bundled digits: a small MLP classifier and :func:`digits_metrics`.

The classifier's 64 penultimate features give a Frechet distance (FID's formula on these
features instead of Inception's); its predicted classes give class coverage and KL from uniform.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan.metrics.frechet import frechet_distance, gaussian_stats
from gan.metrics.modes import mode_coverage

__all__ = ["DigitsClassifier", "digits_classifier", "digits_metrics"]


class DigitsClassifier(nn.Module):
    """A small MLP classifier of the bundled 8x8 digits at ``image_size`` (1 channel, [-1, 1]).

    pixels -> 128 ReLU -> 64 ReLU (the features for the Frechet distance) -> 10 logits.
    Trained full-batch with Adam (lr 3e-3, weight decay 1e-4, 300 steps) on a fixed 80% split
    (seed 0), deterministically (one thread); ``test_accuracy`` is measured on the other 20% (360 digits):
    0.975 at 16x16 and 0.978 at 32x32 (torch 2.13, CPU), measured by
    ``python -c "from gan.metrics import digits_classifier as c; print(c(16).test_accuracy, c(32).test_accuracy)"``.
    Build it with :func:`digits_classifier`, which caches one per image size per process.
    """

    def __init__(self, image_size: int = 16, steps: int = 300, seed: int = 0):
        super().__init__()
        from gan.data import load_digits

        self.image_size = image_size
        data = load_digits(image_size)
        images, labels = data.images, data.labels
        perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        cut = int(0.8 * len(labels))
        train, test = perm[:cut], perm[cut:]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            d = image_size * image_size
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
            self.head = nn.Linear(64, 10)
        opt = torch.optim.Adam(self.parameters(), lr=3e-3, weight_decay=1e-4)
        x, y = images[train], labels[train]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the same floating-point result whatever the thread count
        try:
            for _ in range(steps):
                opt.zero_grad()
                nn.functional.cross_entropy(self(x), y).backward()
                opt.step()
        finally:
            torch.set_num_threads(threads)
        self.eval()
        self.requires_grad_(False)
        self.test_accuracy = float((self.predict(images[test]) == labels[test]).double().mean())
        self.real_stats = gaussian_stats(self.features(images))

    def features(self, images: Tensor) -> Tensor:
        with torch.no_grad():
            return self.body(self._check(images))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))

    def predict(self, images: Tensor) -> Tensor:
        with torch.no_grad():
            return self(self._check(images)).argmax(dim=1)

    def _check(self, images: Tensor) -> Tensor:
        images = torch.as_tensor(images).detach().float().cpu()
        want = (1, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != want:
            raise ValueError(f"the digits classifier takes images of shape (n, {want[0]}, {want[1]}, {want[2]}), "
                             f"got {tuple(images.shape)}")
        return images


_CLASSIFIERS: dict[int, DigitsClassifier] = {}


def digits_classifier(image_size: int = 16) -> DigitsClassifier:
    """The :class:`DigitsClassifier` for ``image_size``, trained once per process."""
    if image_size not in _CLASSIFIERS:
        _CLASSIFIERS[image_size] = DigitsClassifier(image_size)
    return _CLASSIFIERS[image_size]


def digits_metrics(images, min_fraction: float = 0.01) -> dict:
    """Offline image metric for generated digits (n, 1, s, s) in [-1, 1].

    With p the histogram of the classifier's predicted classes over the 10 digits:
    ``classes`` = number of digits j with p_j >= ``min_fraction`` (default 1%, a tenth of a
    digit's fair share, so a few misclassified samples do not count as coverage),
    ``kl`` = KL(p || U_10) = sum_{p_j > 0} p_j log(10 p_j), ``confidence`` = mean of the
    classifier's largest softmax probability, ``frechet`` = :func:`frechet_distance` between
    the Gaussian fits of the classifier's 64 features on all 1,797 real digits and on ``images``.
    """
    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() != 4:
        raise ValueError(f"images must be (n, 1, size, size), got shape {tuple(images.shape)}")
    if not 0 <= min_fraction <= 1:
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    clf = digits_classifier(images.shape[-1])
    with torch.no_grad():
        probs = torch.softmax(clf(clf._check(images)), dim=1)
    coverage = mode_coverage(probs.argmax(dim=1), 10, min_fraction)
    mu, sigma = gaussian_stats(clf.features(images))
    return {"classes": coverage["modes_min_fraction"], "kl": coverage["kl"],
            "confidence": float(probs.max(dim=1).values.mean()),
            "frechet": frechet_distance(mu, sigma, *clf.real_stats)}
