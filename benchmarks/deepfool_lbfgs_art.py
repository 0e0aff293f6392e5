"""Cross-checks behind paper B's DeepFool (Table 3) and L-BFGS (Table 5) cells, MNIST.

Part ``deepfool``: a DenseNet (``densenet_small``, the mnist-cpu profile's network) with
the O:SOFTMAX:CE head, trained here with Adam on a stratified ``--n-train`` rows; on
``--n-attack`` seeded test rows (``zerolib.experiments.loss_targets.attack_subset``, as the grid)
it runs, at the step limits of paper B's grid (10, 20, 30, 40), with paper B's
settings (cleverhans defaults: 10 candidates, overshoot 0.02, inputs clipped to [0, 1]):

- ``zerolib``: ``zerolib.attacks.DeepFool``, one run recording every limit;
- ``pre-fix``: the same steps but linearised at the overshot point
  ``clip(x + 1.02 r)`` (zerolib before the fix; a compact copy kept here);
- ``ART``: ``art.attacks.evasion.DeepFool`` (``epsilon`` = overshoot 0.02,
  ``nb_grads`` 10) on a ``PyTorchClassifier`` with ``clip_values`` (0, 1).

Printed per limit: accuracy (% of rows still labelled with their true label, as the
grid counts it; clean-misclassified rows count as errors), success (% of the clean-
correct rows fooled), median L2 of the successes, and wall time.

Part ``lbfgs``: the same network with the R:TANH:MSE head (d = 128, code seed 2024);
targeted L-BFGS at paper B's c grid (5 binary-search steps, ``--lbfgs-steps``
iterations each, 40 as the mnist-cpu profile caps them) on ``--lbfgs-rows`` rows with
``zerolib.experiments.common.attack_grid.random_targets``:

- ``zerolib``: ``zerolib.attacks.LBFGS`` with the model's loss (MSE to the target's
  codeword) and the model's decision (nearest codeword) for the binary search;
- ``argmax-check``: the same optimisation with cleverhans' bookkeeping, where a search
  step counts as a success when the argmax of the d outputs equals the argmax of the
  target vector (here the target's codeword), and the original image is returned for
  rows that never "succeed"; scored, like everything here, by the model's decision.

and untargeted DeepFool on that model with the codebook-aware scores (zerolib's grid)
against DeepFool reading the 128 raw outputs as class logits and attacking the model's
own argmax over them (``y=None``; cleverhans' DeepFool on a model whose "logits" are
the 128 outputs).

Usage:
    ZEROLIB_DATA=<data root> .venv/bin/python benchmarks/deepfool_lbfgs_art.py \\
        [--part deepfool|lbfgs|all] [--n-train 10000] [--epochs 4] [--n-attack 100] \\
        [--lbfgs-rows 30] [--lbfgs-steps 40] [--threads 1] [--model-dir DIR]

The mnist-cpu profile trains 8 epochs with the rate cut at epoch 6 (``--epochs 8
--milestone 6``); the default 4 epochs keep a run within a few minutes on 2 cores.
``--model-dir`` keeps the trained weights there so a second part reuses them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zerolib import load_dataset  # noqa: E402
from zerolib.attacks import LBFGS, DeepFool  # noqa: E402
from zerolib.attacks.base import ConstSearch  # noqa: E402
from zerolib.experiments.common.attack_grid import random_targets  # noqa: E402
from zerolib.experiments.loss_targets import attack_subset  # noqa: E402
from zerolib.losses import CrossEntropy  # noqa: E402
from zerolib.models import make_model, train  # noqa: E402
from zerolib.study.runner import cpu_model  # noqa: E402

LIMITS = (10, 20, 30, 40)
CONSTS = (0.01, 0.1, 1.0, 10.0)


def machine_line() -> str:
    try:
        import art

        art_version = art.__version__
    except ImportError:
        art_version = "not installed"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s); ART {art_version}; load average {load}")


def fitted(head: str, data, args) -> torch.nn.Module:
    kw = {"code_length": 128, "code_seed": 2024} if head == "codebook" else {}
    model = make_model("densenet_small", tuple(data.x_train.shape[1:]), data.n_classes, head=head, seed=args.seed, **kw)
    path = None
    if args.model_dir:
        path = Path(args.model_dir) / f"{head}_n{args.n_train}_e{args.epochs}_m{args.milestone}_s{args.seed}.pt"
        if path.exists():
            model.load_state_dict(torch.load(path, weights_only=True))
            return model.eval()
    t = time.perf_counter()
    train(model, (data.x_train, data.y_train), epochs=args.epochs, optimizer="adam", lr=1e-3, batch_size=64,
          lr_milestones=[args.milestone] if 0 < args.milestone < args.epochs else [], seed=args.seed, device="cpu",
          progress=False)
    print(f"trained {head} in {time.perf_counter() - t:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
    return model.eval()


def deepfool_at_overshoot(model, x, y, limits, overshoot=0.02, eps=1e-5):
    """zerolib's DeepFool before the fix, for all classes: each step linearised at the
    overshot point clip(x + (1 + overshoot) r), which is also what is checked and kept."""
    xf = x.flatten(1)
    r, adv = torch.zeros_like(xf), xf.clone()
    with torch.no_grad():
        active = model(x).argmax(1) == y
    rows = torch.arange(len(y))
    out_at = {}
    for t in range(1, max(limits) + 1):
        z = adv.view_as(x).clone().requires_grad_(True)
        out = model(z)
        active &= out.detach().argmax(1) == y
        diff = out - out.gather(1, y[:, None])
        jac = torch.stack([torch.autograd.grad(diff[:, k].sum(), z, retain_graph=True)[0].flatten(1)
                           for k in range(out.shape[1])], 1)
        with torch.no_grad():
            wn = jac.norm(dim=2)
            pert = (diff.abs() + eps) / wn.clamp_min(1e-12)
            pert[rows, y] = float("inf")
            k = pert.argmin(1)
            step = pert[rows, k, None] * jac[rows, k] / wn[rows, k, None].clamp_min(1e-12)
            step[~active] = 0
            r = (xf + r + step).clamp(0, 1) - xf
            adv = (xf + (1 + overshoot) * r).clamp(0, 1)
        if t in limits:
            out_at[t] = adv.view_as(x).clone()
    return out_at


def summary(model, x, y, adv, predict=None) -> tuple[float, float, float]:
    predict = predict or (lambda a: model(a).argmax(1))
    with torch.no_grad():
        clean_ok, pred = predict(x) == y, predict(adv)
    fooled = (pred != y) & clean_ok
    l2 = (adv - x).flatten(1).norm(dim=1)
    med = float(l2[fooled].median()) if bool(fooled.any()) else float("nan")
    return 100 * float((pred == y).float().mean()), 100 * float(fooled.sum() / clean_ok.sum().clamp_min(1)), med


def part_deepfool(data, args) -> None:
    model = fitted("ce", data, args)
    for p in model.parameters():
        p.requires_grad_(False)
    rows = attack_subset(len(data.x_test), args.n_attack, args.seed)
    x, y = data.x_test[rows], data.y_test[rows]
    with torch.no_grad():
        clean = 100 * float((model(x).argmax(1) == y).float().mean())
    print(f"\nDeepFool, O:SOFTMAX:CE, {len(x)} rows, clean accuracy {clean:.1f} %")
    print(f"{'variant':10s} {'m':>3s} {'accuracy %':>10s} {'success %':>10s} {'median L2':>10s} {'time s':>7s}")
    t = time.perf_counter()
    atk = DeepFool(model, steps=max(LIMITS), overshoot=0.02, candidates=10, record_at=LIMITS)
    atk(x, y)
    took = time.perf_counter() - t
    for m in LIMITS:
        print(f"{'zerolib':10s} {m:3d} {'%10.1f %10.1f %10.3f' % summary(model, x, y, atk.recorded[m])} "
              f"{took if m == max(LIMITS) else float('nan'):7.1f}")
    t = time.perf_counter()
    old = deepfool_at_overshoot(model, x, y, LIMITS)
    took = time.perf_counter() - t
    for m in LIMITS:
        print(f"{'pre-fix':10s} {m:3d} {'%10.1f %10.1f %10.3f' % summary(model, x, y, old[m])} "
              f"{took if m == max(LIMITS) else float('nan'):7.1f}")
    try:
        from art.attacks.evasion import DeepFool as ArtDeepFool
        from art.estimators.classification import PyTorchClassifier
    except ImportError:
        print("ART not installed: no ART rows")
        return
    clf = PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]),
                            nb_classes=data.n_classes, clip_values=(0.0, 1.0), device_type="cpu")
    for m in LIMITS:
        t = time.perf_counter()
        adv = ArtDeepFool(clf, max_iter=m, epsilon=0.02, nb_grads=10, batch_size=len(x), verbose=False).generate(
            x.numpy())
        took = time.perf_counter() - t
        print(f"{'ART':10s} {m:3d} {'%10.1f %10.1f %10.3f' % summary(model, x, y, torch.from_numpy(adv))} {took:7.1f}")


class ArgmaxCheckLBFGS(LBFGS):
    """zerolib's L-BFGS optimisation with cleverhans' success bookkeeping: a search step
    succeeds where argmax(outputs) == argmax(target vector), here the target's codeword."""

    def perturb(self, x, y):
        codes = self.loss.codebook.codes.to(x.device, x.dtype)
        search = ConstSearch(x.shape[0], self.initial_const, x)
        best_l2 = torch.full((x.shape[0],), float("inf"), device=x.device, dtype=x.dtype)
        best_adv = x.clone()
        for _ in range(self.binary_search_steps):
            adv = self._minimise(x, y, search.const)
            with torch.no_grad():
                success = self.forward(adv).argmax(1) == codes[y].argmax(1)
                l2 = (adv - x).pow(2).flatten(1).sum(1)
                better = success & (l2 < best_l2)
                best_l2[better], best_adv[better] = l2[better], adv[better]
                search.update(success)
        return best_adv


