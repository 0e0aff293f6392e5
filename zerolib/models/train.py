"""One training loop for every torch network here: seeded, with tqdm progress and
per-epoch checkpoints that a crashed or interrupted run resumes from exactly.

    history = train(model, (x_train, y_train), epochs=20, lr=0.1, seed=0,
                    checkpoint_path="outputs/densenet_ce.pt")

Reproducibility: all randomness of a run (the minibatch order, dropout, a
DataLoader's shuffling) comes from torch's global RNG and one CPU generator,
both seeded from ``seed`` inside ``torch.random.fork_rng`` (the caller's global
RNG state is left as it was). A checkpoint holds the weights (with buffers such
as batch-norm statistics), the optimizer state, the finished epochs, the loss
history and those RNG states, so resuming replays the remaining epochs exactly
as an uninterrupted run would (bit for bit on CPU; on CUDA up to the
nondeterminism of some kernels). The learning-rate schedule is a function of the
epoch and step, so it needs no state. The augmentations (random flips and
shifted crops) draw from the run's generator, so they resume exactly too. The checkpoint names
its schedule and precision (and, for the one-cycle schedule, whose rate depends on it, the
total of epochs) and its ``steps_per_epoch``; a run with other ones refuses to resume from it (it
would mix two runs).

Precision: ``"fp32"`` trains in single precision; ``"bf16"`` runs the forward pass under
bfloat16 autocast (convolutions and matrix products in bfloat16, the loss and the weights,
their gradients and the optimizer state in float32), about twice as fast on CPUs with
AVX-512 BF16 (2.2x for the width-32 ConvNet on CIFAR10 on 2 cores). It changes only how the
weights are found: the trained model is float32 and is evaluated and attacked in float32.

Schedules: ``"step"`` multiplies ``lr`` by ``lr_gamma`` at each milestone epoch
(DenseNet's recipe); ``"onecycle"`` (Smith's one-cycle, the fast recipe of the
``-cpu`` profiles) rises linearly from ``lr / 10`` to ``lr`` over the first
``warmup`` of all steps and falls along a half cosine to 0 by the last.

Safety: a checkpoint holds tensors and plain Python values only; it is written
with ``torch.save`` through ``zerolib._io.atomic_write`` (a crash never leaves
a half-written file) and read with ``torch.load(weights_only=True)``, which
cannot execute code.
"""

from __future__ import annotations

import itertools
import math
import numbers
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from zerolib._checks import require
from zerolib._io import atomic_write
from zerolib.torchutil import resolve_device

__all__ = ["train", "load_checkpoint", "as_augmentations", "AUGMENTATIONS", "SCHEDULES", "PRECISIONS"]

AUGMENTATIONS = ("flip", "crop")
"""``flip``: mirror each image left-right with probability 1/2 (for natural images, not
digits); ``crop``: shift each image by up to ``crop_pad`` pixels each way (a random crop
of the image padded by reflection)."""
SCHEDULES = ("step", "onecycle")
PRECISIONS = ("fp32", "bf16")

_FORMAT = 1  # checkpoint layout version


def _tensors(data):
    """(x, y) tensors of a tuple, or None for a DataLoader / Dataset."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(a)) if isinstance(a, np.ndarray) else a for a in data)
        require(isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor), "data must be (x, y) tensors")
        require(x.ndim >= 2 and x.is_floating_point(), f"x must be a float batch (N, ...), got {tuple(x.shape)} "
               f"{x.dtype}")
        require(y.ndim == 1 and len(y) == len(x), f"y must have shape ({len(x)},) to match x, got {tuple(y.shape)}")
        require(len(x) > 0, "data is empty")
        require(bool(torch.isfinite(x).all()), "x contains NaN or inf")
        return x, y
    return None


def _batches(data, tensors, batch_size: int, gen: torch.Generator):
    """Yield (x, y) minibatches: shuffled tensors, or the loader's own batches."""
    if tensors is not None:
        x, y = tensors
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]
        return
    loader = data
    if not isinstance(data, torch.utils.data.DataLoader):
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, generator=gen)
    yield from loader


def as_augmentations(augment) -> tuple[str, ...]:
    """``augment`` as a tuple of names: one name, a list of them, or none (None, ())."""
    return (augment,) if isinstance(augment, str) else tuple(augment or ())


