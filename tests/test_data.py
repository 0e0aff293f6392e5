"""Tests of zerolib.data: the loaders, image folders and their cache, errors, discretize.

The real benchmark files are read from the data root in `ZEROLIB_DATA` (the project
keeps them in ../shared/data); a test that needs one is skipped when it is absent.
`digits` is embedded in scikit-learn and always runs. Image folders are built here.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from zerolib import data as zdata
from zerolib.data import DataNotFoundError, Dataset, discretize, load_dataset

# name -> (train size, test size, C x H x W)
REAL = {
    "mnist": (60000, 10000, (1, 28, 28)),
    "fashion_mnist": (60000, 10000, (1, 28, 28)),
    "cifar10": (50000, 10000, (3, 32, 32)),
}


def require(name: str) -> Path:
    """The data root holding `name`'s file, or skip the test with the reason."""
    root = zdata.data_root()
    if root is None:
        pytest.skip("ZEROLIB_DATA is not set (point it at ../shared/data)")
    sources = [f"{name}.npz", f"{name}.zip", name, zdata._TORCHVISION[name][1]]
    if not any((root / s).exists() for s in sources):
        pytest.skip(f"none of {', '.join(sources)} is in ZEROLIB_DATA={root}")
    return root


def assert_stratified(y_sample: torch.Tensor, y_population: torch.Tensor):
    """Each class holds its share of the sample, within one image."""
    classes, counts = torch.unique(y_population, return_counts=True)
    share = counts.double() * len(y_sample) / len(y_population)
    got = torch.tensor([(y_sample == c).sum().item() for c in classes], dtype=torch.double)
    assert torch.all((got - share).abs() < 1), (got.tolist(), share.tolist())


# ------------------------------------------------------------------------------------
# The real datasets


def check_dataset(d: Dataset, n_train: int, n_test: int, shape: tuple, n_classes: int):
    assert d.x_train.shape == (n_train, *shape) and d.x_test.shape == (n_test, *shape)
    assert d.y_train.shape == (n_train,) and d.y_test.shape == (n_test,)
    assert d.x_train.dtype == d.x_test.dtype == torch.float32
    assert d.y_train.dtype == d.y_test.dtype == torch.int64
    for x in (d.x_train, d.x_test):
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    for y in (d.y_train, d.y_test):
        assert int(y.min()) >= 0 and int(y.max()) < n_classes
    assert len(d.classes) == n_classes and all(isinstance(c, str) for c in d.classes)


@pytest.mark.parametrize("name", list(REAL))
def test_real_dataset_full_and_class_subset(name):
    require(name)
    n_train, n_test, shape = REAL[name]
    d = load_dataset(name)
    check_dataset(d, n_train, n_test, shape, 10)
    assert d.name == name
    assert float(d.x_train.max()) == 1.0 or name == "cifar10"  # mnist-likes reach 255
    assert torch.bincount(d.y_train, minlength=10).min() > 0
    if name == "cifar10":
        assert d.classes == list(zdata.CIFAR10_CLASSES)
        assert torch.bincount(d.y_test).tolist() == [1000] * 10

    # subset given by index and name, relabelled in the order given
    sub = load_dataset(name, classes=[3, d.classes[1]])
    assert sub.classes == [d.classes[3], d.classes[1]]
    for x_full, y_full, x_sub, y_sub in ((d.x_train, d.y_train, sub.x_train, sub.y_train),
                                         (d.x_test, d.y_test, sub.x_test, sub.y_test)):
        assert set(y_sub.tolist()) == {0, 1}
        assert torch.equal(x_sub[y_sub == 0], x_full[y_full == 3])
        assert torch.equal(x_sub[y_sub == 1], x_full[y_full == 1])


@pytest.mark.parametrize("name", list(REAL))
def test_real_dataset_subsample_and_flatten(name):
    require(name)
    *_, shape = REAL[name]
    a = load_dataset(name, n_train=200, n_test=50, seed=1, flatten=True)
    b = load_dataset(name, n_train=200, n_test=50, seed=1, flatten=True)
    c = load_dataset(name, n_train=200, n_test=50, seed=2, flatten=True)
    check_dataset(a, 200, 50, (math.prod(shape),), 10)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    full = load_dataset(name)
    assert_stratified(a.y_train, full.y_train)
    assert_stratified(a.y_test, full.y_test)


