"""Mean and spread over seeds, the form every reported number of the study takes.

Each experiment is run for ``n_seeds`` independent seeds and kept in long form
(one row per seed and cell, a ``seed`` column). :func:`over_seeds` reduces it to
the mean, the sample standard deviation (``ddof=1``; NaN for one seed), the min,
the max and the number of seeds per cell; :func:`fmt` prints ``mean ± std``.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

__all__ = ["seed_list", "long_form", "over_seeds", "fmt", "wide"]


def seed_list(seed: int, n_seeds: int, run_seeds: Sequence[int] = ()) -> list[int]:
    """The seeds a notebook runs: ``seed + i`` for ``i < n_seeds``, or only ``run_seeds``
    of them. The parallel runner gives each task one seed this way (its results land in
    the caches the full run then reads), while the data subsample keeps the base ``seed``,
    so a seed computes the same numbers alone as beside the others."""
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    seeds = [int(seed) + i for i in range(int(n_seeds))]
    chosen = [int(s) for s in run_seeds]
    outside = [s for s in chosen if s not in seeds]
    if outside:
        raise ValueError(f"run_seeds {outside} are not among the seeds {seeds} (seed {seed}, n_seeds {n_seeds})")
    return [s for s in seeds if s in chosen] if chosen else seeds


def long_form(table: pd.DataFrame, seed: int, row: str = "source", col: str = "target",
              value: str = "accuracy") -> pd.DataFrame:
    """A wide table (index rows, columns cols) of one seed as long rows with a seed column."""
    df = table.copy()
    df.index.name = row
    out = df.reset_index().melt(id_vars=row, var_name=col, value_name=value)
    out.insert(0, "seed", int(seed))
    return out


def over_seeds(df: pd.DataFrame, by: Sequence[str], value: str = "accuracy") -> pd.DataFrame:
    """Per group of ``by``: mean, std (ddof=1), min, max and n over the seeds."""
    if "seed" not in df.columns:
        raise ValueError("over_seeds needs a 'seed' column")
    dup = df.duplicated(list(by) + ["seed"])
    if dup.any():
        raise ValueError(f"{int(dup.sum())} rows repeat a ({', '.join(by)}, seed) cell")
    g = df.groupby(list(by), sort=False)[value]
    out = g.agg(mean="mean", std="std", min="min", max="max", n="count").reset_index()
    return out


def fmt(mean: float, std: float, digits: int = 1) -> str:
    """``mean ± std`` (just the mean when the spread is undefined)."""
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def wide(summary: pd.DataFrame, row: str, col: str, digits: int = 1, rows=None, cols=None) -> pd.DataFrame:
    """A ``mean ± std`` string table from :func:`over_seeds` output."""
    cells = {(r[row], r[col]): fmt(r["mean"], r["std"], digits) for _, r in summary.iterrows()}
    rows = rows or list(dict.fromkeys(summary[row]))
    cols = cols or list(dict.fromkeys(summary[col]))
    return pd.DataFrame([[cells.get((r, c), "") for c in cols] for r in rows], index=rows, columns=cols)