def _augment(xb: torch.Tensor, augment, crop_pad: int, gen: torch.Generator) -> torch.Tensor:
    """``xb`` (N, C, H, W) with the ``augment`` transformations drawn from ``gen``."""
    require(xb.ndim == 4, f"augment {augment} needs image batches (N, C, H, W), got shape {tuple(xb.shape)}")
    require("crop" not in augment or crop_pad < min(xb.shape[2:]),
            f"crop_pad {crop_pad} must be smaller than the image ({xb.shape[2]} x {xb.shape[3]}): the crop pads by "
            "reflection")
    if "flip" in augment:
        flip = (torch.rand(len(xb), generator=gen) < 0.5).to(xb.device)
        xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    if "crop" in augment and crop_pad > 0:
        n, _, h, w = xb.shape
        padded = torch.nn.functional.pad(xb, (crop_pad,) * 4, mode="reflect")
        dy, dx = (torch.randint(0, 2 * crop_pad + 1, (n,), generator=gen).to(xb.device) for _ in range(2))
        rows = (torch.arange(h, device=xb.device)[None, :] + dy[:, None])[:, :, None]   # (N, H, 1)
        cols = (torch.arange(w, device=xb.device)[None, :] + dx[:, None])[:, None, :]   # (N, 1, W)
        xb = padded[torch.arange(n, device=xb.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2).contiguous()
    return xb


def _rate(schedule: str, lr: float, epoch: int, step: int, steps_per_epoch: int, epochs: int,
          lr_milestones, lr_gamma: float, warmup: float) -> float:
    """The learning rate of ``step`` (within ``epoch``)."""
    if schedule == "step":
        return lr * lr_gamma ** sum(epoch >= m for m in lr_milestones)
    t = (epoch * steps_per_epoch + step) / max(epochs * steps_per_epoch, 1)
    if t < warmup:
        return lr * (0.1 + 0.9 * t / warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * (t - warmup) / (1.0 - warmup)))


def _optimizer(model, optimizer, lr, momentum, weight_decay, nesterov):
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {optimizer!r}")


def _loader_generator(data):
    """The generator of a DataLoader given by the caller, if it has one."""
    return getattr(data, "generator", None) if isinstance(data, torch.utils.data.DataLoader) else None


