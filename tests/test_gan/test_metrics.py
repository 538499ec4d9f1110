"""Metrics: mixture protocol on hand-made samples, KDE vs scipy, D* and JSD, Frechet closed forms, digits."""

import math
import sys

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch import nn

import gan
from gan import metrics as gm
from gan.data import load_dataset

RING = load_dataset("ring")


def test_ring_all_modes():
    x = RING.means.repeat(2500 // 8 + 1, 1)[:2500]
    m = gm.mixture_metrics(x, RING.means, RING.std)
    assert m == {"modes": 8, "high_quality": 1.0, "kl": pytest.approx(0.0, abs=2e-5)}
    # exactly uniform counts give KL 0 exactly
    assert gm.mixture_metrics(RING.means.repeat(10, 1), RING.means, RING.std)["kl"] == pytest.approx(0.0, abs=1e-12)


def test_ring_one_mode():
    x = RING.means[3].repeat(2500, 1) + 0.005 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    m = gm.mixture_metrics(x, RING.means, RING.std)
    assert m["modes"] == 1 and m["high_quality"] == 1.0
    assert m["kl"] == pytest.approx(math.log(8))


def test_ring_off_mode_points_and_threshold():
    on = RING.means.repeat(2, 1)                      # 16 samples, 2 per mode
    off = torch.zeros(16, 2)                          # the centre: distance 1 = 100 std from every mean
    m = gm.mixture_metrics(torch.cat([on, off]), RING.means, RING.std)
    assert m["modes"] == 8 and m["high_quality"] == 0.5 and m["kl"] == pytest.approx(0.0, abs=1e-12)
    # 2.9 std away counts, 3.1 std does not
    mu = RING.means[0]
    inside = mu + torch.tensor([0.0, 0.029])
    outside = RING.means[1] + torch.tensor([0.031, 0.0])
    m = gm.mixture_metrics(torch.stack([inside, outside]), RING.means, RING.std)
    assert m["modes"] == 1 and m["high_quality"] == 0.5
    # nothing of high quality: no modes, KL undefined -> inf
    m = gm.mixture_metrics(off, RING.means, RING.std)
    assert m["modes"] == 0 and m["high_quality"] == 0.0 and m["kl"] == math.inf


def test_kl_of_an_uneven_histogram():
    x = torch.stack([RING.means[0]] * 3 + [RING.means[1]])   # p = (3/4, 1/4, 0, ...)
    m = gm.mixture_metrics(x, RING.means, RING.std)
    assert m["modes"] == 2
    assert m["kl"] == pytest.approx(0.75 * math.log(8 * 0.75) + 0.25 * math.log(8 * 0.25))


def test_grid_metrics():
    grid = load_dataset("grid")
    x = grid.sample(2500, torch.Generator().manual_seed(1))
    m = gm.mixture_metrics(x, grid.means, grid.std)
    # a 2-D Gaussian is within 3 std with probability 1 - exp(-9/2) = 0.9889
    assert m["modes"] == 25 and m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert m["kl"] < 0.02
    with pytest.raises(ValueError, match="samples must be"):
        gm.mixture_metrics(torch.zeros(5, 3), grid.means, grid.std)


@pytest.mark.parametrize("d", [1, 2])
def test_kde_matches_scipy(d):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, d, generator=gen, dtype=torch.float64) @ torch.tensor([[1.0, 0.3], [0.0, 0.5]],
                                                                                 dtype=torch.float64)[:d, :d]
    pts = torch.randn(50, d, generator=gen, dtype=torch.float64)
    ref = stats.gaussian_kde(x.numpy().T)(pts.numpy().T)
    np.testing.assert_allclose(gm.kde(x.squeeze(1) if d == 1 else x, pts.squeeze(1) if d == 1 else pts).numpy(),
                               ref, rtol=1e-9)


def test_kde_fixed_bandwidth_hand_computed():
    p = gm.kde(torch.tensor([-1.0, 1.0]), torch.tensor([0.0]), bandwidth=0.5)
    assert p.item() == pytest.approx(stats.norm.pdf(1.0, 0.0, 0.5))
    p2 = gm.kde(torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([[0.0, 0.0]]), bandwidth=1.0)
    assert p2.item() == pytest.approx(0.5 * (1 + math.exp(-2)) / (2 * math.pi))


P_DATA = load_dataset("gaussian1d", means=(-2.0, 1.0, 3.0), std=0.6, weights=(0.5, 0.3, 0.2))