def part_lbfgs(data, args) -> None:
    model = fitted("codebook", data, args)
    for p in model.parameters():
        p.requires_grad_(False)
    decide = model.loss.predict
    rows = attack_subset(len(data.x_test), args.n_attack, args.seed)
    targets = random_targets(data.y_test[rows], data.n_classes, args.seed)[: args.lbfgs_rows]
    rows = rows[: args.lbfgs_rows]
    x, y = data.x_test[rows], data.y_test[rows]
    with torch.no_grad():
        clean = 100 * float((decide(model(x)) == y).float().mean())
    print(f"\nL-BFGS, R:TANH:MSE, {len(x)} rows, random targets, clean accuracy {clean:.1f} %, "
          f"5 binary-search steps x {args.lbfgs_steps} iterations")
    print(f"{'variant':13s} {'c':>5s} {'success %':>10s} {'mean L2':>8s} {'time s':>7s}")
    for c in CONSTS:
        for name, cls in (("zerolib", LBFGS), ("argmax-check", ArgmaxCheckLBFGS)):
            t = time.perf_counter()
            adv = cls(model, initial_const=c, binary_search_steps=5, steps=args.lbfgs_steps, loss=model.loss,
                      targeted=True)(x, targets)
            took = time.perf_counter() - t
            with torch.no_grad():
                hit = decide(model(adv)) == targets
            l2 = (adv - x).flatten(1).norm(dim=1)
            mean_l2 = float(l2[hit].mean()) if bool(hit.any()) else float("nan")
            print(f"{name:13s} {c:5g} {100 * float(hit.float().mean()):10.1f} {mean_l2:8.3f} {took:7.1f}")
    rows = attack_subset(len(data.x_test), args.n_attack, args.seed)
    x, y = data.x_test[rows], data.y_test[rows]
    print(f"\nDeepFool, R:TANH:MSE, {len(x)} rows: accuracy % (the model's decision) after m steps")
    aware = DeepFool(model, steps=max(LIMITS), loss=model.loss, record_at=LIMITS)
    aware(x, y)
    raw = DeepFool(model, steps=max(LIMITS), loss=CrossEntropy(), record_at=LIMITS)
    raw(x, None)
    for name, atk in (("codebook-aware scores (zerolib's grid)", aware), ("raw outputs as logits, y=None", raw)):
        accs = [summary(model, x, y, atk.recorded[m], predict=lambda a: decide(model(a)))[0] for m in LIMITS]
        print(f"{name:40s} " + "  ".join(f"m={m}: {a:5.1f}" for m, a in zip(LIMITS, accs)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["deepfool", "lbfgs", "all"], default="all")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--milestone", type=int, default=6, help="epoch at which the rate drops 10x (if < epochs)")
    ap.add_argument("--n-attack", type=int, default=100)
    ap.add_argument("--lbfgs-rows", type=int, default=30)
    ap.add_argument("--lbfgs-steps", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model-dir", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(machine_line())
    data = load_dataset(args.dataset, n_train=args.n_train, seed=args.seed)
    print(f"{args.dataset}: {len(data.x_train)} training rows, densenet_small, Adam 1e-3, {args.epochs} epochs, "
          f"seed {args.seed}")
    if args.part in ("deepfool", "all"):
        part_deepfool(data, args)
    if args.part in ("lbfgs", "all"):
        part_lbfgs(data, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
