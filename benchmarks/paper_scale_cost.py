"""What a paper-scale profile costs: its work counted in units, each unit's cost measured on
this device, and their product, the expected time of the run before hours of a GPU are spent.

    ZEROLIB_DATA=/path/to/data .venv/bin/python benchmarks/paper_scale_cost.py                 # CPU
    ZEROLIB_DATA=/path/to/data .venv/bin/python benchmarks/paper_scale_cost.py --device cuda   # the GPU's figure
    ZEROLIB_DATA=/path/to/data .venv/bin/python benchmarks/paper_scale_cost.py --counts-only   # nothing timed
    ZEROLIB_DATA=/path/to/data .venv/bin/python benchmarks/paper_scale_cost.py --dry-run --dry-attack-rows 100

The counts are derived from the profile as the study runs it (each notebook's own defaults under
the profile's values, as ``--dry-run`` derives them) and from the attack grids as defined in
:mod:`zerolib.experiments.common.attack_grid`; nothing is copied by hand. The units:

- ``train_image``: paper B's network (the profile's ``lipschitz`` net, DenseNet-40-12 at paper
  scale) in training mode: forward, backward and optimizer step of one image, at the profile's
  batch size;
- ``grad_image``: the same network in eval mode, forward and backward to the input of one image
  in a chunk of 500 rows (``ATTACK_BATCH``): one step of a gradient attack;
- ``query_image``: its forward pass alone, one image in a chunk of 500: a query of the Square
  attack, HopSkipJump or the noise baseline;
- ``scd01_row`` / ``mlp01_row`` / ``mlp01_400_row``: one training row through one vote-iteration
  of SCD01, of MLP01 (20 hidden nodes), of MLP01 with 400, with 32 votes batched (the fit's
  ``iter_time_`` divided by votes x iterations x rows, on this dataset's classes 0 vs 1).

Counted, per notebook: ``lipschitz`` trains the three heads on every training row for each seed
(``loss_targets`` reads them from the cache); ``loss_targets`` runs the untargeted and targeted
grids (and the codebook-aware CW-L2) on the attacked rows; ``robustness_audit`` trains the three
heads on classes 0 vs 1 and attacks them (FGSM and PGD on each loss, Square, HopSkipJump L2 and
Linf and its distance curve, the noise draws); the 01-loss fits of ``clean_accuracy`` (one-vs-all
on every row, and Table II's one vote), ``blackbox`` (0 vs 1, its multiclass models unless
``clean_accuracy`` trained the same ones, the SCD01 substitutes of Fig. 4 round by round),
``whitebox_transfer``, ``discretization`` (the fits no other notebook's cache holds) and
``cnn_comparison`` (the pair search and the 400-node MLP01). A fit another notebook trains on the
same rows with the same settings is counted once. Gradient attacks are counted at their full
iteration budget (an attack that stops early costs less), L-BFGS at one evaluation per iteration
and DeepFool at its candidates' backward passes (their line search and forward passes cost
more). Not counted: the convex models, LeNet and SimpleNet80, the convex and CNN substitutes and
their queries, the audit's attacks on the paper A families, transfers and scoring (forward
passes over the attacked rows), data loading. The total is an estimate of the profile's time on
a device as fast as this one, not a bound; the table says which notebook holds the time.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zerolib.attacks import CWL2, DeepFool
from zerolib.experiments.common.attack_grid import (
    ATTACK_BATCH,
    TARGETED,
    UNTARGETED,
    thin,
    with_step_limits,
)
from zerolib.models import train as train_loop
from zerolib.papers.numbers import MODELS
from zerolib.study.dry_run import dry_profile
from zerolib.study.runner import Profile, cpu_model

PROFILES = ("mnist", "fashion_mnist", "cifar10")
N_HEADS = 3                      # O:SOFTMAX:CE, O:SOFTMAX:MSE, R:TANH:MSE
N_CLASSES = 10
TASK = (0, 1)                    # the binary task of whitebox_transfer, blackbox, discretization and the audit


def notebook_params(profile: Profile, notebook: str) -> dict:
    """The parameters ``notebook`` runs with under ``profile``: its own defaults under the profile's."""
    return profile.effective_parameters(ROOT / "notebooks" / f"{notebook}.ipynb")