def log_normal(mu, s):
    return lambda x: torch.as_tensor(stats.norm.logpdf(np.asarray(x), mu, s))


def test_optimal_discriminator_formula():
    x = torch.linspace(-4, 4, 9, dtype=torch.float64)
    lq = log_normal(0.5, 1.5)
    d = gm.optimal_discriminator(x, P_DATA.log_prob, lq)
    p, q = P_DATA.log_prob(x).exp(), lq(x).exp()
    torch.testing.assert_close(d, p / (p + q))


@pytest.mark.parametrize("mu,s", [(0.5, 1.5), (-2.0, 0.6), (8.0, 0.5)])
def test_value_at_optimal_discriminator_is_minus_log4_plus_2jsd(mu, s):
    """V(G, D*) = -log 4 + 2 JSD, with V integrated by scipy.integrate.quad (adaptive) and JSD by
    the trapezoid rule on a 40,001-point grid: they agree to 1e-6."""
    lq = log_normal(mu, s)
    grid = torch.linspace(-12, 14, 20001, dtype=torch.float64)
    j = gm.jsd(grid, P_DATA.log_prob, lq)

    def log_norm(t, m, sd):
        return -0.5 * ((t - m) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))

    def integrand(t):  # p log(p / (p + q)) + q log(q / (p + q)), in log space, plain math
        lp = np.logaddexp.reduce([math.log(w) + log_norm(t, m, 0.6) for w, m in ((0.5, -2.0), (0.3, 1.0), (0.2, 3.0))])
        lq_t = log_norm(t, mu, s)
        ls = np.logaddexp(lp, lq_t)
        return math.exp(lp) * (lp - ls) + math.exp(lq_t) * (lq_t - ls)

    pts = [-2.0, 1.0, 3.0, mu]
    v = sum(integrate.quad(integrand, a, b, limit=200)[0] for a, b in zip([-12] + sorted(pts), sorted(pts) + [14]))
    assert v == pytest.approx(-math.log(4) + 2 * j, abs=1e-6)
    assert gm.gan_value(grid, P_DATA.log_prob, lq) == pytest.approx(v, abs=1e-6)
    assert 0 <= j <= math.log(2)
    if mu == 8.0:  # nearly disjoint supports: JSD -> log 2, V -> 0
        assert j == pytest.approx(math.log(2), abs=1e-4)
    # D* is the maximizer: any other discriminator gives a lower value
    other = lambda t: 0.9 * gm.optimal_discriminator(t, P_DATA.log_prob, lq) + 0.05  # noqa: E731
    assert gm.gan_value(grid, P_DATA.log_prob, lq, other) < v


def test_jsd_of_identical_distributions_is_zero():
    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    assert gm.jsd(grid, P_DATA.log_prob, P_DATA.log_prob) == pytest.approx(0.0, abs=1e-12)
    assert gm.gan_value(grid, P_DATA.log_prob, P_DATA.log_prob) == pytest.approx(-math.log(4), abs=1e-8)


