"""Paper B's attack grids (Tables 3 and 5) as data, and one function that runs a grid.

A grid is a list of :class:`GridAttack`: an attack class, the one parameter the
paper varies and its values, and the parameters it fixes (from
paper B's Section 4 and tables). :func:`attack_grid` runs every (attack, value) cell
on a batch -- each attack is batched over images -- with the loss adapter that
matches the model (the attacker knows the head, and the codebook), and returns
one row per cell: the model's accuracy on the adversaries (%), for targeted
attacks the success rate (% predicted as the target), and the mean L2 and Linf
size of the perturbations. :func:`thin` caps the iteration counts for a CPU
profile and keeps every attack and every grid value.

Which loss each attack uses: the model's own adapter (``model.loss``: cross-entropy,
MSE to one-hot, or MSE to the codeword), as paper B adapted cleverhans, except
CW-L2, which reads the model's raw outputs as class logits whatever the head
(``raw_scores``), as cleverhans' CW-L2 does and as paper B ran it: on the codebook
model that is the attack its Table 7 calls plain CW-L2 (its success on the 128
outputs read as logits is not the model's decision, which is why it fails so
often). The codebook-aware attack is :class:`~zerolib.attacks.CodebookCWL2`.

DeepFool's grid values are step limits of one deterministic run (``nested``): a
row's iterate after m steps does not depend on the limit, so one run to the
largest limit records all four cells. :func:`with_step_limits` replaces those limits
(a dry run's: one step).

Memory: every attack runs on chunks of ``batch_size`` rows (chunk i > 0 seeds its
randomness with the grid's seed + 1000003 i, apart from every other seed's chunks), so the memory an attack needs is set by the chunk, not by
the number of rows: the paper-scale profiles attack the whole test set.

Resuming: with ``store`` (a folder, e.g. ``ModelCache.job``) each cell's rows
are written there atomically once computed and read back on a rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import re
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from zerolib.attacks import BIM, CWL2, FGSM, LBFGS, MIM, PGD, CodebookCWL2, DeepFool
from zerolib.losses import CrossEntropy
from zerolib._io import atomic_write

__all__ = ["ATTACK_BATCH", "chunk_seed", "chunked", "GridAttack", "UNTARGETED", "TARGETED", "COLUMNS", "thin", "with_step_limits", "random_targets", "attack_grid", "STEP_PARAMS"]


ATTACK_BATCH = 500
"""Rows an attack of the grid runs on at once (its chunk)."""


@dataclass(frozen=True)
class GridAttack:
    name: str
    attack: type
    param: str                  # the parameter the paper varies
    values: tuple
    fixed: dict = field(default_factory=dict)
    raw_scores: bool = False    # reads the raw outputs as logits whatever the head (cleverhans' CW-L2)
    nested: bool = False        # the values are step limits of one run (DeepFool's m)

    def build(self, model, value, *, loss, targeted: bool, seed: int = 0, **extra):
        kw = {**self.fixed, self.param: value, **extra}
        if self.attack is PGD:
            kw.setdefault("seed", seed)
        if self.attack is CodebookCWL2:
            pass  # it builds its own loss: the codebook's distances
        elif self.raw_scores:
            kw["loss"] = CrossEntropy()
        elif loss is not None:
            kw["loss"] = loss
        return self.attack(model, **kw, targeted=targeted)


_CW = {"binary_search_steps": 5, "steps": 1000}
UNTARGETED = [
    GridAttack("FGSM", FGSM, "eps", (0.01, 0.05, 0.1, 0.2)),
    GridAttack("BIM", BIM, "eps", (0.01, 0.05, 0.1, 0.2), {"alpha": 0.05, "steps": 10}),
    GridAttack("MIM", MIM, "eps", (0.01, 0.05, 0.1, 0.2), {"alpha": 0.06, "steps": 10}),
    GridAttack("PGD", PGD, "eps", (0.02, 0.04, 0.08, 0.1), {"alpha": 0.01, "steps": 40, "random_start": True}),
    GridAttack("CW-L2", CWL2, "initial_const", (0.01, 0.1, 1.0, 10.0), _CW, raw_scores=True),
    GridAttack("DeepFool", DeepFool, "steps", (10, 20, 30, 40), {"candidates": 10, "overshoot": 0.02},
               nested=True),
]
"""Paper B, Table 3: untargeted white-box attacks and their grids."""

TARGETED = [
    GridAttack("L-BFGS", LBFGS, "initial_const", (0.01, 0.1, 1.0, 10.0), _CW),
    GridAttack("FGSM", FGSM, "eps", (0.1, 0.2, 0.3, 0.4)),
    GridAttack("BIM", BIM, "eps", (0.1, 0.2, 0.3, 0.4), {"alpha": 0.05, "steps": 10}),
    GridAttack("MIM", MIM, "eps", (0.1, 0.2, 0.3, 0.4), {"alpha": 0.06, "steps": 10}),
    GridAttack("PGD", PGD, "eps", (0.04, 0.06, 0.08, 0.1), {"alpha": 0.01, "steps": 40, "random_start": True}),
    GridAttack("CW-L2", CWL2, "initial_const", (0.01, 0.1, 1.0, 10.0), _CW, raw_scores=True),
]
"""Paper B, Table 5: targeted white-box attacks (random targets) and their grids."""

STEP_PARAMS = ("steps", "binary_search_steps")


ADAM_LR = {CWL2: 5e-3}
"""Attacks whose fixed ``steps`` are Adam steps, and their default learning rate."""


def thin(grid: list[GridAttack], max_steps: int) -> list[GridAttack]:
    """The same attacks and grid values with every fixed iteration count (steps, and the binary
    searches' steps of CW-L2 and L-BFGS) capped at ``max_steps`` (a varied ``steps`` grid,
    DeepFool's, is kept as it is: it is a grid value).

    CW-L2's Adam steps have a fixed learning rate (5e-3) sized for 1000 of them: capped
    at ``max_steps`` without more, the attack cannot move far enough to succeed (on a
    small DenseNet, 10 steps per search step: 0 % targeted success where 1000 reach
    100 %). So its learning rate is scaled by the same factor the steps shrink by,
    keeping the total distance Adam can travel (lr x steps) the paper's; L-BFGS and the
    sign-gradient attacks take their own step sizes and are only capped."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    out = []
    for g in grid:
        fixed = {k: (min(v, max_steps) if k in STEP_PARAMS else v) for k, v in g.fixed.items()}
        if g.attack in ADAM_LR and fixed.get("steps", 0) < g.fixed.get("steps", 0):
            fixed["lr"] = g.fixed.get("lr", ADAM_LR[g.attack]) * g.fixed["steps"] / fixed["steps"]
        out.append(replace(g, fixed=fixed))
    return out


def with_step_limits(grid: list[GridAttack], values) -> list[GridAttack]:
    """The same grid with the step limits of its nested attack (DeepFool's m, the grid of
    paper B's Table 3 that varies ``steps``) replaced by ``values`` (increasing integers >= 1).
    A dry run sets them to one step; the other attacks and their values are left as they are."""
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"step limits must be a list of integers >= 1, got {values!r}")
    values = tuple(values)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in values):
        raise ValueError(f"step limits must be integers >= 1, got {list(values)}")
    if list(values) != sorted(set(values)):
        raise ValueError(f"step limits must increase, got {list(values)}")
    nested = [g for g in grid if g.nested]
    if not nested:
        raise ValueError("the grid has no attack that varies a step limit")
    return [replace(g, values=values) if g.nested else g for g in grid]


