"""Models: DCGAN structure and parameter counts, shapes, gradients, minibatch discrimination, spectral norm."""

import math

import pytest
import torch
from torch import nn

from gan import models as M


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_dcgan_parameter_counts_match_the_pytorch_example():
    """The PyTorch DCGAN example at 64x64, nz 100, ngf = ndf = 64, 3 channels."""
    assert count(M.DCGANGenerator(100, 64, 3, width=64)) == 3_576_704
    assert count(M.DCGANDiscriminator(64, 3, width=64)) == 2_765_568


@pytest.mark.parametrize("size", M.SUPPORTED_IMAGE_SIZES)
def test_dcgan_shapes_and_gradients(size):
    torch.manual_seed(0)
    G, D = M.DCGANGenerator(8, size, 3, width=8), M.DCGANDiscriminator(size, 3, width=8)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, 3, size, size) and G.output_shape == D.input_shape == (3, size, size)
    assert x.abs().max() <= 1.0  # tanh output
    out = D(x)
    assert out.shape == (4,)
    out.sum().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_dcgan_architecture():
    G, D = M.DCGANGenerator(100, 64, 3), M.DCGANDiscriminator(64, 3)
    g_layers = list(G.net)
    convs = [m for m in g_layers if isinstance(m, nn.ConvTranspose2d)]
    bns = [m for m in g_layers if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 5 and len(bns) == 4            # BN after every layer but the last
    assert [c.stride[0] for c in convs] == [1, 2, 2, 2, 2] and all(c.bias is None for c in convs)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    d_layers = list(D.features)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)  # no BN on the input
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d_layers) == 3
    # N(0, 0.02) weights and N(1, 0.02) BatchNorm gains (statistical check on ~2M draws / 1920 gains)
    w = torch.cat([c.weight.flatten() for c in convs])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.02)
    gains = torch.cat([b.weight for b in bns])
    assert gains.mean().item() == pytest.approx(1.0, abs=3e-3) and gains.std().item() == pytest.approx(0.02, rel=0.1)


def test_unsupported_image_size_lists_supported():
    for bad in (28, 128):
        with pytest.raises(ValueError, match=r"image_size 28|image_size 128") as e:
            M.DCGANGenerator(10, bad, 1)
        assert "[16, 32, 64]" in str(e.value)
    with pytest.raises(ValueError, match=r"supported sizes: \[16, 32, 64\]"):
        M.build_models("dcgan", (1, 28, 28), 10)


def test_mlp_shapes_depth_and_gradients():
    G = M.MLPGenerator(4, 2, hidden=16, depth=3, activation="tanh")
    D = M.MLPDiscriminator(2, hidden=16, depth=2)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 4
    assert sum(isinstance(m, nn.Linear) for m in D.modules()) == 3
    assert sum(isinstance(m, nn.Tanh) for m in G.modules()) == 3
    x = G(torch.randn(7, 4))
    assert x.shape == (7, 2) and D(x).shape == (7,)
    D(x).sum().backward()
    for p in [*G.parameters(), *D.parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        M.MLPGenerator(4, 2, activation="swish")


def test_minibatch_discrimination_hand_computed():
    layer = M.MinibatchDiscrimination(1, kernels=1, kernel_dim=1)
    with torch.no_grad():
        layer.T.fill_(1.0)
    f = torch.tensor([[0.0], [1.0], [3.0]])
    out = layer(f)
    e = math.exp
    expected = torch.tensor([[0.0, e(-1) + e(-3)], [1.0, e(-1) + e(-2)], [3.0, e(-3) + e(-2)]])
    torch.testing.assert_close(out, expected)
    # two kernels with an L1 distance over kernel_dim = 2
    layer = M.MinibatchDiscrimination(1, kernels=2, kernel_dim=2)
    with torch.no_grad():
        layer.T.copy_(torch.tensor([[1.0, 2.0, 0.5, 0.0]]))  # M_i = f_i * [[1, 2], [0.5, 0]]
    out = layer(torch.tensor([[0.0], [1.0]]))
    torch.testing.assert_close(out[:, 1:], torch.tensor([[e(-3), e(-0.5)], [e(-3), e(-0.5)]]))


@pytest.mark.parametrize("model,shape", [("mlp", (2,)), ("dcgan", (1, 16, 16))])
def test_minibatch_discrimination_couples_the_batch(model, shape):
    torch.manual_seed(0)
    _, D = M.build_models(model, shape, 4, minibatch_discrimination=True, **({"width": 8} if model == "dcgan" else {}))
    D.eval()  # BatchNorm off: only the minibatch layer couples samples
    x = torch.randn(5, *shape)
    y = x.clone()
    y[1:] += 1.0
    out_x, out_y = D(x), D(y)
    assert out_x.shape == (5,)
    assert not torch.allclose(out_x[0], out_y[0])
    _, D_plain = M.build_models(model, shape, 4, **({"width": 8} if model == "dcgan" else {}))
    D_plain.eval()
    torch.testing.assert_close(D_plain(x)[0], D_plain(y)[0])


@pytest.mark.parametrize("model,shape", [("mlp", (2,)), ("dcgan", (3, 16, 16))])
def test_spectral_norm_normalizes_every_layer(model, shape):
    torch.manual_seed(0)
    _, D = M.build_models(model, shape, 4, spectral_norm=True, **({"width": 8} if model == "dcgan" else {}))
    layers = [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        for m in layers:
            w = m.parametrizations.weight.original
            w.copy_(3.0 * torch.randn_like(w))  # operator norms far from 1
    x = torch.randn(8, *shape)
    for _ in range(30):  # power iterations, one per forward in train mode
        D(x)
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    for m in layers:
        w = m.weight.reshape(m.weight.shape[0], -1)
        raw = m.parametrizations.weight.original.reshape(w.shape[0], -1)
        assert torch.linalg.matrix_norm(w, 2).item() == pytest.approx(1.0, abs=1e-2)
        assert abs(torch.linalg.matrix_norm(raw, 2).item() - 1.0) > 0.1  # not normalized by construction


def test_build_models_checks():
    G, D = M.build_models("mlp", (2,), 16, hidden=32, depth=2)
    assert G.latent_dim == 16 and G.output_shape == (2,) and D.input_shape == (2,)
    G, D = M.build_models("mlp", (2,), 8, g_hidden=8, d_hidden=24)
    assert G.net[0].out_features == 8 and D.features[0].out_features == 24
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; known models: \['mlp', 'dcgan'\]"):
        M.build_models("resnet", (2,), 8)
    with pytest.raises(ValueError, match=r"flat data of shape \(d,\), got data_shape \(1, 16, 16\)"):
        M.build_models("mlp", (1, 16, 16), 8)
    with pytest.raises(ValueError, match=r"square images"):
        M.build_models("dcgan", (2,), 8)
    with pytest.raises(ValueError, match=r"does not take option\(s\) \['widht'\]"):
        M.build_models("dcgan", (1, 16, 16), 8, widht=8)
    with pytest.raises(ValueError, match="hidden must be an integer >= 1"):
        M.build_models("mlp", (2,), 8, hidden=0)
