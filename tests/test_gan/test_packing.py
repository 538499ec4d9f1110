"""PacGAN packing (Lin et al. 2018): the discriminator scores groups of m consecutive samples stacked
along the channels, checked against the inner discriminator applied to hand-made groups and against
closed-form penalties of a linear discriminator."""

import pytest
import torch
from torch import nn

import equilib as eq
import gan
from gan import losses as L
from gan import training as T
from gan.game import GANGame
from gan.packing import PackedDiscriminator
from gan.run_state import load_run


@pytest.mark.parametrize("model, shape", [("dcgan", (3, 16, 16)), ("mlp", (2,))])
def test_packed_score_is_the_inner_score_of_the_stacked_group(model, shape):
    torch.manual_seed(0)
    options = {"width": 8} if model == "dcgan" else {"hidden": 8, "depth": 2}
    _, D = gan.build_models(model, shape, 4, pack=3, **options)
    D.eval()  # batch norm with running statistics: every group is scored on its own
    x = torch.randn(6, *shape)
    groups = [torch.cat([x[3 * k + j] for j in range(3)], dim=0)[None] for k in range(2)]
    want = torch.cat([D.inner(g).reshape(1) for g in groups])
    torch.testing.assert_close(D(x), want, rtol=1e-5, atol=1e-6)  # batched vs one-row rounding only
    assert D.input_shape == shape and D.inner.input_shape == (3 * shape[0], *shape[1:])


def test_pack_1_is_the_plain_discriminator():
    torch.manual_seed(0)
    _, plain = gan.build_models("dcgan", (1, 16, 16), 4, width=8)
    torch.manual_seed(0)
    _, one = gan.build_models("dcgan", (1, 16, 16), 4, width=8, pack=1)
    assert type(one) is type(plain) and not isinstance(one, PackedDiscriminator)
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), one.parameters()))


class _Linear(nn.Module):
    """D(group) = <w, flattened group>: its input gradient is w for every group."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)
        self.input_shape = (w.numel(),)

    def forward(self, x):
        return x.reshape(x.shape[0], -1) @ self.w


def test_gradient_penalties_are_per_group():
    torch.manual_seed(0)
    w = torch.randn(4, dtype=torch.float64)
    D = PackedDiscriminator(_Linear(w), (2,), 2)
    x = torch.randn(6, 2, dtype=torch.float64)
    # R1: E over groups of ||grad D||^2 = ||w||^2 (per sample it would be half on average)
    assert torch.allclose(L.r1_penalty(D, x, pack=2), w.pow(2).sum())
    # WGAN-GP: (||w|| - 1)^2 for every group
    gp = L.gradient_penalty(D, x, torch.randn(6, 2, dtype=torch.float64), torch.rand(6, dtype=torch.float64), pack=2)
    assert torch.allclose(gp, (w.norm() - 1) ** 2)
    G = nn.Linear(3, 2).double()
    G.latent_dim, G.output_shape = 3, (2,)
    game = GANGame(G, D, r1=2.0)
    z = torch.randn(6, 3, dtype=torch.float64)
    without = GANGame(G, D)
    # the game's R1 term: r1 / 2 * ||w||^2 on top of the unpenalized loss
    extra = game.loss_fn(game.params, x, z)["D"] - without.loss_fn(without.params, x, z)["D"]
    assert torch.allclose(extra, w.pow(2).sum())


def test_a_batch_that_does_not_split_into_packs_is_refused():
    _, D = gan.build_models("mlp", (2,), 4, hidden=8, depth=1, pack=4)
    G, _ = gan.build_models("mlp", (2,), 4, hidden=8, depth=1)
    game = GANGame(G, D)
    with pytest.raises(eq.GameError, match=r"packs of 4 \(pack\)"):
        game.check_batch(torch.randn(6, 2))
    with pytest.raises(ValueError, match="packs of 4"):
        D(torch.randn(6, 2))


@pytest.mark.parametrize("pack", [0, -1, True, 1.5, "2"])
def test_bad_pack_is_refused_naming_it(pack):
    with pytest.raises(ValueError, match="pack must be an integer >= 1"):
        gan.build_models("mlp", (2,), 4, pack=pack)


def test_gan_train_with_pack_trains_a_packed_discriminator(tmp_path):
    run = T.train(data="ring", width=8, depth=1, latent_dim=4, batch_size=32, eval_samples=200, progress=False,
                  steps=3, eval_every=3, model_options={"pack": 2}, out=str(tmp_path / "run"))
    built, step, _ = load_run(run)
    assert step == 3 and built.game.pack == 2 and built.D.inner.input_shape == (4,)
    with pytest.raises(Exception, match=r"batch_size 30 does not split into the discriminator's packs of 4"):
        T.train(data="ring", width=8, depth=1, batch_size=30, steps=1, progress=False,
                model_options={"pack": 4}, out=str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()
