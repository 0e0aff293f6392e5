"""Paper B's experiment: one network trained with each of three heads, under the attack grids.

- :func:`fit_heads`: the network (e.g. ``"densenet"``) trained with each head,
  ``O:SOFTMAX:CE``, ``O:SOFTMAX:MSE`` and ``R:TANH:MSE`` (the codebook of length
  ``code_length`` from ``code_seed``, the paper's secret), through the model cache.
- :func:`head_grids`: for each model, the untargeted grid (Table 3) and the targeted
  grid with seeded random targets (Table 5, plus the codebook-aware CW-L2 of Table 7
  on the codebook model), each attack with the model's own loss; the untargeted
  adversaries of the transfer source (``O:SOFTMAX:CE``) are also scored on the other
  models (Table 6). Finished cells are kept in the model cache, so a killed run
  resumes where it stopped.
- :func:`attack_subset`: the seeded test rows the grids attack.

The long table has one row per (model, setting, attack, value, scored_on): setting
"untargeted" or "targeted", scored_on "self" or the model the source's adversaries
were scored on. Accuracies and success rates are percentages.
"""

from __future__ import annotations

import pandas as pd
import torch

from zerolib.experiments.common.cache import ModelCache, _jsonable
from zerolib.experiments.common.attack_grid import COLUMNS, GridAttack, attack_grid, random_targets
from zerolib.losses import Codebook
from zerolib.experiments.common.head_models import HEAD_MODELS, fit_heads, head_key
from zerolib.experiments.common.summary import fmt, over_seeds

__all__ = ["HEAD_MODELS", "fit_heads", "head_key", "attack_subset", "grid_spec", "head_grids", "clean_accuracies",
           "head_cells", "beside_paper", "smallest_full_success"]

SOURCE = "O:SOFTMAX:CE"


def attack_subset(n_rows: int, n: int | None, seed: int) -> torch.Tensor:
    """The indices of the ``n`` test rows the grids attack: a seeded random subset
    (all rows, in order, when ``n`` is None or at least ``n_rows``)."""
    if n is None or n >= n_rows:
        return torch.arange(n_rows)
    if n < 1:
        raise ValueError(f"n must be >= 1 (or None for all rows), got {n}")
    return torch.randperm(n_rows, generator=torch.Generator().manual_seed(int(seed)))[:n].sort().values


def grid_spec(grid: list[GridAttack]) -> list[dict]:
    """A grid as plain data (for cache keys and run records)."""
    return [{"name": g.name, "attack": g.attack.__name__, "param": g.param, "values": list(g.values),
             "fixed": g.fixed, "raw_scores": g.raw_scores, "nested": g.nested} for g in grid]


def clean_accuracies(models: dict, x, y) -> pd.DataFrame:
    """Table 4: test accuracy (%) of each model; columns model, accuracy."""
    from zerolib.models.interface import accuracy

    return pd.DataFrame([{"model": h, "accuracy": 100.0 * accuracy(m, x, y)} for h, m in models.items()])


