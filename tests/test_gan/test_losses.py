"""GAN losses: values at known inputs (hand-computed), gradients, penalties."""

import math

import pytest
import torch

from gan import losses as L

R = [0.0, 2.0]   # d_real
F = [-1.0, 2.0]  # d_fake


def sig(t):
    return 1.0 / (1.0 + math.exp(-t))


def mean(xs):
    return sum(xs) / len(xs)


def _t(v):
    return torch.tensor(v, dtype=torch.float64)


def bce_d(s):
    """BCE(d_real, 1 - s) + BCE(d_fake, 0) written with log sigma, not softplus."""
    real = mean([-((1 - s) * math.log(sig(r)) + s * math.log(1 - sig(r))) for r in R])
    fake = mean([-math.log(1 - sig(f)) for f in F])
    return real + fake


def test_loss_names_and_lookup():
    assert L.LOSSES == ("minimax", "nonsaturating", "wgan-gp", "hinge", "lsgan")
    assert L.get_loss("Hinge").__wrapped__ is L.hinge
    with pytest.raises(ValueError, match=r"unknown loss 'wgan'.*'minimax', 'nonsaturating', 'wgan-gp', 'hinge', 'lsgan'"):
        L.get_loss("wgan")


@pytest.mark.parametrize("s", [0.0, 0.1])
def test_minimax_values(s):
    g, d = L.minimax(_t(R), _t(F), s)
    assert d.item() == pytest.approx(bce_d(s), abs=1e-12)
    assert g.item() == pytest.approx(-bce_d(s), abs=1e-12)
    # s = 0: L_G is the value V = E log D(x) + E log(1 - D(G(z)))
    if s == 0:
        v = mean([math.log(sig(r)) for r in R]) + mean([math.log(1 - sig(f)) for f in F])
        assert g.item() == pytest.approx(v, abs=1e-12)


@pytest.mark.parametrize("s", [0.0, 0.1])
def test_nonsaturating_values(s):
    g, d = L.nonsaturating(_t(R), _t(F), s)
    assert g.item() == pytest.approx(mean([-math.log(sig(f)) for f in F]), abs=1e-12)
    assert d.item() == pytest.approx(bce_d(s), abs=1e-12)
    # decimal check of the s = 0 discriminator loss: (log 2 + log(1+e^-2))/2 + (log(1+e^-1) + log(1+e^2))/2
    if s == 0:
        assert d.item() == pytest.approx(0.410038 + 1.220095, abs=1e-6)


def test_wgan_hinge_lsgan_values():
    g, d = L.wgan(_t(R), _t(F))
    assert (g.item(), d.item()) == (-0.5, -0.5)          # -E f; E f - E r = 0.5 - 1
    g, d = L.hinge(_t(R), _t(F))
    assert (g.item(), d.item()) == (-0.5, 2.0)           # relu(1 - r) = (1, 0); relu(1 + f) = (0, 3)
    g, d = L.lsgan(_t(R), _t(F))
    assert g.item() == pytest.approx(1.25)               # ((-2)^2 + 1^2) / 2 / 2
    assert d.item() == pytest.approx(0.5 + 1.25)         # (1 + 1)/2/2 + (1 + 4)/2/2
    g, d = L.lsgan(_t(R), _t(F), 0.1)
    assert d.item() == pytest.approx(0.5 * mean([0.81, 1.21]) + 1.25)


@pytest.mark.parametrize("name", ["wgan-gp", "hinge"])
def test_smoothing_rejected_where_meaningless(name):
    with pytest.raises(ValueError, match="label_smoothing"):
        L.get_loss(name)(_t(R), _t(F), 0.1)


def test_saturation():
    """At d_fake = -10 the minimax generator gradient vanishes (sigma(-10)/n); non-saturating's is about -1/n."""
    f = torch.full((4,), -10.0, dtype=torch.float64, requires_grad=True)
    r = torch.zeros(4, dtype=torch.float64)
    (gm,) = torch.autograd.grad(L.minimax(r, f)[0], f)
    (gn,) = torch.autograd.grad(L.nonsaturating(r, f)[0], f)
    torch.testing.assert_close(gm, torch.full_like(f, -sig(-10) / 4))      # d/df [-softplus(f)] / n
    torch.testing.assert_close(gn, torch.full_like(f, -(1 - sig(-10)) / 4))  # d/df softplus(-f) / n


@pytest.mark.parametrize("name", L.LOSSES)
def test_shapes_and_gradients(name):
    fn = L.get_loss(name)
    gen = torch.Generator().manual_seed(0)
    r = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    f = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    g, d = fn(r, f)
    assert g.shape == () and d.shape == ()
    # analytic gradients agree with finite differences, for both players' losses
    assert torch.autograd.gradcheck(lambda a, b: fn(a, b)[0], (r, f))
    assert torch.autograd.gradcheck(lambda a, b: fn(a, b)[1], (r, f))
    # the generator's loss does not depend on the real scores except in the zero-sum minimax
    (gr,) = torch.autograd.grad(g, r, allow_unused=True, materialize_grads=True)
    assert (gr.abs().sum() > 0) == (name == "minimax")


def test_gradient_penalty_values():
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    linear = lambda x: x @ w  # noqa: E731  grad = w, |w| = 5
    real = torch.randn(6, 2, dtype=torch.float64)
    fake = torch.randn(6, 2, dtype=torch.float64)
    assert L.gradient_penalty(linear, real, fake, torch.rand(6)).item() == pytest.approx(16.0)
    quad = lambda x: 0.5 * x.pow(2).sum(1)  # noqa: E731  grad = x_hat
    real = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    fake = torch.zeros(1, 2, dtype=torch.float64)
    # x_hat = 0.25 * (2, 0) = (0.5, 0): (0.5 - 1)^2
    assert L.gradient_penalty(quad, real, fake, torch.tensor([0.25])).item() == pytest.approx(0.25)


def test_gradient_penalty_differentiable_in_fake():
    quad = lambda x: (x.pow(3)).sum(1)  # noqa: E731
    real = torch.randn(3, 2, dtype=torch.float64)
    fake = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    eps = torch.rand(3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: L.gradient_penalty(quad, real, f, eps), (fake,))


def test_r1_penalty_value_and_gradient():
    sq = lambda x: x.pow(2).sum(1)  # noqa: E731  grad = 2x
    x = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    assert L.r1_penalty(sq, x).item() == pytest.approx(4 * mean([5.0, 1.0]))
    # differentiable in the discriminator's parameters: D(x) = a * |x|^2 -> penalty 4 a^2 E|x|^2
    a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    p = L.r1_penalty(lambda y: a * y.pow(2).sum(1), x)
    (ga,) = torch.autograd.grad(p, a)
    assert ga.item() == pytest.approx(8 * 1.5 * 3.0)