def random_targets(y: torch.Tensor, n_classes: int, seed: int) -> torch.Tensor:
    """A seeded random target per row, uniform over the classes other than its label."""
    if n_classes < 2:
        raise ValueError(f"targeted attacks need at least 2 classes, got {n_classes}")
    y = torch.as_tensor(y).long().cpu()
    shift = torch.randint(1, n_classes, y.shape, generator=torch.Generator().manual_seed(int(seed)))
    return (y + shift) % n_classes


COLUMNS = ["attack", "param", "value", "scored_on", "accuracy", "success", "l2", "linf"]


def _cell_file(store: Path, name: str, value) -> Path:
    return store / (re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{name}={value}") + ".csv")


def attack_grid(model, x, y, grid: list[GridAttack], *, loss, targeted: bool = False, targets=None,
                codebook=None, transfer_to: dict | None = None, seed: int = 0, store=None,
                batch_size: int = ATTACK_BATCH, progress: bool = True) -> pd.DataFrame:
    """Every (attack, value) cell of ``grid`` on (x, y): columns attack, param, value,
    scored_on ("self": ``model``), accuracy (% of rows the model still labels ``y``),
    success (% reaching ``targets``; untargeted: 100 - accuracy), l2 and linf (mean
    perturbation size).

    ``loss``: the model's loss adapter (e.g. ``model.loss`` of a ``HeadNet``);
    ``targets``: required when ``targeted`` (see :func:`random_targets`);
    ``codebook``: with it, CW-L2 cells also run :class:`CodebookCWL2` (paper B, Table 7);
    ``transfer_to``: ``{name: model}`` that the same adversaries are also scored on
    (black-box transfer, paper B's Table 6), a row each with ``scored_on`` = name;
    ``store``: a folder where finished cells are kept (a rerun reads them back);
    ``batch_size``: rows attacked at once (see the module's note on memory)."""
    from zerolib.models.interface import predict

    y = torch.as_tensor(y).long()
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if targeted and targets is None:
        raise ValueError("a targeted grid needs targets (zerolib.experiments.common.attack_grid.random_targets)")
    if targeted:
        targets = torch.as_tensor(targets).long()
        if targets.shape != y.shape:
            raise ValueError(f"targets must have shape {tuple(y.shape)} like y, got {tuple(targets.shape)}")
        if bool((targets == y).any()):
            raise ValueError("a target equals its row's label: draw targets with random_targets")
    scored = {"self": model, **(transfer_to or {})}
    if "self" in (transfer_to or {}):
        raise ValueError("transfer_to must not name a model 'self': that is the attacked model's row")
    attacks = list(grid)
    if codebook is not None:
        attacks += [replace(g, name="codebook CW-L2", attack=CodebookCWL2, raw_scores=False,
                            fixed={**g.fixed, "codebook": codebook}) for g in grid if g.attack is CWL2]
    store = Path(store) if store is not None else None

    def rows_of(g, v, adv):
        delta = (adv.cpu() - x.cpu()).flatten(1)
        l2, linf = float(delta.norm(dim=1).mean()), float(delta.abs().max(1).values.mean())
        out = []
        for name, m in scored.items():
            pred = predict(m, adv).cpu()
            acc = 100.0 * float((pred == y.cpu()).float().mean())
            success = 100.0 * float((pred == targets.cpu()).float().mean()) if targeted else 100.0 - acc
            out.append({"attack": g.name, "param": g.param, "value": v, "scored_on": name, "accuracy": acc,
                        "success": success, "l2": l2, "linf": linf})
        return pd.DataFrame(out, columns=COLUMNS)

    labels = targets if targeted else y
    frames = []
    bar = tqdm(total=sum(len(g.values) for g in attacks), desc="attack grid", disable=not progress)
    for g in attacks:
        files = {v: _cell_file(store, g.name, v) for v in g.values} if store is not None else {}
        done = {v: pd.read_csv(files[v]) for v in g.values if store is not None and files[v].exists()}
        bar.update(len(done))
        todo = [v for v in g.values if v not in done]
        advs = {}
        if g.nested and todo:  # one run to the largest step limit records the others
            advs = chunked(lambda xc, tc, i: _recorded(g, model, todo, xc, tc, loss=loss, targeted=targeted,
                                                        seed=chunk_seed(seed, i)), x, labels, batch_size)
        for v in todo:
            adv = advs[v] if v in advs else chunked(
                lambda xc, tc, i: g.build(model, v, loss=loss, targeted=targeted, seed=chunk_seed(seed, i))(xc, tc),
                x, labels, batch_size)
            done[v] = rows_of(g, v, adv)
            if store is not None:
                atomic_write(files[v], lambda tmp, rows=done[v]: rows.to_csv(tmp, index=False))
            bar.update()
        frames += [done[v] for v in g.values]
    bar.close()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def _recorded(g: GridAttack, model, values, x, t, **build) -> dict:
    """A nested attack's adversaries at each of ``values`` (step limits), from one run."""
    atk = g.build(model, max(values), record_at=tuple(values), **build)
    atk(x, t)
    return {v: atk.recorded[v] for v in values}


def chunk_seed(seed: int, i: int) -> int:
    """Chunk ``i``'s seed: the grid's for the first chunk (a grid of one chunk is unchanged), and
    far from every small seed's chunks after it (seed s, chunk i never meets seed s + 1, chunk 0)."""
    return int(seed) + 1_000_003 * int(i)


def chunked(run, x, t, batch_size: int):
    """``run(x_chunk, t_chunk, i)`` on consecutive chunks of ``batch_size`` rows, its outputs
    (tensors, or dicts of tensors) joined in row order."""
    outs = [run(x[s:s + batch_size], t[s:s + batch_size], i)
            for i, s in enumerate(range(0, len(x), batch_size))]
    if isinstance(outs[0], dict):
        return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
    return torch.cat(outs)
