"""Fixtures shared by several test files."""

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's many tiny torch steps on one thread: on 2 shared cores, extra
    threads only add contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def quick_study(tmp_path_factory) -> Path:
    """Every notebook executed once, serially, on the quick profile into a temporary
    output root (the smoke run; the parallel runner's test compares against it). Its
    kernels run one torch thread each (`--threads 1`): the numbers depend on the thread
    count, and the parallel test's 2 workers on 2 cores get one each. It trains into an
    empty model cache of its own. This process's threads and environment are put back after."""
    import os

    from zerolib import study

    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ZEROLIB_MODELS")
    saved_env, saved_threads = {k: os.environ.get(k) for k in names}, torch.get_num_threads()
    output_root = tmp_path_factory.mktemp("outputs")
    # an empty model cache of its own: a warm one may hold models trained at other thread counts
    os.environ["ZEROLIB_MODELS"] = str(tmp_path_factory.mktemp("models"))
    try:
        code = study.main(["--root", str(ROOT), "run", "--profile", "quick", "--output-root", str(output_root),
                           "--threads", str(QUICK_STUDY_THREADS)])
    finally:
        torch.set_num_threads(saved_threads)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code == 0, "the quick study failed; see the stderr above"
    return output_root / "quick"


QUICK_STUDY_THREADS = 1