def grid_gradients(grid, codebook: bool = False) -> int:
    """Input-gradient passes per attacked row of one grid: iterations x binary-search steps of
    each (attack, value) cell (L-BFGS: one evaluation per iteration, its line search may take
    more); a nested grid (DeepFool's step limits) runs once to its largest value, each step a
    backward pass per candidate class but the label (``candidates - 1``); CW-L2 cells run again
    as the codebook-aware CW-L2 on a codebook head."""
    total = 0
    for g in grid:
        steps = g.fixed.get("steps", 1) * g.fixed.get("binary_search_steps", 1)
        if g.nested:
            total += max(g.values) * ((g.fixed.get("candidates", N_CLASSES) - 1) if g.attack is DeepFool else 1)
            continue
        cells = len(g.values) * (2 if codebook and g.attack is CWL2 else 1)
        total += cells * steps
    return total


def rows(n: int | None, available: int) -> int:
    return available if not n else min(int(n), available)


def trained_images(train: dict, n: int) -> int:
    """Images through a training step over ``n`` rows with ``train``'s settings: every row an
    epoch, or ``steps_per_epoch`` batches of ``batch_size`` (a dry run's one)."""
    per_epoch = n
    if train.get("steps_per_epoch"):
        batch = int(train.get("batch_size", _default(train_loop, "batch_size")))
        per_epoch = min(n, int(train["steps_per_epoch"]) * batch)
    return int(train["epochs"]) * per_epoch


def _default(cls, name: str):
    return inspect.signature(cls).parameters[name].default


def substitute_rows(n_seed_points: int, rounds: int, cap: int) -> int:
    """Rows the substitute is fitted on, summed over the rounds: the set doubles from the seed
    points while twice it fits under ``cap``, then holds ``cap`` (``substitutes.grow``)."""
    total, size = 0, int(n_seed_points)
    for _ in range(int(rounds)):
        total += size
        size = min(2 * size, cap)
    return total