def head_grids(models: dict, x, y, *, n_classes: int, untargeted: list[GridAttack], targeted: list[GridAttack],
               seed: int, keys: dict, data_key: dict, source: str = SOURCE, cache: ModelCache | None = None,
               progress: bool = True) -> pd.DataFrame:
    """Tables 3, 5, 6 and 7 for ``models`` = ``{head: network}`` on the rows (x, y).

    ``keys``: ``{head: head_key(...)}``, which with ``data_key``, the rows, the grids and
    ``seed`` (the targets' and PGD's) keys the cells kept in the cache. Columns: model,
    setting, then :data:`zerolib.experiments.common.attack_grid.COLUMNS`."""
    cache = cache or ModelCache()
    missing = [h for h in models if h not in keys]
    if missing:
        raise ValueError(f"keys has no entry for {missing}")
    y = torch.as_tensor(y).long()
    targets = random_targets(y, n_classes, seed)
    rows_key = {"data": data_key, "n_rows": len(x), "rows_digest": float(torch.as_tensor(x).double().sum())}
    frames = []
    for head, model in models.items():
        others = {h: m for h, m in models.items() if h != head} if head == source else {}
        codebook = Codebook(model.codebook) if getattr(model, "codebook", None) is not None else None
        for setting, grid in (("untargeted", untargeted), ("targeted", targeted)):
            job = cache.job({"class": "HeadGrid", "model": keys[head], "setting": setting, "rows": rows_key,
                             "grid": grid_spec(grid), "seed": int(seed), "codebook": codebook is not None,
                             "transfer_to": {h: keys[h] for h in others} if setting == "untargeted" else {}})
            with job as store:
                table = attack_grid(
                    model, x, y, grid, loss=model.loss, targeted=setting == "targeted",
                    targets=targets if setting == "targeted" else None,
                    codebook=codebook if setting == "targeted" else None,
                    transfer_to=others if setting == "untargeted" else None, seed=seed, store=store,
                    progress=progress)
            frames.append(table.assign(model=head, setting=setting))
    return pd.concat(frames, ignore_index=True)[["model", "setting", *COLUMNS]]


def head_cells(grids: pd.DataFrame, clean: pd.DataFrame | None = None) -> dict:
    """One seed's results as the cells paper B's claims read (``zerolib.papers.numbers.head_cells``
    builds the paper's): ("clean", model) -> accuracy; ("untargeted", model, attack,
    value) -> accuracy; ("targeted", model, attack, value) -> success; ("transfer",
    model, attack, value) -> the model's accuracy on the source's untargeted adversaries."""
    cells = {}
    if clean is not None:
        cells.update({("clean", r.model): float(r.accuracy) for r in clean.itertuples()})
    for r in grids.itertuples():
        if r.scored_on == "self":
            key, v = (r.setting, r.model, r.attack, r.value), r.accuracy if r.setting == "untargeted" else r.success
        elif r.setting == "untargeted":
            key, v = ("transfer", r.scored_on, r.attack, r.value), r.accuracy
        else:
            continue
        cells[key] = float(v)
    return cells


def beside_paper(long: pd.DataFrame, metric: str, paper_of, rows=HEAD_MODELS, digits: int = 1) -> pd.DataFrame:
    """A table of ``long`` (a seed column, columns row, attack, value and ``metric``):
    a row per model (column ``model``), a column ``"<attack> <value>"`` per cell, each
    ``mean ± sd (paper)`` with ``paper_of(model, attack, value)`` (None: not shown)."""
    s = over_seeds(long, ["row", "attack", "value"], value=metric)
    cols = list(dict.fromkeys(zip(s.attack, s.value)))
    idx = {(r.row, r.attack, r.value): r for r in s.itertuples()}
    table = []
    for m in rows:
        line = [m]
        for a, v in cols:
            r = idx.get((m, a, v))
            text = "" if r is None else fmt(r.mean, r.std, digits)
            p = paper_of(m, a, v)
            if r is not None and p is not None:
                text += f" ({p:.{digits}f})"
            line.append(text)
        table.append(line)
    return pd.DataFrame(table, columns=["model"] + [f"{a} {v:g}" for a, v in cols])


def smallest_full_success(model, g: GridAttack, x, y, values, *, loss, targeted: bool, seed: int = 0):
    """The first value of ``values`` (ascending) at which attack ``g`` succeeds on every
    row of (x, y) -- fooled, or for ``targeted`` reaching the target ``y`` -- and its
    adversaries: ``(value, adv, reached)``; when none does, the last value with
    ``reached=False`` (paper B's Figs. 1-2 show images at that smallest eps)."""
    from zerolib.models.interface import predict

    values = sorted(values)
    if not values:
        raise ValueError("values is empty")
    y = torch.as_tensor(y).long()
    for v in values:
        adv = g.build(model, v, loss=loss, targeted=targeted, seed=seed)(x, y)
        pred = predict(model, adv).cpu()
        if bool((pred == y.cpu()).all() if targeted else (pred != y.cpu()).all()):
            return v, adv, True
    return values[-1], adv, False