def test_real_dataset_by_path():
    root = require("mnist")
    if not (root / "mnist.npz").is_file():
        pytest.skip(f"mnist.npz is not in ZEROLIB_DATA={root}")
    d = load_dataset(root / "mnist.npz", n_train=10, n_test=10)
    assert d.name == "mnist" and d.x_train.shape == (10, 1, 28, 28)


# ------------------------------------------------------------------------------------
# digits: always available


def test_digits_shapes_and_fixed_split():
    d = load_dataset("digits", root="/nonexistent")  # needs no root
    check_dataset(d, 1347, 450, (1, 8, 8), 10)
    assert d.classes == [str(i) for i in range(10)]
    assert float(d.x_train.max()) == 1.0  # values are /16
    assert torch.allclose(d.x_train * 16, (d.x_train * 16).round())
    # the split is stratified and does not depend on seed
    e = load_dataset("digits", seed=123)
    assert torch.equal(d.x_test, e.x_test) and torch.equal(d.y_train, e.y_train)
    assert_stratified(d.y_test, torch.cat([d.y_train, d.y_test]))
    # train and test are disjoint and cover all 1797 images
    from sklearn.datasets import load_digits

    every = {tuple(r) for r in (load_digits().images / 16).reshape(-1, 64).round(6).tolist()}
    ours = torch.cat([d.x_train, d.x_test]).reshape(-1, 64).double().numpy().round(6)
    assert {tuple(r) for r in ours.tolist()} == every


def test_digits_options():
    d = load_dataset("digits", classes=["7", 2], n_train=100, n_test=20, seed=5, flatten=True)
    assert d.classes == ["7", "2"]
    assert d.x_train.shape == (100, 64) and d.x_test.shape == (20, 64)
    full = load_dataset("digits")
    kept = full.y_train[(full.y_train == 7) | (full.y_train == 2)]
    assert_stratified(d.y_train, (kept == 2).long())  # 7 -> 0, 2 -> 1
    sevens = full.x_train[full.y_train == 7].reshape(-1, 64)
    # every kept "7" (label 0) is one of the training 7s
    assert all((sevens == row).all(1).any() for row in d.x_train[d.y_train == 0])
    e = load_dataset("digits", classes=["7", 2], n_train=100, seed=6)
    assert not torch.equal(d.x_train, e.x_train.reshape(100, -1))


# ------------------------------------------------------------------------------------
# Image folders built here (a tmp cache dir, so the user's cache is untouched)


CLASSES = ["cat", "ant", "bee"]  # loads sorted: ant, bee, cat
N_PER = {"train": 4, "test": 2}


def pixel(split: str, cls: str, i: int) -> tuple[int, int, int]:
    return (10 * CLASSES.index(cls) + i, 100 + (split == "test"), 200 + i)


def make_folder(base: Path, mode: str = "RGB", size=(6, 5)) -> Path:
    from PIL import Image

    for split, n in N_PER.items():
        for cls in CLASSES:
            (base / split / cls).mkdir(parents=True)
            for i in range(n):
                colour = pixel(split, cls, i)
                Image.new(mode, size, colour[0] if mode == "L" else colour).save(
                    base / split / cls / f"{i:03d}.png")
    (base / "train" / "README.txt").write_text("not an image: ignored")
    return base


def make_zip(folder: Path, dest: Path, top: str = "") -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, top + p.relative_to(folder).as_posix())
    return dest


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("ZEROLIB_CACHE", str(path))
    return path


def check_tiny(d: Dataset, channels: int = 3):
    assert d.classes == ["ant", "bee", "cat"]
    assert d.x_train.shape == (12, channels, 5, 6) and d.x_test.shape == (6, channels, 5, 6)
    assert d.y_train.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert d.y_test.tolist() == [0, 0, 1, 1, 2, 2]
    for split, x, n in (("train", d.x_train, 4), ("test", d.x_test, 2)):
        for row, (cls, i) in enumerate((c, i) for c in d.classes for i in range(n)):
            want = torch.tensor(pixel(split, cls, i)[:channels], dtype=torch.float32) / 255
            assert torch.equal(x[row], want[:, None, None].expand(channels, 5, 6))