def counts(profile: Profile, sizes: dict) -> list[tuple[str, str, float]]:
    """``[(notebook, unit, count)]`` for ``profile``, one row per notebook and unit; ``sizes``:
    train / task_train / test / task_test rows (a class pair of ``cnn_comparison`` is counted
    with the rows of classes 0 vs 1). A fit that another notebook's cache entry already holds
    (same rows, settings, votes and seed) is counted once, where it is first trained."""
    from zerolib.attacks import HopSkipJump, Square

    out = []

    def n_seeds(p):
        return int(p["n_seeds"])

    lip = notebook_params(profile, "lipschitz")
    out.append(("lipschitz", "train_image",
                N_HEADS * n_seeds(lip) * trained_images(lip["train"], rows(lip["n_train"], sizes["train"]))))

    lt = notebook_params(profile, "loss_targets")
    mx = int(lt["max_steps"])
    unt, tar = (thin(UNTARGETED, mx), thin(TARGETED, mx)) if mx else (UNTARGETED, TARGETED)
    unt = with_step_limits(unt, lt["deepfool_steps"])
    per_row = (N_HEADS * grid_gradients(unt) + (N_HEADS - 1) * grid_gradients(tar)
               + grid_gradients(tar, codebook=True))
    attacked = rows(lt["n_attack"], rows(lt.get("n_test"), sizes["test"]))
    out.append(("loss_targets", "grad_image", per_row * attacked * n_seeds(lt)))

    au = notebook_params(profile, "robustness_audit")
    seeds = n_seeds(au)
    eps = sorted({float(e) for e in au["eps_values"]} | {float(au["eps_matrix"])})
    bounded = [e for e in eps if e > 0]
    n_audit = rows(au["n_audit"], sizes["task_test"] - int(au["n_seed_points"]))
    out.append(("robustness_audit", "train_image",
                N_HEADS * seeds * trained_images(au["heads"]["train"], rows(au["n_train_nets"], sizes["task_train"]))))
    pgd_losses = 2 * N_HEADS + 1          # own loss and score margin on each head, pre-tanh margin on the codebook
    out.append(("robustness_audit", "grad_image",   # per eps: FGSM on each head, then the PGDs
                seeds * n_audit * len(bounded) * (N_HEADS + pgd_losses * int(au["pgd_steps"]))))
    hsj = dict(au.get("hsj") or {})
    square = au.get("square")
    max_queries = int(hsj.get("max_queries", _default(HopSkipJump, "max_queries")))
    square_queries = 0 if square is None else int(square.get("n_queries", _default(Square, "n_queries")))
    queries = len(bounded) * (square_queries + int(au["noise_draws"])) + 2 * max_queries
    curve = min(int(au["hsj_rows"]), n_audit) * max(au["hsj_budgets"] or [0])
    out.append(("robustness_audit", "query_image", seeds * N_HEADS * (n_audit * queries + curve)))

    # paper A's 01-loss fits: votes x iterations x rows (x problems: 10 one-vs-all, 1 for 0 vs 1)
    def fits(notebook, settings, n_votes, n_rows, problems, times=1, names=("SCD01", "MLP01")):
        for name in names:
            if name not in settings or times <= 0:
                continue
            unit = {"SCD01": "scd01_row", "MLP01": "mlp01_row"}[name]
            hidden = int((settings[name] or {}).get("hidden", 20))
            if name == "MLP01" and hidden == 400:
                unit = "mlp01_400_row"
            elif name == "MLP01" and hidden != 20:
                raise ValueError(f"{notebook}: MLP01 with {hidden} hidden nodes has no measured unit")
            n_iter = int((settings[name] or {}).get("n_iter", 1000))
            out.append((notebook, unit, times * n_votes * n_iter * n_rows * problems))

    def same(a: dict, b: dict, names=("SCD01", "MLP01")) -> bool:
        return all((a.get(m) or {}) == (b.get(m) or {}) for m in names)

    ca = notebook_params(profile, "clean_accuracy")
    ca_rows = rows(ca["n_train"], sizes["train"])
    fits("clean_accuracy", ca["models"], int(ca["n_votes"]), ca_rows, N_CLASSES, n_seeds(ca))
    if ca.get("timing"):   # Table II: one vote of class 0 against all, on every row
        fits("clean_accuracy", ca["models"], 1, ca_rows, 1, n_seeds(ca))
    bb = notebook_params(profile, "blackbox")
    bb_rows = rows(bb["n_train"], sizes["task_train"])
    fits("blackbox", bb["models"], int(bb["n_votes"]), bb_rows, 1, n_seeds(bb))
    if bb.get("multiclass", True):
        shared = (rows(bb.get("n_train_multiclass"), sizes["train"]) == ca_rows
                  and int(ca["n_votes"]) == int(bb["n_votes"]) and same(ca["models"], bb["models"]))
        fits("blackbox", bb["models"], int(bb["n_votes"]), rows(bb.get("n_train_multiclass"), sizes["train"]),
             N_CLASSES, n_seeds(bb) - (n_seeds(ca) if shared else 0))
    sub_rows = substitute_rows(bb["n_seed_points"], bb["rounds"], bb["cap"])   # Fig. 4: one per single-run target
    fits("blackbox", {"SCD01": bb["scd01_substitute"]}, 1, sub_rows, len(MODELS), n_seeds(bb))
    wb = notebook_params(profile, "whitebox_transfer")
    wb_rows = rows(wb["n_train"], sizes["task_train"])
    fits("whitebox_transfer", wb["models"], 1, wb_rows, 1, n_seeds(wb))
    di = notebook_params(profile, "discretization")
    di_rows = rows(di["n_train"], sizes["task_train"])
    shared = di_rows == wb_rows and same(di["models"], wb["models"])
    fits("discretization", di["models"], 1, di_rows, 1, n_seeds(di) - (n_seeds(wb) if shared else 0))  # original
    fits("discretization", di["models"], 1, di_rows, 1, n_seeds(di))                                   # binarized
    sweep_rows = rows(di.get("sweep_n_train") or di["n_train"], sizes["task_train"])
    new_p = [p for p in di["p_values"] if sweep_rows != di_rows or str(p) not in ("2", "inf")]
    fits("discretization", di["models"], 1, sweep_rows, 1, len(new_p) * n_seeds(di))
    fits("discretization", di["blackbox_models"], int(di["n_votes"]), di_rows, 1, n_seeds(di))   # binarized targets
    cc = notebook_params(profile, "cnn_comparison")
    pair_rows = int(0.75 * rows(2 * int(cc["n_per_class"] or 0), sizes["task_train"]))
    n_pairs = len(cc.get("search_pairs") or list(itertools.combinations(range(N_CLASSES), 2)))
    fits("cnn_comparison", {"MLP01": cc["search_model"]}, 1, pair_rows, n_pairs, n_seeds(cc))
    fits("cnn_comparison", cc["models"], int(cc.get("n_votes") or 1), rows(cc["n_train"], sizes["task_train"]),
         1, n_seeds(cc))
    merged: dict[tuple[str, str], float] = {}
    for nb, unit, n in out:
        merged[nb, unit] = merged.get((nb, unit), 0) + n
    return [(nb, unit, n) for (nb, unit), n in merged.items()]


