"""How good is a trained GAN: mode coverage on mixtures, densities in 1-D, image metrics.

* :func:`mixture_metrics`: the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
  2018) on the ring and grid: modes captured, high-quality fraction, KL from uniform.
* :func:`kde`: Gaussian kernel density estimates (1-D and 2-D) for plots of data vs generator.
* :func:`optimal_discriminator`, :func:`jsd`, :func:`gan_value`: D* = p_data / (p_data + p_g) and
  V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Goodfellow et al. 2014, Theorem 1) on a 1-D grid.
* :func:`frechet_distance`, :class:`DigitsClassifier`, :func:`digits_metrics`: an offline image
  metric on the bundled digits (class coverage, KL from uniform, Frechet distance of features).
* :func:`fid`, :func:`inception_score`: through torch-fidelity (optional; needs Inception weights).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

__all__ = [
    "mixture_metrics", "kde", "optimal_discriminator", "jsd", "gan_value", "frechet_distance",
    "gaussian_stats", "DigitsClassifier", "digits_classifier", "digits_metrics", "fid", "inception_score",
]


def _as_tensor(x, dtype=torch.float64) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x.detach().cpu(), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures
# ---------------------------------------------------------------------------------------------

def mixture_metrics(samples, means, std: float, threshold: float = 3.0) -> dict:
    """Mode coverage of ``samples`` (n x d) on a mixture with ``means`` (k x d) and one ``std``.

    A sample is *high quality* when its distance to the nearest mean is at most
    ``threshold * std``. A mode is *captured* when at least one high-quality sample has it
    as nearest mean. With c_j the number of high-quality samples nearest to mode j and
    p_j = c_j / sum_i c_i (the captured-mode histogram of the high-quality samples):

        kl = KL(p || U_k) = sum_{j: p_j > 0} p_j log(k p_j)       (natural log; 0 log 0 = 0)

    against the uniform distribution over all k modes, as PacGAN reports it. One captured
    mode gives log k; all modes equally often 0. With no high-quality sample p is undefined
    and ``kl`` is ``inf``.

    Returns ``{"modes": int, "high_quality": fraction in [0, 1], "kl": float}``.
    """
    x = _as_tensor(samples)
    mu = _as_tensor(means)
    if x.dim() == 1:
        x = x[:, None]
    if mu.dim() != 2 or x.dim() != 2 or x.shape[1] != mu.shape[1] or x.shape[0] == 0:
        raise ValueError(f"samples must be (n, d) with n >= 1 and means (k, d) of the same d; "
                         f"got samples {tuple(x.shape)}, means {tuple(mu.shape)}")
    if not (std > 0 and threshold > 0):
        raise ValueError(f"std and threshold must be > 0, got std={std!r}, threshold={threshold!r}")
    dist = torch.cdist(x, mu)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= threshold * std
    k = mu.shape[0]
    counts = torch.bincount(nearest[good], minlength=k).double()
    total = counts.sum()
    if total > 0:
        p = counts / total
        nz = p > 0
        kl = float((p[nz] * torch.log(k * p[nz])).sum())
    else:
        kl = math.inf
    return {"modes": int((counts > 0).sum()), "high_quality": float(good.double().mean()), "kl": kl}


def kde(samples, points, bandwidth: float | None = None) -> Tensor:
    """Gaussian kernel density estimate of ``samples`` (n or n x d, d = 1 or 2) at ``points``.

    p(y) = 1/n sum_i N(y; x_i, H). Default H: Scott's rule H = n^(-2/(d+4)) Cov(x) (the sample
    covariance with n - 1, as scipy.stats.gaussian_kde); ``bandwidth=h`` gives H = h^2 I.
    """
    x = _as_tensor(samples)
    y = _as_tensor(points)
    if x.dim() == 1:
        x = x[:, None]
    if y.dim() == 1:
        y = y[:, None] if x.shape[1] == 1 else y[None, :]
    n, d = x.shape
    if d not in (1, 2) or y.shape[1] != d or n < 2:
        raise ValueError(f"kde takes n >= 2 samples of dimension 1 or 2 and points of the same dimension; "
                         f"got samples {tuple(x.shape)}, points {tuple(y.shape)}")
    if bandwidth is None:
        cov = torch.atleast_2d(torch.cov(x.T)) * n ** (-2.0 / (d + 4))
    else:
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
        cov = torch.eye(d, dtype=torch.float64) * bandwidth ** 2
    chol = torch.linalg.cholesky(cov)
    diff = (y[:, None, :] - x[None, :, :]).reshape(-1, d)                       # (m * n, d)
    white = torch.linalg.solve_triangular(chol, diff.T, upper=False).T.reshape(y.shape[0], n, d)
    log_k = -0.5 * white.pow(2).sum(-1) - 0.5 * d * math.log(2 * math.pi) - torch.log(torch.diagonal(chol)).sum()
    return torch.exp(torch.logsumexp(log_k, dim=1) - math.log(n))


# ---------------------------------------------------------------------------------------------
# 1-D: optimal discriminator and the Jensen-Shannon divergence
# ---------------------------------------------------------------------------------------------

def _log_density(x: Tensor, f) -> Tensor:
    return _as_tensor(f(x) if callable(f) else f).reshape(-1)


def optimal_discriminator(x, log_p_data, log_p_g) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data - log p_g) (Goodfellow et al. 2014,
    Prop. 1). ``log_p_data``, ``log_p_g``: callables of x or the log densities at x."""
    x = _as_tensor(x)
    return torch.sigmoid(_log_density(x, log_p_data) - _log_density(x, log_p_g))


def _trapezoid(values: Tensor, x: Tensor) -> float:
    return float(torch.trapezoid(values, x))