def test_image_folder_by_path_and_by_name(tmp_path, cache, monkeypatch):
    folder = make_folder(tmp_path / "tiny")
    check_tiny(load_dataset(folder))
    check_tiny(load_dataset(str(folder) + "/"))
    check_tiny(load_dataset("tiny", root=tmp_path))
    monkeypatch.setenv("ZEROLIB_DATA", str(tmp_path))
    d = load_dataset("tiny", classes=["cat", "ant"], n_train=4, flatten=True)
    assert d.name == "tiny" and d.classes == ["cat", "ant"] and d.x_train.shape == (4, 90)
    assert torch.bincount(d.y_train).tolist() == [2, 2]


def test_image_folder_zip_by_path_and_by_name(tmp_path, cache):
    folder = make_folder(tmp_path / "src")
    root = tmp_path / "root"
    root.mkdir()
    check_tiny(load_dataset(make_zip(folder, root / "tiny.zip")))
    check_tiny(load_dataset("tiny", root=root))
    # a zip whose images sit inside one top folder loads the same
    wrapped = make_zip(folder, tmp_path / "wrapped.zip", top="wrapped/")
    with zipfile.ZipFile(wrapped, "a") as zf:
        zf.writestr("README.md", "not an image: ignored")
        zf.writestr("__MACOSX/wrapped/train/ant/._000.png", b"resource fork junk")
    check_tiny(load_dataset(wrapped))


def test_image_folder_grey_and_mode_of_first_image(tmp_path, cache):
    from PIL import Image

    folder = make_folder(tmp_path / "grey", mode="L")
    check_tiny(load_dataset(folder), channels=1)
    # a colour image among grey ones is converted to grey (the first image decides)
    Image.new("RGB", (6, 5), (255, 255, 255)).save(folder / "test" / "cat" / "001.png")
    d = load_dataset(folder)
    assert d.x_test.shape == (6, 1, 5, 6) and float(d.x_test[-1].min()) == 1.0


def test_image_folder_cifar10_keeps_official_class_order(tmp_path, cache):
    from PIL import Image

    for split in ("train", "test"):
        for cls in zdata.CIFAR10_CLASSES:
            (tmp_path / "cifar10" / split / cls).mkdir(parents=True)
            Image.new("RGB", (4, 4)).save(tmp_path / "cifar10" / split / cls / "0.png")
    d = load_dataset("cifar10", root=tmp_path)
    assert d.classes == list(zdata.CIFAR10_CLASSES)  # (the official order is alphabetical)
    assert d.y_train.tolist() == list(range(10))


def test_zip_cache_is_written_and_read(tmp_path, cache, monkeypatch):
    src = make_zip(make_folder(tmp_path / "src"), tmp_path / "tiny.zip")
    first = load_dataset(src)
    files = list((cache / "imagefolder").glob("tiny-*.npz"))
    assert len(files) == 1

    # the second load must not decode: make any decode fail
    import PIL.Image

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded an image although the cache holds it")

    with monkeypatch.context() as m:
        m.setattr(PIL.Image, "open", no_decode)
        second = load_dataset(src)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(first, field), getattr(second, field))
    assert first.classes == second.classes

    # a changed source is decoded again, and its stale cache file replaced
    make_folder(tmp_path / "src2", size=(3, 3))
    make_zip(tmp_path / "src2", src)
    os.utime(src, ns=(1_000_000_000, 1_000_000_000))
    assert load_dataset(src).x_train.shape == (12, 3, 3, 3)
    files = list((cache / "imagefolder").glob("tiny-*.npz"))
    assert len(files) == 1


def test_directory_cache_notices_a_changed_file(tmp_path, cache, monkeypatch):
    from PIL import Image

    folder = make_folder(tmp_path / "tiny")
    load_dataset(folder)
    assert len(list((cache / "imagefolder").glob("tiny-*.npz"))) == 1
    Image.new("RGB", (6, 5), (7, 7, 7)).save(folder / "train" / "ant" / "000.png")
    os.utime(folder / "train" / "ant" / "000.png", ns=(1_000_000_000, 1_000_000_000))
    assert float(load_dataset(folder).x_train[0, 0, 0, 0]) == pytest.approx(7 / 255)