PUBLISHED_SIZES = {
    "mnist": {"train": 60000, "test": 10000, "task_train": 5923 + 6742, "task_test": 980 + 1135, "shape": (1, 28, 28)},
    "fashion_mnist": {"train": 60000, "test": 10000, "task_train": 12000, "task_test": 2000, "shape": (1, 28, 28)},
    "cifar10": {"train": 50000, "test": 10000, "task_train": 10000, "task_test": 2000, "shape": (3, 32, 32)},
}
"""The datasets' published sizes (all classes; classes 0 and 1), for ``--without-data`` (a GPU
machine the data does not travel to); with the data, the sizes are read from it instead."""


def sizes_of(dataset: str, with_data: bool = True) -> dict:
    """Training and test rows of ``dataset``, all classes and classes 0 vs 1 (from the data root,
    or without it the published sizes)."""
    if not with_data:
        return dict(PUBLISHED_SIZES[dataset])
    from zerolib.data import load_dataset

    full, task = load_dataset(dataset), load_dataset(dataset, classes=list(TASK))
    return {"train": len(full.y_train), "test": len(full.y_test), "task_train": len(task.y_train),
            "task_test": len(task.y_test), "shape": tuple(full.x_train.shape[1:])}


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure_net(profile: Profile, shape, device: str, repeats: int) -> dict:
    """Seconds per train_image, grad_image and query_image of the profile's paper B network."""
    from zerolib.models.nets import make_model

    lip = notebook_params(profile, "lipschitz")
    train = lip["train"]
    net = make_model(lip["net"], shape, N_CLASSES, **lip["arch"]).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    b = int(train["batch_size"])
    x, y = torch.rand(b, *shape, device=device), torch.randint(0, N_CLASSES, (b,), device=device)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        sync()

    net.train()
    step()
    out = {"train_image": _median_seconds(step, repeats) / b}
    net.eval()
    net.requires_grad_(False)   # an attack takes the gradient of the input only
    xa = torch.rand(ATTACK_BATCH, *shape, device=device)

    def grad():
        xg = xa.clone().requires_grad_(True)
        net(xg).sum().backward()
        sync()

    def query():
        with torch.no_grad():
            net(xa)
        sync()

    grad()
    out["grad_image"] = _median_seconds(grad, repeats) / ATTACK_BATCH
    query()
    out["query_image"] = _median_seconds(query, repeats) / ATTACK_BATCH
    return out


def net_flops(profile: Profile, shape) -> dict:
    """Floating-point operations per image of the network units, counted by torch's
    ``FlopCounterMode`` (convolutions and matrix products; a training step's optimizer update
    and the elementwise layers are left out)."""
    from torch.utils.flop_counter import FlopCounterMode

    from zerolib.models.nets import make_model

    lip = notebook_params(profile, "lipschitz")
    net = make_model(lip["net"], shape, N_CLASSES, **lip["arch"])
    x = torch.rand(2, *shape)
    out = {}
    for unit, mode, backward in (("train_image", True, True), ("grad_image", False, True),
                                 ("query_image", False, False)):
        net.train(mode)
        net.requires_grad_(unit == "train_image")   # an attack takes the gradient of the input only
        counter = FlopCounterMode(display=False)
        with counter:
            xg = x.clone().requires_grad_(unit == "grad_image")
            y = net(xg)
            if backward:
                y.sum().backward()
        out[unit] = counter.get_total_flops() / len(x)
    return out