def _weighted(log_w: Tensor, f: Tensor) -> Tensor:
    """exp(log_w) * f, taken as 0 where the weight is 0 (so 0 * log 0 = 0)."""
    w = log_w.exp()
    return torch.where(w > 0, w * f, torch.zeros_like(f))


def jsd(x, log_p, log_q) -> float:
    """JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2, by the trapezoid rule on the
    sorted 1-D grid ``x`` (which must cover both supports). In nats; 0 <= JSD <= log 2."""
    x = _as_tensor(x).reshape(-1)
    lp, lq = _log_density(x, log_p), _log_density(x, log_q)
    lm = torch.logaddexp(lp, lq) - math.log(2.0)
    return _trapezoid(0.5 * _weighted(lp, lp - lm) + 0.5 * _weighted(lq, lq - lm), x)


def gan_value(x, log_p_data, log_p_g, discriminator: Callable | None = None) -> float:
    """V(G, D) = E_{p_data} log D + E_{p_g} log(1 - D) by the trapezoid rule on the 1-D grid ``x``;
    D is a callable giving D(x) in (0, 1), by default the optimal D* (then in log space:
    log D* = log p_data - log(p_data + p_g))."""
    x = _as_tensor(x).reshape(-1)
    lp, lq = _log_density(x, log_p_data), _log_density(x, log_p_g)
    if discriminator is None:
        ls = torch.logaddexp(lp, lq)
        log_d, log_1md = lp - ls, lq - ls
    else:
        d = _as_tensor(discriminator(x)).reshape(-1)
        log_d, log_1md = torch.log(d), torch.log1p(-d)
    return _trapezoid(_weighted(lp, log_d) + _weighted(lq, log_1md), x)


# ---------------------------------------------------------------------------------------------
# Frechet distance and the digits classifier
# ---------------------------------------------------------------------------------------------

def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance with n - 1) of ``features`` (n x f), in float64."""
    f = np.asarray(_as_tensor(features), dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (n, f) with n >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Frechet / 2-Wasserstein distance squared
    between N(mu1, S1) and N(mu2, S2); Heusel et al. 2017 use it on Inception features as FID).
    The matrix square root is scipy.linalg.sqrtm; its imaginary round-off is dropped."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64)), np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    covmean = _sqrtm(s1 @ s2)
    if covmean is None:  # singular product (e.g. dead features): regularize as the FID reference code does
        eps = 1e-6 * np.eye(s1.shape[0])
        covmean = _sqrtm((s1 + eps) @ (s2 + eps))
        if covmean is None:
            raise ValueError("the matrix square root of S1 S2 failed even after regularization")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _sqrtm(a: np.ndarray) -> np.ndarray | None:
    """Real part of scipy.linalg.sqrtm(a), or None when it is not finite or not a square root."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(a)
    root = np.real(root)
    if not np.isfinite(root).all():
        return None
    scale = max(np.abs(a).max(), 1e-300)
    if np.abs(root @ root - a).max() > 1e-6 * scale:
        return None
    return root


class DigitsClassifier(nn.Module):
    """A small MLP classifier of the bundled 8x8 digits at ``image_size`` (1 channel, [-1, 1]).

    pixels -> 128 ReLU -> 64 ReLU (the features for the Frechet distance) -> 10 logits.
    Trained full-batch with Adam (lr 3e-3, weight decay 1e-4, 300 steps) on a fixed 80% split
    (seed 0), deterministically (one thread); ``test_accuracy`` is measured on the other 20%. Build it with
    :func:`digits_classifier`, which caches one per image size per process.
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
    pred = probs.argmax(dim=1)
    p = torch.bincount(pred, minlength=10).double() / len(pred)
    nz = p > 0
    kl = float((p[nz] * torch.log(10 * p[nz])).sum())
    covered = int(((p >= min_fraction) & nz).sum())
    mu, sigma = gaussian_stats(clf.features(images))
    return {"classes": covered, "kl": kl, "confidence": float(probs.max(dim=1).values.mean()),
            "frechet": frechet_distance(mu, sigma, *clf.real_stats)}


# ---------------------------------------------------------------------------------------------
# FID / Inception Score through torch-fidelity (optional)
# ---------------------------------------------------------------------------------------------

def _fidelity():
    try:
        import torch_fidelity
    except ImportError as e:
        raise ImportError(
            "fid and inception_score need torch-fidelity, which is not installed (an optional extra): "
            "pip install torch-fidelity (or pip install 'equilib[images]'). It downloads Inception "
            "weights on first use, so run it on a connected machine; offline, use gan.metrics.digits_metrics"
        ) from e
    return torch_fidelity


class _Uint8Images(torch.utils.data.Dataset):
    """Images in [-1, 1] (n, c, h, w) as uint8 RGB tensors, the input torch-fidelity expects."""

    def __init__(self, images: Tensor):
        x = ((torch.as_tensor(images).detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        self.x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i]


def fid(generated, real, **options) -> float:
    """Frechet Inception Distance between two image batches in [-1, 1] (torch-fidelity)."""
    tf = _fidelity()
    out = tf.calculate_metrics(input1=_Uint8Images(generated), input2=_Uint8Images(real), fid=True,
                               verbose=False, **options)
    return float(out["frechet_inception_distance"])


def inception_score(generated, **options) -> tuple[float, float]:
    """Inception Score (mean, std over splits) of an image batch in [-1, 1] (torch-fidelity)."""
    tf = _fidelity()
    out = tf.calculate_metrics(input1=_Uint8Images(generated), isc=True, verbose=False, **options)
    return float(out["inception_score_mean"]), float(out["inception_score_std"])
