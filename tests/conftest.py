"""Fixtures shared by several test files."""

from functools import lru_cache
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's many tiny torch steps on one thread: on 2 shared cores, extra
    threads only add contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_quick(tmp_path_factory, threads: int, *notebooks: str) -> Path:
    """Run ``notebooks`` (all when none) of the quick profile into a temporary output root, with
    ``threads`` torch threads per kernel and an empty model cache of its own (a warm one may hold
    models trained at other thread counts); this process's threads and environment are put back
    after. Returns the profile's output folder."""
    import os

    from zerolib.study import cli

    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ZEROLIB_MODELS")
    saved_env, saved_threads = {k: os.environ.get(k) for k in names}, torch.get_num_threads()
    output_root = tmp_path_factory.mktemp(f"outputs-{threads}-threads")
    os.environ["ZEROLIB_MODELS"] = str(tmp_path_factory.mktemp(f"models-{threads}-threads"))
    try:
        code = cli.main(["--root", str(ROOT), "run", "--profile", "quick", "--output-root", str(output_root),
                         "--threads", str(threads)] + (["--notebooks", *notebooks] if notebooks else []))
    finally:
        torch.set_num_threads(saved_threads)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code == 0, "the quick study failed; see the stderr above"
    return output_root / "quick"


@pytest.fixture(scope="session")
def quick_study(tmp_path_factory) -> Path:
    """Every notebook executed once, serially, on the quick profile into a temporary
    output root (the smoke run; the parallel runner's test compares against it). Its
    kernels run one torch thread each (`--threads 1`): the numbers depend on the thread
    count, and the parallel test's 2 workers on 2 cores get one each."""
    return run_quick(tmp_path_factory, QUICK_STUDY_THREADS)


QUICK_STUDY_THREADS = 1


@lru_cache(maxsize=None)
def digits_cnn():
    """A small CNN trained for a second on scikit-learn's 8x8 digits (as 1x8x8 images), frozen,
    and 100 held-out images with their labels: a nonlinear model for cross-checks against the
    reference attack libraries."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(data.target, dtype=torch.long)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10),
        )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[:1400]), y[:1400]).backward()
        opt.step()
    model.eval()
    for p in model.parameters():
        p.grad = None
        p.requires_grad_(False)
    xte, yte = x[1400:1500], y[1400:1500]
    assert (model(xte).argmax(1) == yte).float().mean() > 0.9
    return model, xte, yte