def test_unwritable_cache_only_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file, so no folder can be made under it")
    monkeypatch.setenv("ZEROLIB_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="ZEROLIB_CACHE"):
        check_tiny(load_dataset(make_folder(tmp_path / "tiny")))


def test_image_folder_errors(tmp_path, cache):
    from PIL import Image

    folder = make_folder(tmp_path / "sizes")
    Image.new("RGB", (7, 5)).save(folder / "test" / "bee" / "001.png")
    with pytest.raises(ValueError, match=r"test/bee/001\.png is 7x5 .* share one size"):
        load_dataset(folder)

    folder = make_folder(tmp_path / "corrupt")
    (folder / "train" / "cat" / "002.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot decode image train/cat/002\.png"):
        load_dataset(folder)

    folder = make_folder(tmp_path / "notest")
    for p in sorted((folder / "test").rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    with pytest.raises(ValueError, match=r"no images under test/"):
        load_dataset(folder)

    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK but not really a zip")
    with pytest.raises(ValueError, match=r"bad\.zip: not a readable zip"):
        load_dataset(bad_zip)

    folder = make_folder(tmp_path / "cifar10")
    with pytest.raises(ValueError, match=r"cifar10 needs the classes airplane"):
        load_dataset(folder)


# ------------------------------------------------------------------------------------
# The torchvision source (a tiny fake MNIST/raw in IDX format; no download)


def write_idx(path: Path, array: np.ndarray):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_copy_under_root(tmp_path):
    pytest.importorskip("torchvision")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x_tr, x_te = rng.integers(0, 256, (20, 28, 28)), rng.integers(0, 256, (10, 28, 28))
    y_tr, y_te = np.arange(20) % 10, np.arange(10)
    write_idx(raw / "train-images-idx3-ubyte", x_tr)
    write_idx(raw / "train-labels-idx1-ubyte", y_tr)
    write_idx(raw / "t10k-images-idx3-ubyte", x_te)
    write_idx(raw / "t10k-labels-idx1-ubyte", y_te)
    d = load_dataset("mnist", root=tmp_path)
    assert d.x_train.shape == (20, 1, 28, 28) and d.classes == [str(i) for i in range(10)]
    assert torch.equal(d.x_train[:, 0] * 255, torch.from_numpy(x_tr).float())
    assert d.y_train.tolist() == y_tr.tolist() and d.y_test.tolist() == y_te.tolist()


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    tvd = pytest.importorskip("torchvision.datasets")

    class Offline:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno network")

    monkeypatch.setattr(tvd, "MNIST", Offline)
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist", root=tmp_path, download=True)
    message = str(info.value)
    assert "\n" not in message and "could not download" in message and "mnist.npz" in message


# ------------------------------------------------------------------------------------
# Errors


def test_unknown_name(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROLIB_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet21k'.*digits, mnist"):
        load_dataset("imagenet21k")
    with pytest.raises(ValueError):
        load_dataset("")


def test_empty_root_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROLIB_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "\n" not in message
    for part in ("ZEROLIB_DATA", str(tmp_path), "mnist.npz", "mnist/", "mnist.zip",
                 "MNIST/raw", "download=True"):
        assert part in message, part
    with pytest.raises(DataNotFoundError, match=r"cifar10\.npz.*cifar-10-batches-py"):
        load_dataset("cifar10")


def test_root_unset_message(monkeypatch):
    monkeypatch.delenv("ZEROLIB_DATA", raising=False)
    assert zdata.data_root() is None
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("fashion_mnist")
    message = str(info.value)
    assert "\n" not in message
    assert "set the environment variable ZEROLIB_DATA" in message
    assert "fashion_mnist.npz" in message


def test_missing_path(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no such file or directory"):
        load_dataset(tmp_path / "nothing.zip")


def save_npz(path: Path, **arrays) -> Path:
    full = dict(x_train=np.zeros((6, 4, 4), np.uint8), y_train=np.arange(6) % 2,
                x_test=np.zeros((2, 4, 4), np.uint8), y_test=np.arange(2))
    full.update(arrays)
    np.savez(path, **{k: v for k, v in full.items() if v is not None})
    return path


@pytest.mark.parametrize("arrays, problem", [
    (dict(y_test=None), r"missing array\(s\) y_test"),
    (dict(x_train=np.zeros((6, 16), np.uint8)), r"x_train has shape \(6, 16\)"),
    (dict(x_train=np.zeros((6, 4, 4), np.float32)), r"x_train has dtype float32"),
    (dict(y_train=np.arange(5)), r"x_train has 6 images but y_train 5 labels"),
    (dict(y_test=np.array([0, 10])), r"y_test has labels 0\.\.10, expected 0\.\.9"),
    (dict(y_train=np.full(6, -1)), r"y_train has labels -1"),
    (dict(x_test=np.zeros((2, 5, 5), np.uint8)), r"train images are .* but test images"),
])
def test_corrupt_npz(tmp_path, arrays, problem):
    path = save_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(ValueError, match=problem) as info:
        load_dataset("mnist", root=tmp_path)
    assert str(path) in str(info.value)


def test_npz_that_is_not_an_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"mnist\.npz: not a readable \.npz"):
        load_dataset("mnist", root=tmp_path)


def test_custom_npz_by_name_channels_last_and_keras_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 4, 5, 3)).astype(np.uint8)
    save_npz(tmp_path / "mine.npz", x_train=x, x_test=x[:2], y_train=np.arange(6)[:, None] % 3)
    d = load_dataset("mine", root=tmp_path)
    assert d.x_train.shape == (6, 3, 4, 5) and d.classes == ["0", "1", "2"]
    assert torch.equal(d.x_train * 255, torch.from_numpy(x).permute(0, 3, 1, 2).float())


def test_bad_options():
    with pytest.raises(ValueError, match=r"n_train=2000 but digits has only 1347 training"):
        load_dataset("digits", n_train=2000)
    with pytest.raises(ValueError, match=r"n_test=100 but digits has only"):
        load_dataset("digits", classes=[0], n_test=100)
    with pytest.raises(ValueError, match=r"n_train must be a positive integer"):
        load_dataset("digits", n_train=0)
    with pytest.raises(ValueError, match=r"digits has no class 'seven'"):
        load_dataset("digits", classes=["seven"])
    with pytest.raises(ValueError, match=r"no class index 10"):
        load_dataset("digits", classes=[10])
    with pytest.raises(ValueError, match=r"given twice"):
        load_dataset("digits", classes=[1, "1"])


# ------------------------------------------------------------------------------------
# discretize

GRID = np.linspace(0, 1, 1001)


def test_discretize_p2_is_identity():
    x = torch.rand(3, 5, dtype=torch.float64)
    assert torch.equal(discretize(x, 2), x)
    assert np.array_equal(discretize(GRID, 2.0), GRID)


@pytest.mark.parametrize("p", [float("inf"), "inf", math.inf])
def test_discretize_inf_binarises(p):
    out = discretize(GRID, p)
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert np.array_equal(out, (GRID >= 0.5).astype(float))
    assert discretize(torch.tensor([0.0, 0.4999, 0.5, 1.0]), p).tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("p", [0.5, 1, 2, 3, 8, 100])
def test_discretize_monotone_with_fixed_points(p):
    out = discretize(GRID, p)
    assert np.all(np.diff(out) >= 0)
    assert discretize(np.array([0.0, 0.5, 1.0]), p).tolist() == pytest.approx([0, 0.5, 1])
    assert out.min() >= 0 and out.max() <= 1


def test_discretize_larger_p_saturates_more():
    dist = {p: np.abs(discretize(GRID, p) - 0.5) for p in (2, 3, 8, 100, math.inf)}
    assert np.all(dist[3] >= np.abs(GRID - 0.5) - 1e-12)
    for small, big in ((2, 3), (3, 8), (8, 100), (100, math.inf)):
        assert np.all(dist[big] >= dist[small] - 1e-12), (small, big)
    assert np.all(np.abs(discretize(GRID, 1) - 0.5) <= np.abs(GRID - 0.5) + 1e-12)


def test_discretize_keeps_input_and_type():
    x_np = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    x_t = torch.from_numpy(x_np.copy())
    before_np, before_t = x_np.copy(), x_t.clone()
    for p in (1, 2, 4, "inf"):
        out_np, out_t = discretize(x_np, p), discretize(x_t, p)
        assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
        assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
        assert out_np is not x_np and out_t is not x_t
        np.testing.assert_allclose(out_np, out_t.numpy(), rtol=0, atol=1e-6)
    assert np.array_equal(x_np, before_np) and torch.equal(x_t, before_t)
    assert isinstance(discretize(0.25, 4), float)
    assert discretize(torch.tensor([0, 1]), 4).dtype == torch.get_default_dtype()


@pytest.mark.parametrize("p", [0, -1, -math.inf, float("nan"), "abc", None, True])
def test_discretize_bad_p(p):
    with pytest.raises(ValueError, match="p must be a positive number"):
        discretize(np.array([0.5]), p)
