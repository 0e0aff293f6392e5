"""Paper A's qualitative claims as verdicts computed from our numbers.

Each claim is a quantity ``q`` computed *per seed* from a long-form result table
(a ``seed`` column, one row per seed and cell) and a threshold ``t`` that the
claim says ``q`` exceeds (``direction=+1``) or stays below (``-1``). Over the
seeds ``q`` has a mean ``m`` and a standard deviation ``s`` (0 for one seed):

- **holds** when the claim is true at ``m - s`` and ``m + s`` alike,
- **does not hold** when it is false at both,
- **unclear** when the one-standard-deviation band straddles the threshold.

The same quantity on the paper's own table (one value, no spread) is given
beside it, so a reader sees whether the paper's numbers meet the claim as we
phrase it. Thresholds are part of each claim's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["Claim", "Verdict", "TABLE_I_CLAIMS", "TABLE_III_CLAIMS", "judge", "judge_all",
           "table_i_cells", "table_iii_cells"]

HOLDS, FAILS, UNCLEAR = "holds", "does not hold", "unclear"


@dataclass(frozen=True)
class Claim:
    text: str                       # the claim as the paper makes it, with our threshold
    where: str                      # where the paper says it
    quantity: Callable[[dict], float]   # q from one seed's cells
    threshold: float
    direction: int                  # +1: claim is q > threshold; -1: q < threshold
    unit: str = "points"


@dataclass(frozen=True)
class Verdict:
    claim: str
    where: str
    verdict: str
    mean: float
    std: float
    n_seeds: int
    paper: float | None
    paper_verdict: str | None

    def as_row(self) -> dict:
        return self.__dict__.copy()


def _side(value: float, claim: Claim) -> bool:
    return value > claim.threshold if claim.direction > 0 else value < claim.threshold


def judge(claim: Claim, per_seed: list[dict], paper: dict | None = None) -> Verdict:
    """The verdict of ``claim`` on cells per seed (each a dict of the table's cells)."""
    q = np.array([claim.quantity(c) for c in per_seed], dtype=float)
    if q.size == 0 or not np.isfinite(q).all():
        raise ValueError(f"claim {claim.text!r}: missing cells to compute it")
    m, s = float(q.mean()), float(q.std(ddof=1)) if q.size > 1 else 0.0
    lo, hi = _side(m - s, claim), _side(m + s, claim)
    verdict = HOLDS if lo and hi else FAILS if not lo and not hi else UNCLEAR
    pq = pv = None
    if paper is not None:
        try:
            pq = float(claim.quantity(paper))
            pv = HOLDS if _side(pq, claim) else FAILS
        except KeyError:
            pass
    return Verdict(claim.text, claim.where, verdict, m, s, int(q.size), pq, pv)


# ------------------------------------------------------------------- Table I
def table_i_cells(long: pd.DataFrame) -> list[dict]:
    """Per seed: {(model, kind): accuracy} from columns seed, model, kind, accuracy."""
    return [{(r.model, r.kind): float(r.accuracy) for r in g.itertuples()} for _, g in long.groupby("seed")]


def _gain(c, m):
    return c[(m, "votes")] - c[(m, "single")]


TABLE_I_CLAIMS = [
    Claim("The 01-loss models (SCD01, MLP01) gain more than 1 point of clean accuracy from voting "
          "(q: the smaller of their two gains)", "A, III-A, Table I",
          lambda c: min(_gain(c, "SCD01"), _gain(c, "MLP01")), 1.0, +1),
    Claim("Voting does not improve SVM and MLP: neither gains 1 point or more (q: the larger gain)",
          "A, III-A, Table I", lambda c: max(_gain(c, "SVM"), _gain(c, "MLP")), 1.0, -1),
    Claim("With votes, the 01-loss models are comparable to their convex peers: SCD01 within 3 points of "
          "SVM and MLP01 within 3 points of MLP (q: the worse of the two differences)", "A, III-A, Table I",
          lambda c: min(c[("SCD01", "votes")] - c[("SVM", "votes")], c[("MLP01", "votes")] - c[("MLP", "votes")]),
          -3.0, +1),
]


# ------------------------------------------------------------------- Table III
def table_iii_cells(long: pd.DataFrame) -> list[dict]:
    """Per seed: {(source, target): accuracy} from columns seed, source, target, accuracy."""
    return [{(r.source, r.target): float(r.accuracy) for r in g.itertuples()} for _, g in long.groupby("seed")]


def _drop(c, m):
    return c[("clean", m)] - c[(m, m)]


TABLE_III_CLAIMS = [
    Claim("White-box adversaries of SVM, SCD01 and MLP take at least 30 points off their own accuracy "
          "(q: the smallest of the three drops)", "A, III-B, Table III",
          lambda c: min(_drop(c, m) for m in ("SVM", "SCD01", "MLP")), 30.0, +1),
    Claim("MLP01's own adversaries are the least effective white-box attack: its drop is smaller than "
          "each other model's drop under its own attack (q: the smallest other drop minus MLP01's)",
          "A, III-B, Table III", lambda c: min(_drop(c, m) for m in ("SVM", "SCD01", "MLP")) - _drop(c, "MLP01"),
          0.0, +1),
    Claim("SVM and MLP adversaries transfer to each other more than to the 01-loss models: their mean "
          "accuracy on SCD01 and MLP01 exceeds their mean accuracy on each other by more than 10 points",
          "A, III-B, Table III",
          lambda c: np.mean([c[(s, t)] for s in ("SVM", "MLP") for t in ("SCD01", "MLP01")])
          - np.mean([c[("SVM", "MLP")], c[("MLP", "SVM")]]), 10.0, +1),
    Claim("Adversaries barely transfer between SCD01 and MLP01: each costs the other less than 10 points "
          "(q: the larger of the two drops)", "A, III-B, Table III",
          lambda c: max(c[("clean", "MLP01")] - c[("SCD01", "MLP01")], c[("clean", "SCD01")] - c[("MLP01", "SCD01")]),
          10.0, -1),
    Claim("SVM and MLP adversaries leave each other almost no accuracy: below 5 % both ways "
          "(the paper says so of CIFAR10)", "A, III-B, Table III",
          lambda c: max(c[("SVM", "MLP")], c[("MLP", "SVM")]), 5.0, -1, unit="%"),
]


def judge_all(claims: list[Claim], per_seed: list[dict], paper: dict | None = None) -> pd.DataFrame:
    """One row per claim: the verdict, q's mean and std over seeds, the paper's q and verdict."""
    return pd.DataFrame([judge(c, per_seed, paper).as_row() for c in claims])