def _rng_state(gen: torch.Generator, device: torch.device, data) -> dict:
    state = {"torch": torch.get_rng_state(), "generator": gen.get_state()}
    if _loader_generator(data) is not None:
        state["loader"] = _loader_generator(data).get_state()
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, gen: torch.Generator, device: torch.device, data):
    torch.set_rng_state(state["torch"].cpu())
    gen.set_state(state["generator"].cpu())
    if _loader_generator(data) is not None and "loader" in state:
        _loader_generator(data).set_state(state["loader"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def load_checkpoint(path, device="cpu") -> dict:
    """A checkpoint written by :func:`train`, read safely (``weights_only=True``)."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    require(isinstance(ckpt, dict) and ckpt.get("format") == _FORMAT, f"{path} is not a zerolib training checkpoint")
    return ckpt


def train(model: nn.Module, data, loss=None, epochs: int = 10, *, optimizer: str = "sgd", lr: float = 0.01,
          momentum: float = 0.9, weight_decay: float = 0.0, nesterov: bool = False, batch_size: int = 128,
          lr_milestones=(), lr_gamma: float = 0.1, schedule: str = "step", warmup: float = 0.25,
          augment=(), crop_pad: int = 2, precision: str = "fp32", steps_per_epoch: int | None = None, seed: int = 0,
          device="auto", checkpoint_path=None, resume: bool = True, progress: bool = True) -> list[float]:
    """Train ``model`` in place; return the mean training loss of every epoch.

    Args:
        model: an ``nn.Module``; moved to ``device``, left in eval mode at the end.
        data: ``(x, y)`` tensors (shuffled each epoch by the run's generator), a
            ``torch.utils.data.Dataset``, or a ``DataLoader`` (used as given; its
            shuffling draws from the seeded global RNG, or from its own
            ``generator``, whose state the checkpoint also keeps).
        loss: ``loss(outputs, y)`` -> a scalar, e.g. a ``zerolib.losses`` adapter;
            default ``model.loss`` (the head's adapter of a ``HeadNet``).
        epochs: total epochs, counting those a resumed checkpoint already holds.
        optimizer: ``"sgd"`` (with ``momentum``, ``nesterov``), ``"adam"`` (``weight_decay`` as an
            L2 term of the gradient) or ``"adamw"`` (decoupled weight decay). Adam's steps do not
            scale with the loss, so the three heads' losses (cross-entropy, and MSE averaged
            over 10 or 128 outputs) train at one learning rate.
        lr, weight_decay: learning rate and L2 penalty.
        lr_milestones, lr_gamma: the learning rate is multiplied by ``lr_gamma`` at
            each milestone epoch (DenseNet: 50 % and 75 % of the epochs).
        schedule: ``"step"`` (the milestones) or ``"onecycle"`` (warm-up over the
            ``warmup`` fraction of the steps, then a half cosine to 0; see above).
        augment: some of :data:`AUGMENTATIONS` (``"flip"``, ``"crop"``), applied to
            each minibatch of images (N, C, H, W); ``crop_pad``: the crop's shift.
        precision: ``"fp32"`` or ``"bf16"`` (the forward pass under bfloat16 autocast; see above).
        steps_per_epoch: stop each epoch after this many optimizer steps (the first batches of
            its shuffled order); ``None``, the default, passes over all the data. A dry run's
            one step (``zerolib.study.dry_run``): every code path of training at a batch's
            cost, the data whole.
        batch_size: rows per step (tensors or a Dataset).
        seed: seeds the minibatch order and all other randomness of the run.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ...
        checkpoint_path: where to save a checkpoint after every epoch; ``None``
            for none.
        resume: continue from an existing checkpoint (its seed must match);
            ``False`` starts afresh and overwrites it.
        progress: show a tqdm bar over the epochs.
    """
    loss, tensors = _check_args(model, data, loss, epochs, batch_size, lr, seed)
    augment = _check_schedule(schedule, warmup, lr_milestones, augment, crop_pad)
    require(precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {precision!r}")
    require(steps_per_epoch is None or (isinstance(steps_per_epoch, numbers.Integral)
                                        and not isinstance(steps_per_epoch, bool) and steps_per_epoch >= 1),
            f"steps_per_epoch must be None or an integer >= 1, got {steps_per_epoch!r}")
    device = resolve_device(device)
    model.to(device)
    opt = _optimizer(model, optimizer, lr, momentum, weight_decay, nesterov)
    gen = torch.Generator().manual_seed(int(seed))
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    rng_devices = [device] if device.type == "cuda" else []

    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(int(seed))
        start, history = 0, []
        if path is not None and resume and path.exists():
            start, history = _resume(path, model, opt, gen, device, data, seed, epochs, schedule, precision,
                                     steps_per_epoch)
        bar = tqdm(range(start, epochs), initial=start, total=epochs, desc="train", disable=not progress)
        cap = None if steps_per_epoch is None else int(steps_per_epoch)
        steps = _steps_per_epoch(data, tensors, int(batch_size)) if schedule == "onecycle" else 0
        if schedule == "onecycle" and cap is not None:
            steps = min(steps, cap)  # the one-cycle rate runs its whole course over the steps taken
        for epoch in bar:
            def rate(step, epoch=epoch):
                return _rate(schedule, lr, epoch, step, steps, epochs, lr_milestones, lr_gamma, warmup)

            batches = itertools.islice(_batches(data, tensors, int(batch_size), gen), cap)
            if augment:
                batches = ((_augment(xb, augment, int(crop_pad), gen), yb) for xb, yb in batches)
            history.append(_epoch(model, loss, opt, batches, device, rate, precision == "bf16"))
            bar.set_postfix(loss=f"{history[-1]:.4f}")
            if path is not None:
                ckpt = {"format": _FORMAT, "epoch": epoch + 1, "seed": int(seed), "epochs": int(epochs),
                        "schedule": schedule, "precision": precision, "steps_per_epoch": steps_per_epoch,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(), "rng": _rng_state(gen, device, data),
                        "history": torch.tensor(history, dtype=torch.float64)}
                atomic_write(path, lambda tmp: torch.save(ckpt, tmp))
    model.eval()
    return history


def _check_args(model, data, loss, epochs, batch_size, lr, seed):
    """The loss to train with and the (x, y) tensors of ``data`` (None for a Dataset or a
    DataLoader), or a ValueError naming the first bad argument."""
    require(isinstance(model, nn.Module), f"model must be a torch.nn.Module, got {type(model).__name__}")
    require(isinstance(epochs, numbers.Integral) and not isinstance(epochs, bool) and epochs >= 1,
            f"epochs must be an integer >= 1, got {epochs!r}")
    require(isinstance(batch_size, numbers.Integral) and batch_size >= 1, f"batch_size must be >= 1, got {batch_size!r}")
    require(isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0, f"lr must be a positive number, got {lr!r}")
    require(isinstance(seed, numbers.Integral) and not isinstance(seed, bool), f"seed must be an integer, got {seed!r}")
    if loss is None:
        loss = getattr(model, "loss", None)
    require(callable(loss), "loss must be callable as loss(outputs, y); the model has no default .loss")
    tensors = _tensors(data)
    require(tensors is not None or isinstance(data, (torch.utils.data.Dataset, torch.utils.data.DataLoader)),
            f"data must be (x, y) tensors, a Dataset or a DataLoader, got {type(data).__name__}")
    return loss, tensors


def _check_schedule(schedule, warmup, lr_milestones, augment, crop_pad) -> tuple[str, ...]:
    """The augmentations as a tuple, or a ValueError naming the bad schedule setting."""
    require(schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    require(isinstance(warmup, numbers.Real) and 0 <= warmup < 1, f"warmup must be in [0, 1), got {warmup!r}")
    require(schedule == "step" or not lr_milestones, "lr_milestones belong to schedule='step', not 'onecycle'")
    augment = as_augmentations(augment)
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    require(not unknown, f"unknown augmentations {unknown}; expected some of {AUGMENTATIONS}")
    require(isinstance(crop_pad, numbers.Integral) and crop_pad >= 0, f"crop_pad must be an integer >= 0, got {crop_pad!r}")
    return augment


def _steps_per_epoch(data, tensors, batch_size: int) -> int:
    if tensors is not None:
        return math.ceil(len(tensors[0]) / batch_size)
    if isinstance(data, torch.utils.data.DataLoader):
        return len(data)
    return math.ceil(len(data) / batch_size)


def _resume(path: Path, model, opt, gen, device, data, seed, epochs, schedule, precision,
            steps_per_epoch=None) -> tuple[int, list[float]]:
    """Load the checkpoint at ``path`` into the model, optimizer and generators; return the
    epochs it holds and their losses."""
    ckpt = load_checkpoint(path, device)
    require(int(ckpt["seed"]) == int(seed), f"checkpoint {path} was written with seed {int(ckpt['seed'])}, "
            f"not {seed}; pass resume=False to start afresh")
    written = (ckpt.get("schedule", "step"), int(ckpt.get("epochs", epochs)))
    require(written[0] == schedule and (schedule == "step" or written[1] == epochs),
            f"checkpoint {path} was written by a run with schedule {written[0]!r} over {written[1]} epochs, "
            f"not {schedule!r} over {epochs} (the one-cycle rate depends on the total); pass resume=False")
    require("precision" in ckpt, f"checkpoint {path} does not record its precision (written before zerolib "
            "recorded it), so a resume could mix two; pass resume=False")
    require(ckpt["precision"] == precision, f"checkpoint {path} was written by a run with precision "
            f"{ckpt['precision']!r}, not {precision!r} (the run would mix both); pass resume=False")
    written_cap = ckpt.get("steps_per_epoch")  # None (and a checkpoint from before the setting): every batch
    require(written_cap == steps_per_epoch, f"checkpoint {path} was written by a run with "
            f"steps_per_epoch {written_cap}, not {steps_per_epoch} (the run would mix both); pass resume=False")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    _set_rng_state(ckpt["rng"], gen, device, data)
    start, history = int(ckpt["epoch"]), [float(v) for v in ckpt["history"]]
    require(start <= epochs, f"checkpoint {path} already holds {start} epochs, more than epochs={epochs}")
    return start, history


def _epoch(model, loss, opt, batches, device, rate, bf16: bool = False) -> float:
    """One pass over ``batches``, step i at learning rate ``rate(i)``, the forward pass under
    bfloat16 autocast if ``bf16``; the mean training loss per row (computed in float32)."""
    model.train()
    total, count = 0.0, 0
    for step, (xb, yb) in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = rate(step)
        xb, yb = xb.to(device), yb.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(xb)
        value = loss(out.float(), yb)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        total += float(value.detach()) * len(xb)
        count += len(xb)
    return total / max(count, 1)
