"""Data sets: mixtures and their densities, digits, the MNIST/CIFAR/folder readers on files the tests write."""

import gzip
import math
import pickle
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from gan import data as gd
from gan.data import DataError, DatasetNotFoundError, load_dataset


def test_ring_means_std_and_sampling():
    ring = load_dataset("ring")
    assert ring.kind == "mixture" and ring.shape == (2,) and ring.std == 0.01
    k = torch.arange(8, dtype=torch.float64)
    expected = torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], 1).float()
    torch.testing.assert_close(ring.means, expected)
    x = ring.sample(8000, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and x.shape == (8000, 2)
    d = torch.cdist(x, ring.means)
    nearest = d.argmin(1)
    counts = torch.bincount(nearest, minlength=8).float() / 8000
    assert (counts - 1 / 8).abs().max() < 0.02
    resid = x - ring.means[nearest]
    assert resid.std().item() == pytest.approx(0.01, rel=0.05)
    big = load_dataset("ring", radius=2.0, std=0.02)
    torch.testing.assert_close(big.means, 2 * expected)
    assert big.std == 0.02


def test_grid_means():
    grid = load_dataset("grid")
    assert grid.std == 0.05 and grid.means.shape == (25, 2)
    want = {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(int(v) for v in m) for m in grid.means.tolist()} == want
    assert torch.equal(grid.means, grid.means.round())


def test_sampling_is_reproducible():
    ring = load_dataset("ring")
    a = ring.sample(10, torch.Generator().manual_seed(3))
    b = ring.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, ring.sample(10, torch.Generator().manual_seed(4)))


def test_log_prob_matches_scipy():
    mix = load_dataset("gaussian1d", means=(-1.0, 0.5, 3.0), std=0.7, weights=(0.2, 0.5, 0.3))
    x = torch.linspace(-5, 7, 101)
    ref = sum(w * stats.norm.pdf(x.numpy(), m, 0.7) for w, m in zip((0.2, 0.5, 0.3), (-1.0, 0.5, 3.0)))
    np.testing.assert_allclose(mix.log_prob(x).exp().numpy(), ref, rtol=1e-6)
    ring = load_dataset("ring", std=0.3)
    pts = torch.randn(20, 2)
    ref = np.mean([stats.multivariate_normal.pdf(pts.numpy(), m, 0.09 * np.eye(2)) for m in ring.means.numpy()], 0)
    np.testing.assert_allclose(ring.log_prob(pts).exp().numpy(), ref, rtol=1e-6)
    # a density: integrates to 1
    grid = torch.linspace(-8, 10, 20001, dtype=torch.float64)
    assert torch.trapezoid(mix.log_prob(grid).exp(), grid).item() == pytest.approx(1.0, abs=1e-8)


def test_digits():
    d = load_dataset("digits")
    assert d.kind == "images" and d.shape == (1, 16, 16) and len(d) == 1797
    assert d.images.min() >= -1 and d.images.max() <= 1
    assert sorted(d.labels.unique().tolist()) == list(range(10))
    from sklearn.datasets import load_digits

    raw = load_digits()
    d8 = load_dataset("digits", image_size=8)
    torch.testing.assert_close(d8.images[:, 0], torch.tensor(raw.images, dtype=torch.float32) / 8 - 1)
    x = d.sample(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 1, 16, 16)


# ---- MNIST idx files ----------------------------------------------------------------------------

def write_idx(path, array, gz=False):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    blob = header + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        blob = gzip.compress(blob)
    path.write_bytes(blob)


