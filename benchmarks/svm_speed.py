"""Speed of the linear SVM: zerolib's batched primal Newton solver against liblinear.

Data: CIFAR10 classes 0 and 1 (airplane, automobile), every training row (10000 x
3072 in [0, 1]) from the data root (env ZEROLIB_DATA), or --n rows of it.

Printed, per C of the default grid:
- seconds to fit one problem with scikit-learn's LinearSVC (liblinear; ``dual=False``,
  the primal trust-region Newton solver that scikit-learn's ``dual="auto"`` picks for
  n > d; tol 1e-4, max_iter 1000) and with ``fit_squared_hinge`` (tol 1e-4), median
  of ``--repeats``;
- both primal objectives (ours must not be higher) and the test accuracy of each;
- the whole ``LinearSVMClassifier`` fit with its cross-validated C (3 folds, the
  ascending grid stopped once accuracy falls), the C it chose and the seconds;
- device, torch version, threads, machine and load average.

    python benchmarks/svm_speed.py                 # over 15 min on 2 cores (liblinear at C = 10)
    python benchmarks/svm_speed.py --n 3000 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zerolib import LinearSVMClassifier, load_dataset  # noqa: E402
from zerolib.models.convex import DEFAULT_CS  # noqa: E402
from zerolib.models.squared_hinge import fit_squared_hinge  # noqa: E402


def objective(X, y, w, c, C):
    z = X @ w + c
    return 0.5 * (w @ w + c * c) + C * np.sum(np.maximum(0, 1 - y * z) ** 2)


def cpu_name() -> str:
    try:
        return next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=None, help="training rows (default: all 10000)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    d = load_dataset("cifar10", classes=[0, 1], flatten=True, n_train=args.n)
    X, Xt = d.x_train.double().numpy(), d.x_test.double().numpy()
    y, yt = 2.0 * d.y_train.numpy() - 1, 2.0 * d.y_test.numpy() - 1
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, "
          f"{platform.platform()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average {os.getloadavg()}")
    print(f"data: CIFAR10 0 vs 1, {X.shape[0]} x {X.shape[1]} train, {len(Xt)} test; medians of {args.repeats}")
    print(f"{'C':>7} {'liblinear s':>12} {'ours s':>8} {'ratio':>6} {'obj liblinear':>14} {'obj ours':>14} "
          f"{'acc lib':>8} {'acc ours':>8}")
    for C in DEFAULT_CS:
        t_lib, ref = timed(lambda: LinearSVC(C=C, dual=False, tol=1e-4, max_iter=1000).fit(X, y), args.repeats)
        t_ours, (W, c, _, _) = timed(lambda: fit_squared_hinge(
            torch.from_numpy(X), torch.from_numpy(y)[None], torch.ones(1, len(y)), torch.tensor([C]), tol=1e-4),
            args.repeats)
        w, b = W[0].numpy(), float(c[0])
        acc_ours = float(np.mean(np.sign(Xt @ w + b) == yt))
        print(f"{C:>7g} {t_lib:>12.2f} {t_ours:>8.2f} {t_lib / t_ours:>6.1f} "
              f"{objective(X, y, ref.coef_[0], ref.intercept_[0], C):>14.6f} {objective(X, y, w, b, C):>14.6f} "
              f"{ref.score(Xt, yt):>8.4f} {acc_ours:>8.4f}", flush=True)
    t, svm = timed(lambda: LinearSVMClassifier(random_state=0, device="cpu").fit(d.x_train, d.y_train), 1)
    print(f"LinearSVMClassifier with its C search: {t:.1f} s, C = {svm.C_}, tried {sorted(svm.cv_scores_)}, "
          f"test accuracy {svm.score(d.x_test, d.y_test):.4f}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
