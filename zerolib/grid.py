"""Paper B's attack grids (Tables 3 and 5) as data, and one function that runs a grid.

A grid is a list of :class:`GridAttack`: an attack class, the one parameter the
paper varies and its values, and the parameters it fixes (from
``shared/docs/study.md``). :func:`attack_grid` runs every (attack, value) cell
on a batch -- each attack is batched over images -- with the loss adapter that
matches the model (the attacker knows the head, and the codebook), and returns
one row per cell: the model's accuracy on the adversaries (%), for targeted
attacks the success rate (% predicted as the target), and the mean L2 and Linf
size of the perturbations. :func:`thin` caps the iteration counts for a CPU
profile and keeps every attack and every grid value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd
import torch
from tqdm.auto import tqdm

from .attacks import BIM, CWL2, FGSM, LBFGS, MIM, PGD, CodebookCWL2, DeepFool

__all__ = ["GridAttack", "UNTARGETED", "TARGETED", "thin", "random_targets", "attack_grid", "STEP_PARAMS"]


@dataclass(frozen=True)
class GridAttack:
    name: str
    attack: type
    param: str                  # the parameter the paper varies
    values: tuple
    fixed: dict = field(default_factory=dict)

    def build(self, model, value, *, loss, targeted: bool, seed: int = 0):
        kw = {**self.fixed, self.param: value}
        if self.attack is PGD:
            kw.setdefault("seed", seed)
        if loss is not None:  # CodebookCWL2 builds its own (the codebook's distances)
            kw["loss"] = loss
        return self.attack(model, **kw, targeted=targeted)


_CW = {"binary_search_steps": 5, "steps": 1000}
UNTARGETED = [
    GridAttack("FGSM", FGSM, "eps", (0.01, 0.05, 0.1, 0.2)),
    GridAttack("BIM", BIM, "eps", (0.01, 0.05, 0.1, 0.2), {"alpha": 0.05, "steps": 10}),
    GridAttack("MIM", MIM, "eps", (0.01, 0.05, 0.1, 0.2), {"alpha": 0.06, "steps": 10}),
    GridAttack("PGD", PGD, "eps", (0.02, 0.04, 0.08, 0.1), {"alpha": 0.01, "steps": 40, "random_start": True}),
    GridAttack("CW-L2", CWL2, "initial_const", (0.01, 0.1, 1.0, 10.0), _CW),
    GridAttack("DeepFool", DeepFool, "steps", (10, 20, 30, 40), {"candidates": 10, "overshoot": 0.02}),
]
"""Paper B, Table 3: untargeted white-box attacks and their grids."""

TARGETED = [
    GridAttack("L-BFGS", LBFGS, "initial_const", (0.01, 0.1, 1.0, 10.0), _CW),
    GridAttack("FGSM", FGSM, "eps", (0.1, 0.2, 0.3, 0.4)),
    GridAttack("BIM", BIM, "eps", (0.1, 0.2, 0.3, 0.4), {"alpha": 0.05, "steps": 10}),
    GridAttack("MIM", MIM, "eps", (0.1, 0.2, 0.3, 0.4), {"alpha": 0.06, "steps": 10}),
    GridAttack("PGD", PGD, "eps", (0.04, 0.06, 0.08, 0.1), {"alpha": 0.01, "steps": 40, "random_start": True}),
    GridAttack("CW-L2", CWL2, "initial_const", (0.01, 0.1, 1.0, 10.0), _CW),
]
"""Paper B, Table 5: targeted white-box attacks (random targets) and their grids."""

STEP_PARAMS = ("steps",)


def thin(grid: list[GridAttack], max_steps: int) -> list[GridAttack]:
    """The same attacks and grid values with every fixed iteration count capped at
    ``max_steps`` (a varied ``steps`` grid, DeepFool's, is kept as it is: it is a grid value)."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    out = []
    for g in grid:
        fixed = {k: (min(v, max_steps) if k in STEP_PARAMS else v) for k, v in g.fixed.items()}
        out.append(replace(g, fixed=fixed))
    return out


def random_targets(y: torch.Tensor, n_classes: int, seed: int) -> torch.Tensor:
    """A seeded random target per row, uniform over the classes other than its label."""
    if n_classes < 2:
        raise ValueError(f"targeted attacks need at least 2 classes, got {n_classes}")
    y = torch.as_tensor(y).long().cpu()
    shift = torch.randint(1, n_classes, y.shape, generator=torch.Generator().manual_seed(int(seed)))
    return (y + shift) % n_classes


def attack_grid(model, x, y, grid: list[GridAttack], *, loss, targeted: bool = False, targets=None,
                codebook=None, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Every (attack, value) cell of ``grid`` on (x, y): columns attack, param, value,
    accuracy (% of rows the model still labels ``y``), success (% reaching ``targets``;
    untargeted: 100 - accuracy), l2 and linf (mean perturbation size).

    ``loss``: the model's loss adapter (e.g. ``model.loss`` of a ``HeadNet``);
    ``targets``: required when ``targeted`` (see :func:`random_targets`);
    ``codebook``: with it, CW-L2 cells also run :class:`CodebookCWL2` (paper B, Table 7)."""
    from .models.interface import predict

    y = torch.as_tensor(y).long()
    if targeted and targets is None:
        raise ValueError("a targeted grid needs targets (zerolib.grid.random_targets)")
    if targeted:
        targets = torch.as_tensor(targets).long()
        if bool((targets == y).any()):
            raise ValueError("a target equals its row's label: draw targets with random_targets")
    cells = [(g, v, loss) for g in grid for v in g.values]
    if codebook is not None:  # CodebookCWL2 brings its own loss: the distances to the codewords
        cells += [(replace(g, name="codebook CW-L2", attack=CodebookCWL2, fixed={**g.fixed, "codebook": codebook}),
                   v, None) for g in grid if g.attack is CWL2 for v in g.values]
    rows = []
    for g, v, cell_loss in tqdm(cells, desc="attack grid", disable=not progress):
        atk = g.build(model, v, loss=cell_loss, targeted=targeted, seed=seed)
        adv = atk(x, targets if targeted else y)
        pred = predict(model, adv).cpu()
        delta = (adv.cpu() - x.cpu()).flatten(1)
        acc = 100.0 * float((pred == y.cpu()).float().mean())
        success = 100.0 * float((pred == targets.cpu()).float().mean()) if targeted else 100.0 - acc
        rows.append({"attack": g.name, "param": g.param, "value": v, "accuracy": acc, "success": success,
                     "l2": float(delta.norm(dim=1).mean()), "linf": float(delta.abs().max(1).values.mean())})
    return pd.DataFrame(rows, columns=["attack", "param", "value", "accuracy", "success", "l2", "linf"])