class Affine(nn.Module):
    """G(z) = b + a z: p_g = N(b, a^2)."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor(a)), nn.Parameter(torch.tensor(b))

    def forward(self, z):
        return self.b + self.a * z


class OptimalD(nn.Module):
    """logit D*(x) = log p_data(x) - log p_g(x), so sigma(logit) = D*."""

    def __init__(self, mu, s):
        super().__init__()
        self.mu, self.s = mu, s
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x):
        lq = -0.5 * ((x[:, 0] - self.mu) / self.s) ** 2 - math.log(self.s * math.sqrt(2 * math.pi))
        return self.w * (P_DATA.log_prob(x[:, 0]).float() - lq)


def test_gan_game_minimax_value_at_optimal_discriminator():
    """Monte Carlo V(G, D*) from GANGame's minimax loss (200,000 samples each) vs -log 4 + 2 JSD by
    quadrature: agree within 0.01 (about 4 standard errors)."""
    mu, s = 0.5, 1.5
    game = gan.GANGame(Affine(s, mu), OptimalD(mu, s), loss="minimax", latent_dim=1)
    real = P_DATA.sample(200_000, torch.Generator().manual_seed(0))
    v_mc = game.losses(real, game.latent(200_000, torch.Generator().manual_seed(1)))["G"].item()
    grid = torch.linspace(-12, 14, 20001, dtype=torch.float64)
    j = gm.jsd(grid, P_DATA.log_prob, log_normal(mu, s))
    assert v_mc == pytest.approx(-math.log(4) + 2 * j, abs=0.01)


def test_frechet_distance_closed_forms():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert gm.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # diagonal: |dmu|^2 + sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    want = 1 + 4 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert gm.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want)
    # S1 = I, S2 full: Tr(I + S2 - 2 S2^(1/2)) = sum (1 - sqrt(l))^2 over the eigenvalues l of S2
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 5))
    S2 = A @ A.T + 0.1 * np.eye(5)
    lam = np.linalg.eigvalsh(S2)
    assert gm.frechet_distance(np.zeros(5), np.eye(5), np.zeros(5), S2) == pytest.approx(((1 - np.sqrt(lam)) ** 2).sum())
    # general: symmetric form Tr(S1 + S2 - 2 (S1^(1/2) S2 S1^(1/2))^(1/2)) via eigendecompositions
    B = rng.normal(size=(5, 5))
    S1 = B @ B.T + 0.1 * np.eye(5)
    w, V = np.linalg.eigh(S1)
    r1 = V @ np.diag(np.sqrt(w)) @ V.T
    w2 = np.linalg.eigvalsh(r1 @ S2 @ r1)
    want = np.trace(S1) + np.trace(S2) - 2 * np.sqrt(w2).sum()
    assert gm.frechet_distance(np.zeros(5), S1, np.zeros(5), S2) == pytest.approx(want, rel=1e-9)
    # singular covariances (dead features) are handled
    assert gm.frechet_distance([0, 0], [[1, 0], [0, 0]], [1, 0], [[4, 0], [0, 0]]) == pytest.approx(2.0)
    # from samples of two Gaussians, the estimate approaches the closed form
    x = rng.normal(size=(20000, 2)) * [1.0, 2.0]
    y = rng.normal(size=(20000, 2)) * [3.0, 1.0] + [1.0, 0.0]
    est = gm.frechet_distance(*gm.gaussian_stats(x), *gm.gaussian_stats(y))
    assert est == pytest.approx(1 + (1 - 3) ** 2 + (2 - 1) ** 2, rel=0.03)


def test_digits_classifier_and_metrics():
    clf = gm.digits_classifier(16)
    assert clf is gm.digits_classifier(16)              # cached per process
    assert clf.test_accuracy > 0.93
    digits = load_dataset("digits")
    real = gm.digits_metrics(digits.images[::3])
    assert real["classes"] == 10 and real["kl"] < 0.02
    noise = torch.rand(600, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad = gm.digits_metrics(noise)
    assert bad["frechet"] > 100 * real["frechet"] and bad["confidence"] < real["confidence"] - 0.2
    threes = digits.images[digits.labels == 3]
    one = gm.digits_metrics(threes)
    assert one["classes"] == 1 and one["kl"] > 0.9 * math.log(10)   # nearly all mass on one class
    # a class needs 1% of the samples to count: one sample of another digit is not coverage
    mixed = torch.cat([threes[:150], digits.images[digits.labels == 7][:1]])
    assert gm.digits_metrics(mixed)["classes"] == 1
    assert gm.digits_metrics(mixed, min_fraction=0.0)["classes"] >= 2  # the 7 (and any misread 3)
    assert np.argmax(np.bincount(clf.predict(threes).numpy())) == 3
    with pytest.raises(ValueError, match="digits classifier takes images of shape"):
        gm.digits_metrics(torch.zeros(4, 3, 16, 16))


def test_fid_needs_torch_fidelity(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    with pytest.raises(ImportError, match="pip install torch-fidelity"):
        gm.fid(torch.zeros(2, 3, 16, 16), torch.zeros(2, 3, 16, 16))
    with pytest.raises(ImportError, match="digits_metrics"):
        gm.inception_score(torch.zeros(2, 3, 16, 16))


def test_trained_discriminator_approaches_the_optimal_one():
    """Goodfellow et al. (2014), Prop. 1: for fixed G, the discriminator trained on GANGame's minimax
    loss approaches D* = p_data / (p_data + p_g). After 400 Adam steps (batch 512, ~1.5 s) on the
    default 1-D mixture against p_g = N(0.5, 1.5^2): mean |D - D*| weighted by p_data + p_g < 0.03,
    and V(G, D) is below V(G, D*) = -log 4 + 2 JSD by less than 0.02 (both by quadrature)."""
    data = load_dataset("gaussian1d")
    torch.manual_seed(0)
    D = gan.models.MLPDiscriminator(1, hidden=32, depth=2, activation="tanh")
    game = gan.GANGame(Affine(1.5, 0.5), D, loss="minimax", latent_dim=1)
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    batches, noise = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    for _ in range(400):
        opt.zero_grad()
        game.loss_fn(game.params, data.sample(512, batches), game.latent(512, noise))["D"].backward()
        opt.step()
    lq = log_normal(0.5, 1.5)
    x = torch.linspace(-4, 4, 161, dtype=torch.float64)
    with torch.no_grad():
        d = torch.sigmoid(D(x.float()[:, None])).double()
    w = data.log_prob(x).exp() + lq(x).exp()
    err = ((d - gm.optimal_discriminator(x, data.log_prob, lq)).abs() * w).sum() / w.sum()
    assert err < 0.03
    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    with torch.no_grad():
        v = gm.gan_value(grid, data.log_prob, lq, lambda t: torch.sigmoid(D(t.float()[:, None])).double())
    v_star = -math.log(4) + 2 * gm.jsd(grid, data.log_prob, lq)
    assert 0 < v_star - v < 0.02


def test_mode_coverage_histogram_and_kl_closed_forms():
    """Classifier-agnostic: the histogram of given mode indices against KL(p || U_k) from scipy."""
    m = gm.mode_coverage(torch.tensor([0, 0, 0, 1]), 8)
    assert m["modes"] == 2 and m["counts"].tolist() == [3, 1, 0, 0, 0, 0, 0, 0]
    assert m["kl"] == pytest.approx(stats.entropy([0.75, 0.25] + [0] * 6, np.full(8, 1 / 8)), rel=1e-12)
    assert m["kl"] == pytest.approx(0.75 * math.log(6) + 0.25 * math.log(2), rel=1e-12)
    one = gm.mode_coverage(torch.full((50,), 371), 1000)
    assert one["modes"] == 1 and one["kl"] == pytest.approx(math.log(1000), abs=1e-12)
    ten = gm.mode_coverage(torch.arange(10).repeat(7) * 97, 1000)
    assert ten["modes"] == 10 and ten["kl"] == pytest.approx(math.log(100), abs=1e-12)
    even = gm.mode_coverage(torch.arange(1000).repeat(3), 1000)
    assert even["modes"] == 1000 and even["kl"] == pytest.approx(0.0, abs=1e-12)
    # random histogram against scipy
    a = torch.randint(0, 30, (500,), generator=torch.Generator().manual_seed(0)) % 17
    p = np.bincount(a.numpy(), minlength=40) / 500
    assert gm.mode_coverage(a, 40)["kl"] == pytest.approx(stats.entropy(p, np.full(40, 1 / 40)), rel=1e-10)
    # min_fraction: 1 of 101 samples (0.99%) is below 1%, 2 of 102 is above
    few = torch.tensor([5] * 100 + [6])
    assert gm.mode_coverage(few, 10, min_fraction=0.01)["modes_min_fraction"] == 1
    assert gm.mode_coverage(torch.tensor([5] * 100 + [6, 6]), 10, min_fraction=0.01)["modes_min_fraction"] == 2
    assert gm.mode_coverage(few, 10)["modes_min_fraction"] == 2
    assert gm.kl_from_uniform([0, 0, 0]) == math.inf and gm.kl_from_uniform([2, 2]) == 0.0
    with pytest.raises(ValueError, match=r"mode indices in 0..9, got values in 0..10"):
        gm.mode_coverage(torch.tensor([0, 10]), 10)
    with pytest.raises(ValueError, match="integer mode indices"):
        gm.mode_coverage(torch.tensor([0.5]), 10)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1"):
        gm.mode_coverage(torch.tensor([0]), 0)
    with pytest.raises(ValueError, match=r"min_fraction must be a number in \[0, 1\]"):
        gm.mode_coverage(torch.tensor([0]), 2, min_fraction=-0.1)


def test_public_names_survive_the_split_into_modules():
    """gan.metrics became a package (mixtures, modes, densities, frechet, digits, stacked_digits, images,
    fidelity): every name the single module exported is still importable from gan.metrics."""
    old = ["mixture_metrics", "kde", "optimal_discriminator", "jsd", "gan_value", "frechet_distance",
           "gaussian_stats", "DigitsClassifier", "digits_classifier", "digits_metrics", "fid", "inception_score"]
    assert set(old) <= set(gm.__all__)
    for name in gm.__all__:
        assert hasattr(gm, name), name
    from gan.metrics import digits, mixtures

    assert gm.mixture_metrics is mixtures.mixture_metrics and gm.digits_classifier is digits.digits_classifier
