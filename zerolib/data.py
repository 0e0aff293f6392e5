"""Datasets as float tensors in [0, 1], found offline through one data-root setting.

    >>> from zerolib.data import load_dataset, discretize
    >>> d = load_dataset("mnist", classes=[0, 1], n_train=1000, seed=0)
    >>> d.x_train.shape, d.classes
    (torch.Size([1000, 1, 28, 28]), ['0', '1'])

Names: `digits` (scikit-learn's embedded 8x8 digits, needs no files), `mnist`,
`fashion_mnist`, `cifar10`, any other `<name>` whose files are in the data root,
or a path to an image-folder directory, a `.zip` of one, or a Keras-layout `.npz`.

The data root is the environment variable `ZEROLIB_DATA` (`root=` overrides it).
For a name, the sources are tried in this order:

1. `<root>/<name>.npz`: Keras layout, arrays `x_train` (N, H, W) or (N, H, W, C)
   uint8, `y_train` (N,) integers, `x_test`, `y_test`; optional `classes` (names);
2. `<root>/<name>/`: image folders `<split>/<class>/<image>`, split `train` and `test`;
3. `<root>/<name>.zip`: the same layout zipped (optionally inside one top folder);
4. torchvision's copy under the root (`MNIST/raw`, `FashionMNIST/raw`,
   `cifar-10-batches-py`), downloaded there only with `download=True`.

Image folders: classes sorted by name, except `cifar10`, whose labels follow the
official order `CIFAR10_CLASSES`; images sorted by file name within a class; all
images share one size; the first image decides grey (`L`) or colour (`RGB`) and
all are converted to that mode. Decoded folders and zips are cached as `.npz`
under `cache_dir()` (env `ZEROLIB_CACHE`, default `~/.cache/zerolib`), keyed by
the source's absolute path, size and modification time (for a directory: of
every file in it), so only the first load pays for decoding.

`digits` has no official split: the test set is a fixed stratified quarter
(450 of 1797 images) drawn with `DIGITS_SPLIT_SEED`, whatever `seed` says.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from zerolib._io import atomic_write

__all__ = [
    "CIFAR10_CLASSES",
    "DATASETS",
    "DIGITS_SPLIT_SEED",
    "DataNotFoundError",
    "Dataset",
    "cache_dir",
    "data_root",
    "discretize",
    "load_dataset",
]

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
"""The datasets known by name; any other name is looked up in the data root."""

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGITS_SPLIT_SEED = 0
"""Seed of the fixed stratified 3/4 train, 1/4 test split of `digits`."""

_CLASS_NAMES = {
    "digits": tuple(str(i) for i in range(10)),
    "mnist": tuple(str(i) for i in range(10)),
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "cifar10": CIFAR10_CLASSES,
}
# name -> (torchvision class, the folder it keeps under the root)
_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw"),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
}
_ALIASES = {"fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist",
            "cifar-10": "cifar10", "cifar_10": "cifar10"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff",
                   ".webp", ".ppm", ".pgm", ".pbm"}
_SPLITS = ("train", "test")
_CACHE_VERSION = 1


@dataclass(repr=False)
class Dataset:
    """A train/test pair: `x_*` float32 in [0, 1], N x C x H x W (N x D when
    flattened); `y_*` int64 labels 0..k-1; `classes[label]` is the class name."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str] = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, x_train={tuple(self.x_train.shape)}, "
                f"x_test={tuple(self.x_test.shape)}, classes={self.classes!r})")


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not where they were looked for; the message, on one
    line, says what was looked for, where, and how to provide it."""


def data_root() -> Path | None:
    """The data root from the environment variable `ZEROLIB_DATA`, or None if unset."""
    value = os.environ.get("ZEROLIB_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where decoded image folders are cached: `ZEROLIB_CACHE`, else `~/.cache/zerolib`."""
    value = os.environ.get("ZEROLIB_CACHE", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "zerolib"


SUBSAMPLED = " after subsampling (ask for more rows)"


def _check_every_class(y, names, split: str, label: str, *, error: bool, note: str = "") -> None:
    """Every kept class has rows in ``split``: with ``error`` a class without rows is an
    error, else a warning (a silent empty class skews every accuracy)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(names))
    empty = [str(names[i]) for i in range(len(names)) if counts[i] == 0]
    if not empty:
        return
    msg = f"{label}: the {split} rows hold no image of class {', '.join(empty)}{note}"
    if error:
        raise ValueError(msg)
    warnings.warn(msg, stacklevel=3)


def load_dataset(
    name: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    classes: Sequence[int | str] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int | None = 0,
    flatten: bool = False,
    download: bool = False,
) -> Dataset:
    """Load a dataset by name (or by path) as float32 tensors in [0, 1].

    name:      `digits`, `mnist`, `fashion_mnist`, `cifar10`, another name with files
               in the data root, or a path to an image-folder directory, `.zip` or `.npz`
               (a string counts as a path when it holds a `/` or ends in `.zip`/`.npz`).
    root:      the data root; defaults to `data_root()` (env `ZEROLIB_DATA`).
    classes:   keep only these classes, given as label indices or class names, and
               relabel them 0..k-1 in the order given.
    n_train, n_test: a stratified random subsample of that many images (after the
               class subset), drawn with `seed`; rows keep their original order.
    flatten:   return N x D instead of N x C x H x W.
    download:  let torchvision download a missing mnist/fashion_mnist/cifar10 into the root.

    Raises DataNotFoundError when the files are missing and ValueError for an unknown
    name, a corrupt or malformed file, or bad options.
    """
    x_train, y_train, x_test, y_test, names, label = _load_raw(name, root, download)
    if classes is not None:
        keep = _class_indices(classes, names, label)
        x_train, y_train = _select_classes(x_train, y_train, keep)
        x_test, y_test = _select_classes(x_test, y_test, keep)
        names = [names[i] for i in keep]
    # a class the caller asked for must have rows; a class of the data's own list may lack some
    _check_every_class(y_train, names, "training", label, error=classes is not None)
    _check_every_class(y_test, names, "test", label, error=classes is not None)
    if n_train is not None:
        idx = _subsample_indices(y_train, n_train, "n_train", "training", label, seed, 0)
        x_train, y_train = x_train[idx], y_train[idx]
        _check_every_class(y_train, names, "training", label, error=False, note=SUBSAMPLED)
    if n_test is not None:
        idx = _subsample_indices(y_test, n_test, "n_test", "test", label, seed, 1)
        x_test, y_test = x_test[idx], y_test[idx]
        _check_every_class(y_test, names, "test", label, error=False, note=SUBSAMPLED)
    xs = [_to_float_tensor(x) for x in (x_train, x_test)]
    if flatten:
        xs = [x.reshape(len(x), -1) for x in xs]
    return Dataset(
        name=label,
        x_train=xs[0],
        y_train=torch.from_numpy(np.ascontiguousarray(y_train, dtype=np.int64)),
        x_test=xs[1],
        y_test=torch.from_numpy(np.ascontiguousarray(y_test, dtype=np.int64)),
        classes=list(names),
    )


def discretize(x, p):
    """Saturate intensities in [0, 1] towards 0 and 1 (paper A, section III-D):

        x_p = sign(2x - 1) * |2x - 1| ** (2 / p) / 2 + 1/2

    p = 2 is the identity (an exact copy); p > 2 pushes values away from 1/2,
    p < 2 pulls them towards it; 0, 1/2 and 1 are fixed points for finite p.
    p = inf (float("inf") or the string "inf") is a strict binarisation:
    x >= 0.5 -> 1, else 0 (so 1/2 maps to 1, where the formula would give 1/2).

    Takes a torch tensor or a numpy array (or a Python number) and returns the same
    type, float (integer input is promoted); the input is never modified.
    Raises ValueError for p <= 0 or p not a number.
    """
    p = _check_p(p)
    if isinstance(x, torch.Tensor):
        xf = x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if math.isinf(p):
            return (xf >= 0.5).to(xf.dtype)
        if p == 2:
            return xf.clone()
        d = 2 * xf - 1
        return torch.sign(d) * d.abs().pow(2 / p) / 2 + 0.5
    is_number = not isinstance(x, np.ndarray) and np.ndim(x) == 0
    arr = np.asarray(x)
    xf = arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)
    if math.isinf(p):
        out = (xf >= 0.5).astype(xf.dtype)
    elif p == 2:
        out = xf.copy()
    else:
        d = 2 * xf - 1
        out = (np.sign(d) * np.abs(d) ** (2 / p) / 2 + 0.5).astype(xf.dtype, copy=False)
    return float(out) if is_number else out


# --------------------------------------------------------------------------------------
# Finding the source


def _load_raw(name, root, download):
    """-> x_train, y_train, x_test, y_test, class names, dataset name.

    x arrays are N x C x H x W, uint8 (0..255) or float (already in [0, 1])."""
    if _is_path(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise DataNotFoundError(
                f"no such file or directory: {path} (load_dataset takes a dataset name "
                f"{', '.join(DATASETS)}, or a path to an image-folder directory "
                f"<split>/<class>/<image>, a .zip of one, or a Keras-layout .npz)")
        label = _canonical(path.stem if path.is_file() else path.name)
        return (*_load_path(path, label), label)

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"dataset name must be a non-empty string or a path, got {name!r}")
    label = _canonical(name.strip())
    if label == "digits":
        return (*_load_digits(), label)

    from_env = root is None
    root = data_root() if root is None else Path(root).expanduser()
    if root is not None:
        for path in (root / f"{label}.npz", root / label, root / f"{label}.zip"):
            if path.suffix in (".npz", ".zip") and path.is_file():
                return (*_load_path(path, label), label)
            if path.is_dir() and any((path / s).is_dir() for s in _SPLITS):
                return (*_load_path(path, label), label)
        if label in _TORCHVISION:
            found = _load_torchvision(label, root, download)
            if found is not None:
                return (*found, label)

    if label not in DATASETS:
        where = f"in the data root {root}" if root is not None else "and no data root is set"
        raise ValueError(
            f"unknown dataset {name!r} (no {label}.npz, {label}/ or {label}.zip {where}): the "
            f"known names are {', '.join(DATASETS)}; bring a dataset of your own as "
            f"{label}.npz (Keras layout), {label}/ or {label}.zip (image folders "
            f"<split>/<class>/<image>) in the data root (env ZEROLIB_DATA or root=), or pass "
            f"a path to a directory, .zip or .npz")
    raise DataNotFoundError(_not_found_message(label, root, from_env))


def _not_found_message(label, root, from_env):
    tv = label in _TORCHVISION
    files = (f"{label}.npz (Keras layout), {label}/ or {label}.zip (image folders "
             f"<split>/<class>/<image>)" + (f" or torchvision's {_TORCHVISION[label][1]}" if tv
                                             else ""))
    if root is None:
        fetch = " (or to any folder and pass download=True to fetch it with torchvision)"
        return (f"{label}: no data root is set; set the environment variable ZEROLIB_DATA "
                f"(or pass root=) to a folder that holds {files}{fetch if tv else ''}")
    fetch = ", or pass download=True to fetch it with torchvision"
    source = "ZEROLIB_DATA" if from_env else "root="
    if not root.is_dir():
        return (f"{label}: the data root {root} (from {source}) is not a directory; point "
                f"ZEROLIB_DATA (or root=) at a folder that holds {files}{fetch if tv else ''}")
    return (f"{label} not found in the data root {root} (from {source}): looked for {files}; "
            f"put one of them there or point ZEROLIB_DATA (or root=) at a folder that has one"
            f"{fetch if tv else ''}")


def _is_path(name) -> bool:
    if isinstance(name, os.PathLike):
        return True
    if not isinstance(name, str):
        return False
    seps = [os.sep] + ([os.altsep] if os.altsep else []) + ["/"]
    return any(s in name for s in seps) or name.lower().endswith((".zip", ".npz"))


def _canonical(name: str) -> str:
    low = name.lower()
    low = _ALIASES.get(low, low)
    return low if low in DATASETS else name


def _load_path(path: Path, label: str):
    if path.is_dir():
        return _load_image_folder(path, label)
    if path.suffix.lower() == ".npz":
        return _load_npz(path, label)
    if path.suffix.lower() == ".zip":
        return _load_image_folder(path, label)
    raise ValueError(f"{path}: not a directory, .zip or .npz; a dataset file must be an "
                     f"image-folder directory <split>/<class>/<image>, a .zip of one, or a "
                     f"Keras-layout .npz")


# --------------------------------------------------------------------------------------
# The sources


def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8, in [0, 1]
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test = _stratified_indices(y, math.ceil(len(y) / 4), rng)
    train = np.setdiff1d(np.arange(len(y)), test)
    return x[train], y[train], x[test], y[test], list(_CLASS_NAMES["digits"])


def _load_npz(path: Path, label: str):
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
            if missing:
                raise ValueError(
                    f"{path}: missing array(s) {', '.join(missing)}; a Keras-layout .npz holds "
                    f"x_train, y_train, x_test, y_test (it has {', '.join(f.files) or 'none'})")
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            names = [str(c) for c in f["classes"]] if "classes" in f.files else None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz ({_one_line(e)})") from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npz ({_one_line(e)})") from e

    xs, ys = [], []
    for split in _SPLITS:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8:
            raise ValueError(f"{path}: x_{split} has dtype {x.dtype}, expected uint8 (0..255)")
        x = _to_nchw(x, path, f"x_{split}")
        if y.ndim == 2 and y.shape[1] == 1:  # Keras' cifar10 has labels N x 1
            y = y[:, 0]
        if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
            raise ValueError(f"{path}: y_{split} has shape {y.shape} and dtype {y.dtype}, "
                             f"expected a 1-d integer array")
        if len(y) != len(x):
            raise ValueError(f"{path}: x_{split} has {len(x)} images but y_{split} "
                             f"{len(y)} labels")
        xs.append(x)
        ys.append(y.astype(np.int64))
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise ValueError(f"{path}: train images are {xs[0].shape[1:]} (C, H, W) but test "
                         f"images {xs[1].shape[1:]}")
    if names is None:
        names = _CLASS_NAMES.get(label)
        if names is None:
            top = max((int(y.max()) for y in ys if len(y)), default=-1)
            names = [str(i) for i in range(top + 1)]
    for split, y in zip(_SPLITS, ys):
        if len(y) and (y.min() < 0 or y.max() >= len(names)):
            raise ValueError(f"{path}: y_{split} has labels {y.min()}..{y.max()}, expected "
                             f"0..{len(names) - 1} ({len(names)} classes)")
    return xs[0], ys[0], xs[1], ys[1], list(names)


def _to_nchw(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    raise ValueError(f"{path}: {key} has shape {x.shape}, expected (N, H, W), (N, H, W, C) "
                     f"or (N, C, H, W) with C = 1 or 3")


def _load_torchvision(label: str, root: Path, download: bool):
    """The torchvision copy under the root, or None when absent and not downloading."""
    cls_name, folder = _TORCHVISION[label]
    if not (root / folder).is_dir() and not download:
        return None
    try:
        import torchvision.datasets as tvd
    except ImportError as e:
        raise DataNotFoundError(
            f"{label}: torchvision is not installed, so its copy under {root} cannot be "
            f"read; install torchvision, or put {label}.npz, {label}/ or {label}.zip in the "
            f"data root (ZEROLIB_DATA)") from e
    cls = getattr(tvd, cls_name)
    try:
        parts = [cls(root=str(root), train=train, download=download) for train in (True, False)]
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ...
        if download:
            raise DataNotFoundError(
                f"{label}: torchvision could not download it into {root} ({_one_line(e)}); "
                f"without internet put {label}.npz, {label}/ or {label}.zip in the data root "
                f"(ZEROLIB_DATA)") from e
        raise ValueError(
            f"{label}: torchvision's copy in {root / folder} cannot be read ({_one_line(e)}); "
            f"delete it and pass download=True, or put {label}.npz, {label}/ or {label}.zip "
            f"in the data root (ZEROLIB_DATA)") from e
    out = []
    for part in parts:
        data = part.data.numpy() if isinstance(part.data, torch.Tensor) else np.asarray(part.data)
        out += [_to_nchw(data.astype(np.uint8, copy=False), root / folder, "data"),
                np.asarray(part.targets, dtype=np.int64)]
    return (*out, list(_CLASS_NAMES[label]))


# --------------------------------------------------------------------------------------
# Image folders (directory or zip), with the decode cache


def _load_image_folder(path: Path, label: str):
    path = path.resolve()
    is_zip = path.is_file()
    if is_zip:
        st = path.stat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    else:
        key = f"{path}|{_hash(_dir_listing(path))}"
    cache = _cache_file(path, label, key)
    cached = _read_cache(cache, key)
    if cached is not None:
        return cached
    if is_zip:
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i.filename for i in zf.infolist() if not i.is_dir()]
                result = _decode_folder(members, zf.read, path, label)
        except zipfile.BadZipFile as e:
            raise ValueError(f"{path}: not a readable zip ({_one_line(e)})") from e
    else:
        members = _dir_listing(path, stats=False)
        result = _decode_folder(members, lambda m: (path / m).read_bytes(), path, label)
    _write_cache(cache, key, result)
    return result


def _decode_folder(members: list[str], read, source: Path, label: str):
    """Decode `<split>/<class>/<image>` members (optionally under one top folder)."""
    members = [m for m in members if Path(m).suffix.lower() in _IMAGE_SUFFIXES
               and not any(p.startswith((".", "__MACOSX")) for p in m.split("/"))]
    tops = {m.split("/")[0] for m in members}
    if not tops & set(_SPLITS) and len(tops) == 1:  # everything inside one top folder
        top = tops.pop() + "/"
        members = [m[len(top):] for m in members]
    else:
        top = ""
    files: dict[str, dict[str, list[str]]] = {s: {} for s in _SPLITS}
    for m in members:
        parts = m.split("/")
        if len(parts) != 3 or parts[0] not in _SPLITS:
            raise ValueError(f"{source}: image {top}{m} is not at <split>/<class>/<image> "
                             f"with split train or test")
        files[parts[0]].setdefault(parts[1], []).append(m)
    for split in _SPLITS:
        if not files[split]:
            raise ValueError(f"{source}: no images under {top}{split}/; an image-folder "
                             f"dataset has train/<class>/<image> and test/<class>/<image>")
    found = set(files["train"]) | set(files["test"])
    if label == "cifar10":
        if found != set(CIFAR10_CLASSES):
            raise ValueError(f"{source}: cifar10 needs the classes {' '.join(CIFAR10_CLASSES)}"
                             f", found {' '.join(sorted(found))}")
        names = list(CIFAR10_CLASSES)
    else:
        names = sorted(found)

    first = sorted(files["train"][names[0]] if names[0] in files["train"]
                   else files["train"][min(files["train"])])[0]
    with _open_image(read, first, source, top) as im:
        mode = "L" if im.mode in ("1", "L", "LA", "La", "I", "I;16", "F") else "RGB"
        size = im.size
    channels = 1 if mode == "L" else 3
    out = []
    for split in _SPLITS:
        ordered = [(label_, m) for label_, c in enumerate(names)
                   for m in sorted(files[split].get(c, []))]
        x = np.empty((len(ordered), channels, size[1], size[0]), dtype=np.uint8)
        y = np.fromiter((lab for lab, _ in ordered), dtype=np.int64, count=len(ordered))
        for i, (_, m) in enumerate(ordered):
            with _open_image(read, m, source, top) as im:
                if im.size != size:
                    raise ValueError(
                        f"{source}: image {top}{m} is {im.size[0]}x{im.size[1]} but the first "
                        f"image {top}{first} is {size[0]}x{size[1]}; all images of a dataset "
                        f"must share one size")
                a = np.asarray(im if im.mode == mode else im.convert(mode))
            x[i] = a[None] if channels == 1 else a.transpose(2, 0, 1)
        out += [x, y]
    return (*out, names)


def _open_image(read, member: str, source: Path, top: str):
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(read(top + member)))
        im.load()
        return im
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ...
        raise ValueError(f"{source}: cannot decode image {top}{member} "
                         f"({_one_line(e)})") from e


def _dir_listing(path: Path, stats: bool = True) -> list:
    """Relative posix paths of the files under `path` (with size and mtime if `stats`)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        rel = Path(dirpath).relative_to(path).as_posix()
        for f in sorted(filenames):
            m = f if rel == "." else f"{rel}/{f}"
            if stats:
                st = os.stat(os.path.join(dirpath, f))
                out.append((m, st.st_size, st.st_mtime_ns))
            else:
                out.append(m)
    return out


def _hash(obj: Any) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()


def _cache_file(path: Path, label: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)[:40]
    return (cache_dir() / "imagefolder" /
            f"{safe}-{_hash(str(path))[:12]}-{_hash(key)[:12]}.npz")


def _read_cache(cache: Path, key: str):
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as f:
            if str(f["key"]) != key or int(f["version"]) != _CACHE_VERSION:
                return None
            return (f["x_train"], f["y_train"], f["x_test"], f["y_test"],
                    [str(c) for c in f["classes"]])
    except Exception:  # a damaged cache file is rebuilt, never an error
        return None


def _write_cache(cache: Path, key: str, result) -> None:
    x_train, y_train, x_test, y_test, names = result

    def write(tmp):
        with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to a name
            np.savez(fh, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                     classes=np.array(names, dtype=str), key=np.array(key),
                     version=np.array(_CACHE_VERSION))

    try:
        atomic_write(cache, write)
        prefix = cache.name.rsplit("-", 1)[0] + "-"
        for old in cache.parent.glob(prefix + "*.npz"):  # stale versions of this source
            if old != cache:
                old.unlink(missing_ok=True)
    except OSError as e:
        warnings.warn(f"zerolib.data: could not write the decode cache {cache} "
                      f"({_one_line(e)}); set ZEROLIB_CACHE to a writable folder",
                      stacklevel=3)


# --------------------------------------------------------------------------------------
# Class subsets, subsamples, conversion


def _class_indices(classes, names: list[str], label: str) -> list[int]:
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    keep = []
    for c in classes:
        if isinstance(c, str):
            if c not in names:
                raise ValueError(f"{label} has no class {c!r}; its classes are "
                                 f"{', '.join(map(repr, names))} (or give label indices "
                                 f"0..{len(names) - 1})")
            i = names.index(c)
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            i = int(c)
            if not 0 <= i < len(names):
                raise ValueError(f"{label} has no class index {i}; indices run "
                                 f"0..{len(names) - 1}")
        else:
            raise ValueError(f"classes must hold label indices or class names, got {c!r}")
        if i in keep:
            raise ValueError(f"class {c!r} is given twice in classes={list(classes)!r}")
        keep.append(i)
    if not keep:
        raise ValueError("classes=[] selects nothing; give at least one class")
    return keep


def _select_classes(x: np.ndarray, y: np.ndarray, keep: list[int]):
    lookup = np.full(max(int(y.max()) if len(y) else 0, max(keep)) + 1, -1, dtype=np.int64)
    lookup[keep] = np.arange(len(keep))
    new = lookup[y]
    rows = np.flatnonzero(new >= 0)
    return x[rows], new[rows]


def _subsample_indices(y, n, arg: str, split: str, label: str, seed, stream: int):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{arg} must be a positive integer, got {n!r}")
    if n > len(y):
        raise ValueError(f"{arg}={n} but {label} has only {len(y)} {split} images"
                         f" (after the class subset, if any)")
    rng = np.random.default_rng(None if seed is None else [int(seed), stream])
    return _stratified_indices(y, int(n), rng)


def _stratified_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n sorted row indices, each class getting its share of n (largest remainders)."""
    labels, counts = np.unique(y, return_counts=True)
    quota = counts * n / len(y)
    take = np.floor(quota).astype(np.int64)
    short = n - int(take.sum())
    if short:
        order = np.lexsort((rng.random(len(labels)), -(quota - take)))
        take[order[:short]] += 1
    picked = [rng.choice(np.flatnonzero(y == c), k, replace=False)
              for c, k in zip(labels, take) if k]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def _to_float_tensor(x: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.dtype == torch.uint8:
        return t.to(torch.float32).div_(255)
    return t.to(torch.float32)


def _check_p(p) -> float:
    if isinstance(p, str):
        try:
            value = float(p.strip())
        except ValueError:
            raise ValueError(f"p must be a positive number or 'inf', got {p!r}") from None
    elif isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise ValueError(f"p must be a positive number or 'inf', got {p!r}")
    else:
        value = float(p)
    if math.isnan(value) or value <= 0:
        raise ValueError(f"p must be a positive number or 'inf', got {p!r}")
    return value


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "..."
