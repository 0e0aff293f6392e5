"""A 95 % interval for a claim's quantity that counts both sources of noise in our numbers.

A claim's quantity ``q`` is computed per seed from cells that are, for most claims, accuracies
(%) measured on ``n`` test rows. Its mean over ``k`` seeds varies for two reasons:

- **seeds**: another seed trains other models (and draws other attacks, batches, subsamples);
  the sample variance ``s^2`` of ``q`` over the seeds estimates it, and it shrinks as ``s^2 / k``;
- **test rows**: every seed is scored on the same ``n`` rows, so their sampling error is shared
  by all seeds and does not shrink with ``k``. Its variance ``v`` is that of ``q`` when each of its
  accuracy cells is redrawn as a binomial proportion over ``n`` rows (a parametric bootstrap of
  ``q``'s own formula, ``draws`` times per seed, averaged over the seeds).

The stated model is ``Var(mean q) = s^2 / k + v``. It counts the part of the row noise that
differs between seeds twice (once in ``s^2``, once in ``v``), so it errs on the wide side when the
seeds' models disagree on many rows, and is close to exact when they agree on most rows, as
trained models do. The interval is ``mean ± t * sqrt(s^2 / k + v)`` with Student's ``t`` at the
Welch-Satterthwaite degrees of freedom (``k - 1`` when the seeds dominate, large when the rows
do). Cells outside [0, 100] (differences, bounds, seconds) are not redrawn; a claim whose cells
are not accuracies over test rows (``Claim.over_rows = False``) gets the seed term alone.

Why not a bootstrap over seeds: with the 2 to 5 seeds a CPU budget allows, resampling seeds
has 3 to 126 distinct outcomes and covers far below its nominal rate.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy import stats

__all__ = ["LEVEL", "row_variance", "interval"]

LEVEL = 0.95
DRAWS = 400


def _redrawn(cells: dict, n_rows: int, rng: np.random.Generator, draws: int) -> list[dict]:
    """``draws`` copies of ``cells`` with every value in [0, 100] redrawn as a binomial
    proportion (%) over ``n_rows`` rows."""
    keys = [k for k, v in cells.items() if isinstance(v, (int, float)) and 0.0 <= v <= 100.0]
    p = np.array([cells[k] for k in keys], dtype=float) / 100.0
    counts = rng.binomial(n_rows, p, size=(draws, len(keys))) if keys else np.zeros((draws, 0))
    out = []
    for row in 100.0 * counts / n_rows:
        copy = dict(cells)
        copy.update(zip(keys, row.tolist()))
        out.append(copy)
    return out


def row_variance(quantity: Callable[[dict], float], per_seed: list[dict], n_rows: int | None,
                 draws: int = DRAWS, seed: int = 0) -> float:
    """The variance of ``quantity`` from the sampling of the ``n_rows`` test rows alone (see the
    module docstring), averaged over the seeds' cells; 0 without ``n_rows``."""
    if not n_rows:
        return 0.0
    if int(n_rows) < 1:
        raise ValueError(f"n_rows must be a positive number of test rows, got {n_rows!r}")
    rng = np.random.default_rng(seed)
    per = []
    for cells in per_seed:
        q = np.array([quantity(c) for c in _redrawn(cells, int(n_rows), rng, draws)], dtype=float)
        per.append(float(q.var(ddof=1)))
    return float(np.mean(per))


def interval(q, v_row: float = 0.0, level: float = LEVEL) -> tuple[float, float]:
    """``(lo, hi)``: the ``level`` interval of the mean of ``q`` (one value per seed) under the
    module's model, with ``v_row`` the test rows' variance of one seed's ``q``."""
    q = np.asarray(q, dtype=float)
    k = q.size
    if k == 0 or not np.isfinite(q).all():
        raise ValueError("interval needs at least one finite value per seed")
    seeds = float(q.var(ddof=1)) / k if k > 1 else 0.0
    total = seeds + max(float(v_row), 0.0)
    if total == 0.0:
        return float(q.mean()), float(q.mean())
    df = total ** 2 / (seeds ** 2 / (k - 1)) if seeds > 0 and k > 1 else math.inf
    half = float(stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(total)
    return float(q.mean()) - half, float(q.mean()) + half