def measure_scd(dataset: str, device: str, n_rows: int, n_iter: int, n_votes: int = 32,
                with_data: bool = True) -> dict:
    """Seconds per row of one vote-iteration of SCD01, MLP01 and MLP01 with 400 hidden nodes,
    on ``n_rows`` rows of classes 0 vs 1 (without the data: seeded uniform images of the
    dataset's shape and labels), ``n_votes`` votes (the papers' 32: the votes are batched in
    one program, so fewer would cost more per vote) x ``n_iter`` iterations."""
    from types import SimpleNamespace

    from zerolib.data import load_dataset
    from zerolib.models.scd import MLP01Classifier, SCD01Classifier

    if with_data:
        d = load_dataset(dataset, classes=list(TASK), n_train=n_rows, seed=0)
    else:
        gen = torch.Generator().manual_seed(0)
        d = SimpleNamespace(x_train=torch.rand(n_rows, *PUBLISHED_SIZES[dataset]["shape"], generator=gen),
                            y_train=torch.randint(0, 2, (n_rows,), generator=gen))
    out = {}
    common = {"n_votes": n_votes, "n_iter": n_iter, "random_state": 0, "device": device}
    for unit, make in (("scd01_row", lambda: SCD01Classifier(**common)),
                       ("mlp01_row", lambda: MLP01Classifier(**common)),
                       ("mlp01_400_row", lambda: MLP01Classifier(hidden=400, **common))):
        m = make().fit(d.x_train, d.y_train)
        out[unit] = m.iter_time_ / (n_votes * n_iter * len(d.y_train))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=PROFILES)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of each network unit (median)")
    ap.add_argument("--scd-rows", type=int, default=4000, help="rows of the SCD unit's fits")
    ap.add_argument("--scd-iter", type=int, default=10, help="iterations of the SCD unit's fits (32 votes)")
    ap.add_argument("--dry-run", action="store_true", help="count the profile's dry run (zerolib.study.dry_run)")
    ap.add_argument("--dry-rows", type=int, default=None, help="with --dry-run: every row count capped at N")
    ap.add_argument("--dry-attack-rows", type=int, default=None, help="with --dry-run: the attacked rows capped at N")
    ap.add_argument("--without-data", action="store_true", help="the datasets' published sizes and random "
                    "inputs for the SCD timing (where the data root is not at hand, e.g. a GPU machine)")
    ap.add_argument("--counts-only", action="store_true", help="print the counts, measure nothing")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    if (args.dry_rows is not None or args.dry_attack_rows is not None) and not args.dry_run:
        raise SystemExit("--dry-rows and --dry-attack-rows need --dry-run")
    if min(args.repeats, args.scd_rows, args.scd_iter) < 1:
        raise SystemExit("--repeats, --scd-rows and --scd-iter must be >= 1")

    dev = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else \
        f"{cpu_model()}, {torch.get_num_threads()} threads"
    print(f"device {args.device} ({dev}), torch {torch.__version__}, load {os.getloadavg()[0]:.2f}")
    for name in args.profiles:
        profile = Profile.load(ROOT / "params", name)
        if args.dry_run:
            profile = dry_profile(profile, ROOT / "notebooks", rows=args.dry_rows, attack_rows=args.dry_attack_rows)
        dataset = notebook_params(profile, "lipschitz")["dataset"]
        sizes = sizes_of(dataset, not args.without_data)
        table = counts(profile, sizes)
        cost = {}
        if not args.counts_only:
            cost.update(measure_net(profile, sizes["shape"], args.device, args.repeats))
            cost.update(measure_scd(dataset, args.device, args.scd_rows, args.scd_iter, with_data=not args.without_data))
        flops = net_flops(profile, sizes["shape"])
        print(f"\n## {name} ({dataset}{' (published sizes)' if args.without_data else ''}: {sizes['train']} "
              f"training rows, {sizes['task_train']} of classes 0 vs 1; "
              f"network {notebook_params(profile, 'lipschitz')['net']}, "
              + ", ".join(f"{u} {v / 1e9:.2f} GFLOP" for u, v in flops.items()) + ")")
        print(f"{'notebook':18} {'unit':14} {'count':>12} {'PFLOP':>8} {'us/unit':>9} {'hours':>8}")
        total, by_nb, pflop = 0.0, {}, 0.0
        for nb, unit, n in table:
            hours = n * cost[unit] / 3600 if cost else float("nan")
            total += hours
            by_nb[nb] = by_nb.get(nb, 0.0) + hours
            pf = f"{n * flops[unit] / 1e15:8.3g}" if unit in flops else f"{'-':>8}"
            pflop += n * flops[unit] / 1e15 if unit in flops else 0.0
            us = f"{cost[unit] * 1e6:9.2f}" if cost else f"{'-':>9}"
            print(f"{nb:18} {unit:14} {n:12.3g} {pf} {us} {hours:8.1f}")
        print(f"network units: {pflop:.3g} PFLOP, "
              + ", ".join(f"{pflop * 1e15 / (t * 1e12) / 3600:.3g} hours at {t} TFLOP/s sustained" for t in (10, 30, 100)))
        if cost:
            print(f"total (an estimate): {total:.1f} hours on this device; "
                  + ", ".join(f"{k} {v:.1f}" for k, v in sorted(by_nb.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
