"""Speed of zerolib's batched HopSkipJump against the Adversarial Robustness Toolbox's.

Model: paper A's substitute MLP (2 x 200 ReLU) trained for 3 epochs on 10000 MNIST
training rows (from ZEROLIB_DATA); attacked: the first ``--n`` (200) test images it
classifies correctly, untargeted L2. ART's HopSkipJump runs image by image
(``max_iter``, ``max_eval=1000``, ``init_eval=100``); its queries are counted, and
ours gets the same budget per image (the mean ART used), so the two are compared at
equal query budgets.

Printed: seconds of each (median of ``--repeats``), the ratio, success rates and the
median L2 of the adversaries found, queries per image, and the machine.

    python benchmarks/hopskipjump_speed.py
    python benchmarks/hopskipjump_speed.py --n 50 --max-iter 5 --repeats 1
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zerolib import load_dataset  # noqa: E402
from zerolib.attacks import HopSkipJump  # noqa: E402
from zerolib.models import make_model, predict, train  # noqa: E402


def cpu_name() -> str:
    try:
        return next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="images attacked")
    ap.add_argument("--max-iter", type=int, default=10, help="ART's max_iter")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from art.attacks.evasion import HopSkipJump as ArtHopSkipJump
    from art.estimators.classification import BlackBoxClassifier

    d = load_dataset("mnist", n_train=10000, seed=0)
    model = make_model("substitute_mlp", (1, 28, 28), 10, seed=0)
    train(model, (d.x_train, d.y_train), epochs=3, optimizer="adam", lr=1e-3, seed=0, progress=False)
    model.eval()
    right = predict(model, d.x_test) == d.y_test
    x, y = d.x_test[right][: args.n], d.y_test[right][: args.n]
    counted = [0]

    def predict_fn(batch):
        counted[0] += len(batch)
        return np.eye(10, dtype=np.float32)[predict(model, torch.as_tensor(batch, dtype=torch.float32)).numpy()]

    clf = BlackBoxClassifier(predict_fn, input_shape=(1, 28, 28), nb_classes=10, clip_values=(0.0, 1.0))
    art_times, our_times = [], []
    for _ in range(args.repeats):
        counted[0] = 0
        np.random.seed(0)
        t0 = time.perf_counter()
        theirs = torch.as_tensor(ArtHopSkipJump(clf, norm=2, max_iter=args.max_iter, max_eval=1000, init_eval=100,
                                                init_size=100, verbose=False).generate(x.numpy()))
        art_times.append(time.perf_counter() - t0)
        budget = int(np.ceil(counted[0] / len(x)))
        atk = HopSkipJump(model, "L2", max_queries=budget, seed=0)
        t0 = time.perf_counter()
        ours = atk(x, y)
        our_times.append(time.perf_counter() - t0)
    art_ok, our_ok = predict(model, theirs) != y, predict(model, ours) != y
    art_l2 = (theirs - x).flatten(1).norm(dim=1)[art_ok]
    our_l2 = (ours - x).flatten(1).norm(dim=1)[our_ok]
    ta, to = statistics.median(art_times), statistics.median(our_times)
    print(f"images {len(x)}, MNIST, substitute MLP (clean accuracy {100 * float(right.float().mean()):.1f} %), "
          f"untargeted L2, budget {budget} queries per image (ART's mean at max_iter {args.max_iter})")
    print(f"ART HopSkipJump      {ta:8.2f} s  success {100 * float(art_ok.float().mean()):5.1f} %  "
          f"median L2 {float(art_l2.median()):.3f}")
    print(f"zerolib HopSkipJump  {to:8.2f} s  success {100 * float(our_ok.float().mean()):5.1f} %  "
          f"median L2 {float(our_l2.median()):.3f}  queries used: median {int(atk.queries.median())}, "
          f"max {int(atk.queries.max())}")
    print(f"time ratio ART / zerolib: {ta / to:.1f}x (median of {args.repeats})")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
