"""Speed and accuracy of the 01-loss trainer on CIFAR10 airplane vs automobile.

Data: CIFAR10 classes 0 and 1 (airplane, automobile), a seeded stratified sample of
10000 training and 2000 test images from the data root (env ZEROLIB_DATA or
--data-root), flattened to 3072 features in [0, 1]. Settings as published:
batch_fraction 0.75, n_candidates 128, step 0.17 (MLP01: hidden 20, step_hidden
0.17, step_output 0.2), window 20.

Printed:
- ms per vote-iteration for SCD01 and MLP01 at 1 and at 32 votes: the time spent
  in the training iterations divided by votes x iterations (median over repeats),
  and the same including the fit's data preparation and initialisation;
- train / test accuracy of SCD01 1 vote x 100 iterations (per seed), SCD01
  32 votes x 500 iterations, MLP01 1 vote x 50 iterations (per seed);
- with a CUDA device (or --ova): the full CIFAR10 one-vs-all, 10 classes x 32 votes
  x 500 iterations of SCD01, timed;
- device, torch version, threads, machine, CPU count and load average (the CPU may
  be shared: a load above the core count slows every figure here).

    python benchmarks/scd_speed.py            # everything (~10 min on 2 busy cores)
    python benchmarks/scd_speed.py --quick    # timings and the 1-vote runs (~1-2 min)
    python benchmarks/scd_speed.py --json out.json

Goals on a 2-core CPU (issue 3): SCD01 <= 30 ms, MLP01 <= 50 ms per vote-iteration;
test accuracy at least the published code's (SCD01 1 x 100: 0.7975; MLP01 1 x 50:
0.760); SCD01 32 x 500: at least 0.81. The published code takes about 2900 ms
(SCD01) and 4600 ms (MLP01) per vote-iteration on the same machine and data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zerolib.data import load_dataset  # noqa: E402
from zerolib.models.scd import MLP01Classifier, SCD01Classifier  # noqa: E402

PUBLISHED = {"scd01_ms": 2900.0, "mlp01_ms": 4600.0, "scd01_1x100_test": 0.7975, "mlp01_1x50_test": 0.760}
GOALS = {"scd01_ms": 30.0, "mlp01_ms": 50.0, "scd01_32x500_test": 0.81}


def machine_info(device: str) -> dict:
    info = {
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def load(ds_seed: int, root: str | None):
    ds = load_dataset("cifar10", root=root, classes=[0, 1], n_train=10000, n_test=2000, seed=ds_seed, flatten=True)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test


def fit(E, X, y, **kw):
    est = E(**kw)
    t0 = time.perf_counter()
    est.fit(X, y)
    wall = time.perf_counter() - t0
    return est, wall


def run_timing(name, E, X, y, votes, iters, repeats, device, extra):
    per, per_fit = [], []
    for r in range(repeats):
        est, wall = fit(E, X, y, n_votes=votes, n_iter=iters, random_state=100 + r, device=device, **extra)
        per.append(1000 * est.iter_time_ / (votes * iters))
        per_fit.append(1000 * wall / (votes * iters))
    row = {
        "model": name, "votes": votes, "iterations": iters, "repeats": repeats,
        "ms_per_vote_iter": statistics.median(per), "ms_per_vote_iter_with_setup": statistics.median(per_fit),
        "all_ms": [round(v, 2) for v in per], "load": os.getloadavg(),
    }
    print(
        f"  {name:6s} {votes:2d} votes x {iters:3d} it: {row['ms_per_vote_iter']:7.1f} ms per vote-iteration "
        f"(with setup {row['ms_per_vote_iter_with_setup']:.1f}; runs {row['all_ms']}; load {row['load'][0]:.2f})",
        flush=True,
    )
    return row


def run_accuracy(name, E, data, votes, iters, seeds, device, extra):
    Xtr, ytr, Xte, yte = data
    rows = []
    for s in seeds:
        est, wall = fit(E, Xtr, ytr, n_votes=votes, n_iter=iters, random_state=s, device=device, **extra)
        tr, te = est.score(Xtr, ytr), est.score(Xte, yte)
        rows.append({
            "seed": s, "train": tr, "test": te, "fit_s": wall,
            "ms_per_vote_iter": 1000 * est.iter_time_ / (votes * iters), "load": os.getloadavg(),
        })
        print(
            f"  {name:6s} {votes:2d} votes x {iters:3d} it, seed {s}: train {tr:.4f} test {te:.4f} "
            f"({wall:.1f} s, {rows[-1]['ms_per_vote_iter']:.1f} ms/vote-it, load {rows[-1]['load'][0]:.2f})",
            flush=True,
        )
    out = {
        "model": name, "votes": votes, "iterations": iters, "runs": rows,
        "train_mean": float(np.mean([r["train"] for r in rows])),
        "test_mean": float(np.mean([r["test"] for r in rows])),
        "test_min": float(np.min([r["test"] for r in rows])),
    }
    if len(rows) > 1:
        print(f"  {name:6s} {votes:2d} x {iters:3d}: mean train {out['train_mean']:.4f} test {out['test_mean']:.4f} (min {out['test_min']:.4f})")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="timings and 1-vote accuracies only")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    ap.add_argument("--data-root", default=None, help="data root (default: env ZEROLIB_DATA)")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3, quick 2)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds for the 1-vote accuracy runs (default 3)")
    ap.add_argument("--ova", action="store_true", help="also the full CIFAR10 one-vs-all (default: only on CUDA)")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args(argv)

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    repeats = args.repeats or (2 if args.quick else 3)
    seeds = list(range(args.seeds or 3))
    info = machine_info(device)
    print("zerolib SCD benchmark: CIFAR10 airplane vs automobile, 10000 train / 2000 test, 3072 features")
    for k, v in info.items():
        print(f"  {k}: {v}")
    print(f"  load average at start: {os.getloadavg()}")
    t0 = time.perf_counter()
    data = load(0, args.data_root)
    print(f"  data loaded in {time.perf_counter() - t0:.1f} s: {tuple(data[0].shape)} train, {tuple(data[2].shape)} test")
    Xtr, ytr = data[0], data[1]
    mlp = {"hidden": 20}
    results = {"machine": info, "timing": [], "accuracy": []}

    # warm-up: thread pool, allocator and first-call costs stay out of the timings
    fit(SCD01Classifier, Xtr[::5], ytr[::5], n_votes=2, n_iter=3, random_state=0, device=device)
    fit(MLP01Classifier, Xtr[::5], ytr[::5], n_votes=2, n_iter=3, random_state=0, device=device)

    print("\nSpeed (published code: SCD01 ~2900 ms, MLP01 ~4600 ms per vote-iteration; goals 30 / 50 ms):")
    t_iters = 10 if args.quick else 20
    results["timing"].append(run_timing("SCD01", SCD01Classifier, Xtr, ytr, 1, 50, repeats, device, {}))
    results["timing"].append(run_timing("SCD01", SCD01Classifier, Xtr, ytr, 32, t_iters, repeats, device, {}))
    results["timing"].append(run_timing("MLP01", MLP01Classifier, Xtr, ytr, 1, 50, repeats, device, mlp))
    results["timing"].append(run_timing("MLP01", MLP01Classifier, Xtr, ytr, 32, t_iters, repeats, device, mlp))

    print("\nAccuracy (published: SCD01 1 x 100 test 0.7975; MLP01 1 x 50 test 0.760; paper SCD01 32 x 500: 0.811):")
    results["accuracy"].append(run_accuracy("SCD01", SCD01Classifier, data, 1, 100, seeds, device, {}))
    results["accuracy"].append(run_accuracy("MLP01", MLP01Classifier, data, 1, 50, seeds, device, mlp))
    if not args.quick:
        results["accuracy"].append(run_accuracy("SCD01", SCD01Classifier, data, 32, 500, [0], device, {}))

    if args.ova or device.startswith("cuda"):
        print("\nFull CIFAR10 one-vs-all, SCD01, 10 classes x 32 votes x 500 iterations (paper: 150 s per vote of one class):")
        full = load_dataset("cifar10", root=args.data_root, flatten=True)
        est, wall = fit(SCD01Classifier, full.x_train, full.y_train, n_votes=32, n_iter=500, random_state=0, device=device)
        te = est.score(full.x_test, full.y_test)
        row = {"fit_s": wall, "iter_s": est.iter_time_, "test": te, "n_train": int(full.x_train.shape[0])}
        results["ova"] = row
        print(f"  fit {wall:.1f} s (iterations {est.iter_time_:.1f} s), test accuracy {te:.4f}")

    print("\nSummary:")
    tm = {(r["model"], r["votes"]): r["ms_per_vote_iter"] for r in results["timing"]}
    for model, key in (("SCD01", "scd01_ms"), ("MLP01", "mlp01_ms")):
        for v in (1, 32):
            ms = tm[(model, v)]
            print(
                f"  {model} {v:2d} votes: {ms:6.1f} ms per vote-iteration, {PUBLISHED[key] / ms:5.0f}x the published code; "
                f"goal <= {GOALS[key]:.0f} ms: {'met' if ms <= GOALS[key] else 'NOT met'}"
            )
    acc = {(r["model"], r["votes"], r["iterations"]): r for r in results["accuracy"]}
    a = acc[("SCD01", 1, 100)]
    print(f"  SCD01 1 x 100: train {a['train_mean']:.4f} test {a['test_mean']:.4f} (min {a['test_min']:.4f}); published test 0.7975")
    a = acc[("MLP01", 1, 50)]
    print(f"  MLP01 1 x  50: train {a['train_mean']:.4f} test {a['test_mean']:.4f} (min {a['test_min']:.4f}); published test 0.760")
    if ("SCD01", 32, 500) in acc:
        a = acc[("SCD01", 32, 500)]
        print(f"  SCD01 32 x 500: train {a['train_mean']:.4f} test {a['test_mean']:.4f}; goal >= 0.81: {'met' if a['test_mean'] >= 0.81 else 'NOT met'}")
    print(f"  load average at end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"  written {args.json}")
    return results


if __name__ == "__main__":
    main()
