"""Speed of zerolib's attacks against torchattacks' on a LeNet, MNIST.

Runs every attack of `zerolib.attacks` on 1000 MNIST test images (one batch)
against a LeNet defined here (trained for one epoch on 10000 training images,
seed 0; `--untrained` skips the training), and torchattacks' same attack
where one exists, in one run; prints the median wall time of each, the ratio
torchattacks / ours (> 1: ours is faster), and each attack's success rate and
mean perturbation norm, with the machine, torch version and thread count.

Settings are paper B's (cleverhans defaults) except CW-L2 and L-BFGS, which
are shortened by default so the run stays within a few minutes on 2 cores:
CW-L2 is timed as torchattacks' CW computes it (fixed c = 1, 50 Adam steps,
lr 0.01, no binary search) so that both do the same work; `--paper` runs the
paper's 5 binary-search steps x 1000 iterations for ours (and 1000 steps for
torchattacks', which has no binary search, so that ratio is then not like
for like). torchattacks' DeepFool loops over images one by one; by default it
is timed on `--deepfool-subset` images (100) and its time scaled to 1000
(`--deepfool-subset 1000` times all of them).

Usage:
    python benchmarks/attack_speed.py [--n 1000] [--repeats 3] [--threads N]
        [--device cpu|cuda] [--paper] [--untrained] [--deepfool-subset 100]

Data: `zerolib.data.load_dataset('mnist')` from the data root (env
ZEROLIB_DATA; if unset, a shared data folder beside the project when it exists).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zerolib import attacks as zat  # noqa: E402
from zerolib.losses import Codebook, CodewordMSE, CrossEntropy  # noqa: E402

try:
    import torchattacks as ta
except ImportError:  # the comparison columns stay empty
    ta = None


class LeNet(nn.Module):
    """LeNet-5 for 1x28x28 inputs: two 5x5 convolutions with max pooling, 120-84-out."""

    def __init__(self, n_out: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_out),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def load_mnist(n_train: int, n_test: int):
    root = None
    if not os.environ.get("ZEROLIB_DATA") and (ROOT.parent / "shared" / "data").is_dir():
        root = ROOT.parent / "shared" / "data"
    try:
        from zerolib.data import load_dataset

        ds = load_dataset("mnist", root=root, n_train=n_train, n_test=n_test, seed=0)
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test
    except ImportError:  # before zerolib.data existed
        import numpy as np

        path = Path(root or os.environ["ZEROLIB_DATA"]) / "mnist.npz"
        with np.load(path) as f:
            xtr = torch.tensor(f["x_train"][:n_train], dtype=torch.float32)[:, None] / 255
            xte = torch.tensor(f["x_test"][:n_test], dtype=torch.float32)[:, None] / 255
            return xtr, torch.tensor(f["y_train"][:n_train]).long(), xte, torch.tensor(f["y_test"][:n_test]).long()


def train(model, loss, x, y, epochs=1, batch=64, lr=1e-3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            opt.zero_grad()
            loss(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.grad = None
    return model


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fns, repeats, device, budget_s=30.0, quick_s=1.0, quick_repeats=15):
    """Median wall time of each function in `fns` over up to `repeats` rounds
    (`quick_repeats` when a round takes under `quick_s`), the functions
    alternating within a round so that a change in the machine's load hits
    both alike; rounds stop once `budget_s` is spent. Returns (medians,
    rounds, last results)."""
    times = [[] for _ in fns]
    outs = [None] * len(fns)
    rounds = repeats
    for r in range(max(repeats, quick_repeats)):
        if r == rounds:
            break
        for i, fn in enumerate(fns):
            sync(device)
            t0 = time.perf_counter()
            outs[i] = fn()
            sync(device)
            times[i].append(time.perf_counter() - t0)
        if r == 0 and sum(t[0] for t in times) < quick_s:
            rounds = max(repeats, quick_repeats)
        if sum(map(sum, times)) > budget_s:
            break
    return [statistics.median(t) for t in times], len(times[0]), outs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="test images attacked (one batch)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed rounds per attack (median); 15 for attacks under 1 s, fewer past 30 s")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--paper", action="store_true", help="CW-L2 / L-BFGS with paper B's 5 x 1000 iterations")
    ap.add_argument("--untrained", action="store_true", help="seeded untrained LeNets (skip the 1-epoch training)")
    ap.add_argument("--deepfool-subset", type=int, default=100, help="images for torchattacks' per-image DeepFool")
    ap.add_argument("--train-size", type=int, default=10000)
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    xtr, ytr, xte, yte = load_mnist(args.train_size, args.n)
    t0 = time.perf_counter()
    torch.manual_seed(0)
    lenet = LeNet()
    codebook = Codebook.from_seed(10, 128, seed=0)
    cw_loss = CodewordMSE(codebook)
    torch.manual_seed(0)
    lenet_cb = LeNet(n_out=128)
    if not args.untrained:
        train(lenet, CrossEntropy(), xtr, ytr)
        train(lenet_cb, cw_loss, xtr, ytr)
    train_s = time.perf_counter() - t0
    lenet, lenet_cb = lenet.to(device), lenet_cb.to(device)
    x, y = xte.to(device), yte.to(device)
    gen = torch.Generator().manual_seed(0)
    targets = ((yte + torch.randint(1, 10, yte.shape, generator=gen)) % 10).to(device)
    with torch.no_grad():
        acc = (lenet(x).argmax(1) == y).float().mean().item()
        acc_cb = (cw_loss.predict(lenet_cb(x)) == y).float().mean().item()

    cw_steps, cw_search, lb_steps = (1000, 5, 1000) if args.paper else (50, 1, 50)

    # binary (0 vs 1) weight attacks: a seeded linear model and a 20-node sign network on 784 features
    wgen = torch.Generator().manual_seed(0)
    w_lin = torch.randn(784, generator=wgen).to(device)
    W1 = torch.randn(784, 20, generator=wgen).to(device)
    b1 = -(W1.sum(0) * 0.1)
    w2 = torch.randn(20, generator=wgen).to(device)

    def mlp01_predict(z):
        return ((((z.flatten(1) @ W1 + b1) > 0).float() @ w2) > 0).long()

    yb = mlp01_predict(x)

    # (name, ours, torchattacks' same attack or None, labels, targeted)
    cases = [
        ("FGSM eps=0.3", lambda: zat.FGSM(lenet, eps=0.3), lambda: ta.FGSM(lenet, eps=0.3), y, False),
        ("BIM eps=0.3 a=0.05 x10", lambda: zat.BIM(lenet, eps=0.3, alpha=0.05, steps=10),
         lambda: ta.BIM(lenet, eps=0.3, alpha=0.05, steps=10), y, False),
        ("MIM eps=0.3 a=0.06 x10", lambda: zat.MIM(lenet, eps=0.3, alpha=0.06, steps=10),
         lambda: ta.MIFGSM(lenet, eps=0.3, alpha=0.06, steps=10, decay=1.0), y, False),
        ("PGD eps=0.3 a=0.01 x40 rs", lambda: zat.PGD(lenet, eps=0.3, alpha=0.01, steps=40),
         lambda: ta.PGD(lenet, eps=0.3, alpha=0.01, steps=40, random_start=True), y, False),
        ("PGD targeted eps=0.1 x40", lambda: zat.PGD(lenet, eps=0.1, alpha=0.01, steps=40, targeted=True),
         lambda: ta.PGD(lenet, eps=0.1, alpha=0.01, steps=40, random_start=True), targets, True),
        (f"CW-L2 c=1 {cw_search}x{cw_steps}",
         lambda: zat.CWL2(lenet, initial_const=1.0, steps=cw_steps, binary_search_steps=cw_search, lr=0.01),
         lambda: ta.CW(lenet, c=1.0, kappa=0.0, steps=cw_steps, lr=0.01), y, False),
        ("DeepFool x50 os=0.02 cand=10", lambda: zat.DeepFool(lenet, steps=50, overshoot=0.02, candidates=10),
         lambda: ta.DeepFool(lenet, steps=50, overshoot=0.02), y, False),
        (f"L-BFGS targeted c=0.01 5x{lb_steps}",
         lambda: zat.LBFGS(lenet, initial_const=0.01, steps=lb_steps, binary_search_steps=5), None, targets, True),
        (f"codebook CW-L2 targeted c=1 {cw_search}x{cw_steps}",
         lambda: zat.CodebookCWL2(lenet_cb, codebook, initial_const=1.0, steps=cw_steps,
                                  binary_search_steps=cw_search, lr=0.01, targeted=True), None, targets, True),
        ("sign(w) eps=0.3 (linear, 0/1)", lambda: zat.SignAttack(w_lin, eps=0.3), None, yb, False),
        ("MLP01 hidden-node eps=0.3 (H=20)", lambda: zat.MLP01HiddenNodeAttack(W1, b1, mlp01_predict, eps=0.3),
         None, yb, False),
    ]

    print("attack speed: zerolib vs torchattacks, one batch of MNIST test images")
    print(f"machine: {platform.machine()} {platform.processor() or ''} | cpus {os.cpu_count()} | "
          f"affinity {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} | "
          f"load avg at start {load_start:.2f}")
    print(f"python {platform.python_version()} | torch {torch.__version__} | threads {torch.get_num_threads()} | "
          f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "") +
          f" | torchattacks {getattr(ta, '__version__', 'not installed')}")
    print(f"images {len(x)} | LeNet {'untrained (seeded)' if args.untrained else 'trained 1 epoch on %d' % len(xtr)}"
          f" ({train_s:.1f} s): clean accuracy {acc:.3f}; codebook LeNet (d=128) {acc_cb:.3f}"
          f" | repeats {args.repeats} (median)")
    header = (f"{'attack':36s} {'ours s':>8s} {'theirs s':>9s} {'ratio':>7s}  {'ours succ':>9s} {'theirs succ':>11s}"
              f"  {'ours L2':>8s} {'theirs L2':>9s}")
    print(header)
    print("-" * len(header))

    def success(model_, adv, labels, targeted, codebook_model=False):
        with torch.no_grad():
            out = model_(adv)
            pred = cw_loss.predict(out) if codebook_model else out.argmax(1)
        hit = pred == labels if targeted else pred != labels
        return hit.float().mean().item()

    rows = []
    for name, mine, theirs, labels, targeted in cases:
        is_cb = name.startswith("codebook")
        is_binary = name.startswith(("sign", "MLP01"))
        t_theirs = s_theirs = l2_theirs = float("nan")
        note = ""
        fns = [lambda: mine()(x, labels)]
        sub = len(x)
        if theirs is not None and ta is not None:
            if name.startswith("DeepFool"):
                sub = min(args.deepfool_subset, len(x))

            def run_theirs():
                atk = theirs()
                if targeted:
                    atk.set_mode_targeted_by_label(quiet=True)
                return atk(x[:sub], labels[:sub])

            fns.append(run_theirs)
        medians, rounds, outs = timed(fns, args.repeats, device)
        t_ours, adv = medians[0], outs[0]
        if is_binary:
            s_ours = (mlp01_predict(adv) != labels).float().mean().item() if "MLP01" in name else float("nan")
        else:
            s_ours = success(lenet_cb if is_cb else lenet, adv, labels, targeted, is_cb)
        l2_ours = (adv - x).flatten(1).norm(dim=1).mean().item()
        if len(fns) == 2:
            t_theirs, adv_t = medians[1], outs[1]
            if sub < len(x):
                t_theirs *= len(x) / sub
                note = f"  (theirs timed on {sub} images, scaled x{len(x) / sub:g})"
            s_theirs = success(lenet, adv_t, labels[:sub], targeted)
            l2_theirs = (adv_t - x[:sub]).flatten(1).norm(dim=1).mean().item()
        if rounds != args.repeats:
            note += f"  ({rounds} round{'s' * (rounds > 1)})"
        ratio = t_theirs / t_ours
        rows.append((name, t_ours, t_theirs, ratio))
        print(f"{name:36s} {t_ours:8.3f} {t_theirs:9.3f} {ratio:7.2f}  {s_ours:9.3f} {s_theirs:11.3f}  "
              f"{l2_ours:8.3f} {l2_theirs:9.3f}{note}", flush=True)

    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("-" * len(header))
    print("ratio = torchattacks time / ours (> 1: ours faster); succ = success rate (untargeted: prediction"
          " changed from the label; targeted: target reached); L2 = mean L2 norm of the perturbation")
    slower = [r[0] for r in rows if r[3] == r[3] and r[3] < 1]
    print(f"slower than torchattacks: {', '.join(slower) if slower else 'none'} | load avg at end {load_end:.2f}")
    return rows


if __name__ == "__main__":
    main()