def mnist_files(folder, n=3, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        images[i, i, :] = 255  # image i: row i white
    labels = np.arange(n, dtype=np.uint8)
    write_idx(folder / "train-images-idx3-ubyte", images, gz)
    write_idx(folder / "train-labels-idx1-ubyte", labels, gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_reader(tmp_path, gz):
    images, labels = mnist_files(tmp_path / "MNIST" / "raw", gz=gz)
    d = load_dataset("mnist", root=tmp_path, image_size=28)
    assert d.shape == (1, 28, 28) and len(d) == 3 and d.labels.tolist() == [0, 1, 2]
    torch.testing.assert_close(d.images[:, 0], torch.tensor(images, dtype=torch.float32) / 127.5 - 1)
    d32 = load_dataset("mnist", root=tmp_path)
    assert d32.shape == (1, 32, 32) and d32.images.min() >= -1 and d32.images.max() <= 1


def test_fashion_mnist_layout_and_truncated_file(tmp_path):
    mnist_files(tmp_path / "FashionMNIST" / "raw")
    assert load_dataset("fashion-mnist", root=tmp_path, image_size=16).shape == (1, 16, 16)
    f = tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated"):
        load_dataset("fashion-mnist", root=tmp_path)
    f.write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(DataError, match="not an IDX file"):
        gd.read_idx(f)


def test_cifar10_pickle_reader(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for b in range(1, 6):
        data = np.zeros((2, 3072), dtype=np.uint8)
        data[0, :1024] = 255          # image 0: red plane full
        data[1, 2048:] = 255          # image 1: blue plane full
        with open(folder / f"data_batch_{b}", "wb") as f:
            pickle.dump({b"data": data, b"labels": [b, 9 - b]}, f)
    d = load_dataset("cifar10", root=tmp_path)
    assert d.shape == (3, 32, 32) and len(d) == 10
    assert d.labels.tolist() == [1, 8, 2, 7, 3, 6, 4, 5, 5, 4]
    red, blue = d.images[0], d.images[1]
    assert (red[0] == 1).all() and (red[1:] == -1).all()
    assert (blue[2] == 1).all() and (blue[:2] == -1).all()
    assert load_dataset("cifar10", root=tmp_path, image_size=16).shape == (3, 16, 16)


def test_image_folder_reader(tmp_path):
    from PIL import Image

    colours = {"a": [(255, 0, 0), (0, 255, 0)], "b": [(0, 0, 255)]}
    for cls, cs in colours.items():
        (tmp_path / cls).mkdir()
        for i, c in enumerate(cs):
            Image.new("RGB", (40, 24), c).save(tmp_path / cls / f"{i}.png")
    Image.new("RGB", (20, 20), (255, 255, 255)).save(tmp_path / "b" / "x.jpg", quality=100)
    d = load_dataset("folder", root=tmp_path, image_size=16)
    assert d.shape == (3, 16, 16) and len(d) == 4
    assert d.labels.tolist() == [0, 0, 1, 1]
    means = d.images.mean(dim=(2, 3))
    torch.testing.assert_close(means[0], torch.tensor([1.0, -1.0, -1.0]))   # a/0.png red
    torch.testing.assert_close(means[1], torch.tensor([-1.0, 1.0, -1.0]))   # a/1.png green
    torch.testing.assert_close(means[2], torch.tensor([-1.0, -1.0, 1.0]))   # b/0.png blue
    assert (means[3] > 0.98).all()                                          # b/x.jpg white (JPEG)
    gray = load_dataset("folder", root=tmp_path, image_size=16, channels=1)
    assert gray.shape == (1, 16, 16)


@pytest.mark.parametrize("name,expected", [
    ("mnist", "train-images-idx3-ubyte"), ("fashion-mnist", "train-images-idx3-ubyte"),
    ("cifar10", "cifar-10-batches-py/data_batch_1"), ("folder", "*.png"),
])
def test_missing_data_set_error(tmp_path, name, expected):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset(name, root=tmp_path / "nowhere")
    msg = str(e.value)
    assert expected in msg and str(tmp_path / "nowhere") in msg and "never downloads" in msg
    if name != "folder":
        assert "connected machine" in msg
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, ValueError)
    with pytest.raises(DataError, match="pass root="):
        load_dataset(name)


def test_missing_torchvision_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision -> ImportError
    with pytest.raises(DataError, match=r"pip install torch==\d+\.\d+\.\d+ torchvision==0\.\d+") as e:
        load_dataset("mnist", root=tmp_path, backend="torchvision")
    assert "backend='builtin'" in str(e.value)


def test_bad_names_and_options():
    with pytest.raises(DataError, match=r"unknown data set 'cifar100'; known data sets: \['gaussian1d', 'ring', "
                                        r"'grid', 'digits', 'stacked-digits', 'mnist', 'fashion-mnist', 'cifar10', "
                                        r"'folder'\]"):
        load_dataset("cifar100")
    with pytest.raises(DataError, match=r"does not take option\(s\) \['radius'\]"):
        load_dataset("grid", radius=2)
    with pytest.raises(DataError, match="std must be a number > 0"):
        load_dataset("ring", std=0)
    with pytest.raises(DataError, match="image_size is for image data sets"):
        load_dataset("ring", image_size=16)
    with pytest.raises(DataError, match="backend must be"):
        load_dataset("mnist", root=".", backend="tf")


def test_test_splits(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    images = np.full((2, 28, 28), 255, dtype=np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([7, 1], dtype=np.uint8))
    d = load_dataset("mnist", root=tmp_path, image_size=16, train=False)
    assert d.labels.tolist() == [7, 1] and torch.allclose(d.images, torch.ones_like(d.images))
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset("mnist", root=tmp_path)  # the training files are not there
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 3072), dtype=np.uint8), b"labels": [0, 1, 2]}, f)
    c = load_dataset("cifar10", root=tmp_path, train=False)
    assert len(c) == 3 and bool((c.images == -1).all())


def test_folder_centre_crop_and_unreadable_file(tmp_path):
    from PIL import Image

    im = Image.new("RGB", (30, 10), (255, 0, 0))
    im.paste((0, 255, 0), (10, 0, 20, 10))   # middle third green
    im.paste((0, 0, 255), (20, 0, 30, 10))   # right third blue
    im.save(tmp_path / "wide.png")
    d = load_dataset("folder", root=tmp_path, image_size=16)
    torch.testing.assert_close(d.images[0].mean(dim=(1, 2)), torch.tensor([-1.0, 1.0, -1.0]))  # the centre: green
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        load_dataset("folder", root=tmp_path, image_size=16)


def test_public_names_survive_the_split_into_modules():
    """gan.data became a package (mixtures, images, stacked_digits, image_files, loading): every name
    the single module exported is still importable from gan.data and is the submodule's object."""
    from gan.data import image_files, images, loading, mixtures

    old = ["DATASETS", "DataError", "DatasetNotFoundError", "GaussianMixture", "ImageDataset", "load_dataset",
           "ring", "grid", "gaussian1d", "read_idx", "read_mnist", "read_cifar10", "read_image_folder",
           "load_digits", "DEFAULT_IMAGE_SIZE", "IMAGE_EXTENSIONS"]
    assert set(old) <= set(gd.__all__)
    for name in gd.__all__:
        assert hasattr(gd, name), name
    assert gd.ring is mixtures.ring and gd.read_idx is image_files.read_idx
    assert gd.load_digits is images.load_digits and gd.load_dataset is loading.load_dataset
