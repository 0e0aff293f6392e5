"""The papers' qualitative claims as verdicts computed from our numbers.

Each claim is a quantity ``q`` computed *per seed* from a long-form result table
(a ``seed`` column, one row per seed and cell) and a threshold ``t`` that the
claim says ``q`` exceeds (``direction=+1``) or stays below (``-1``). Over the
seeds ``q`` has a mean and a 95 % interval that counts both the seed-to-seed
variation and the sampling of the test rows (:mod:`zerolib.papers.intervals`):

- **holds** when the whole interval is on the claim's side of ``t``,
- **does not hold** when the whole interval is on the other side,
- **unclear** when the interval contains ``t``.

The same quantity on the paper's own table (one value, no spread) is given
beside it, so a reader sees whether the paper's numbers meet the claim as we
phrase it. Thresholds are part of each claim's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from .intervals import interval, row_variance
from .numbers import HEAD_MODELS, MODELS, TABLE_6_CELLS

__all__ = ["Claim", "Verdict", "TABLE_I_CLAIMS", "TABLE_III_CLAIMS", "TABLE_IV_CLAIMS", "BLACKBOX_CLAIMS",
           "FIG6_CLAIMS", "FIG7_CLAIMS", "TABLE_3_CLAIMS", "TABLE_4_CLAIMS", "TABLE_5_CLAIMS", "TABLE_6_CLAIMS",
           "TABLE_7_CLAIMS", "FIG4_CLAIMS", "judge", "judge_all", "table_i_cells", "table_iii_cells", "table_iv_cells",
           "curve_cells", "conv_bound_cells"]

HOLDS, FAILS, UNCLEAR = "holds", "does not hold", "unclear"


@dataclass(frozen=True)
class Claim:
    text: str                       # the claim as the paper makes it, with our threshold
    where: str                      # where the paper says it
    quantity: Callable[[dict], float]   # q from one seed's cells
    threshold: float
    direction: int                  # +1: claim is q > threshold; -1: q < threshold
    unit: str = "points"
    over_rows: bool = True          # q's cells are accuracies (%) over the test rows (their sampling counts)


@dataclass(frozen=True)
class Verdict:
    claim: str
    where: str
    verdict: str
    mean: float
    std: float
    lo: float                       # the 95 % interval of the mean (seeds and test rows)
    hi: float
    n_seeds: int
    n_rows: int | None              # test rows behind each accuracy cell (None: not over rows)
    paper: float | None
    paper_verdict: str | None

    def as_row(self) -> dict:
        return self.__dict__.copy()


def _side(value: float, claim: Claim) -> bool:
    return value > claim.threshold if claim.direction > 0 else value < claim.threshold


def judge(claim: Claim, per_seed: list[dict], paper: dict | None = None, n_rows: int | None = None) -> Verdict:
    """The verdict of ``claim`` on cells per seed (each a dict of the table's cells), whose
    accuracies were measured on ``n_rows`` test rows (None: seeds only)."""
    q = np.array([claim.quantity(c) for c in per_seed], dtype=float)
    if q.size == 0 or not np.isfinite(q).all():
        raise ValueError(f"claim {claim.text!r}: missing cells to compute it")
    rows = n_rows if claim.over_rows else None
    lo, hi = interval(q, row_variance(claim.quantity, per_seed, rows))
    low_side, high_side = _side(lo, claim), _side(hi, claim)
    verdict = HOLDS if low_side and high_side else FAILS if not low_side and not high_side else UNCLEAR
    pq = pv = None
    if paper is not None:
        try:
            pq = float(claim.quantity(paper))
            pv = HOLDS if _side(pq, claim) else FAILS
        except KeyError:
            pass
    std = float(q.std(ddof=1)) if q.size > 1 else 0.0
    return Verdict(claim.text, claim.where, verdict, float(q.mean()), std, lo, hi, int(q.size),
                   int(rows) if rows else None, pq, pv)


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
          "accuracy on SCD01 and MLP01 exceeds their mean accuracy on each other by more than 10 points "
          "(paper A makes this claim of CIFAR10; on MNIST it reports the opposite)",
          "A, III-B, Table III",
          lambda c: np.mean([c[(s, t)] for s in ("SVM", "MLP") for t in ("SCD01", "MLP01")])
          - np.mean([c[("SVM", "MLP")], c[("MLP", "SVM")]]), 10.0, +1),
    Claim("Adversaries barely transfer between SCD01 and MLP01: each costs the other less than 10 points "
          "(q: the larger of the two drops; paper A makes this claim of CIFAR10, not of MNIST)", "A, III-B, Table III",
          lambda c: max(c[("clean", "MLP01")] - c[("SCD01", "MLP01")], c[("clean", "SCD01")] - c[("MLP01", "SCD01")]),
          10.0, -1),
    Claim("SVM and MLP adversaries leave each other almost no accuracy: below 5 % both ways "
          "(paper A says so of CIFAR10, not of MNIST)", "A, III-B, Table III",
          lambda c: max(c[("SVM", "MLP")], c[("MLP", "SVM")]), 5.0, -1, unit="%"),
]


# ------------------------------------------------------------------- Table IV
def table_iv_cells(long: pd.DataFrame) -> list[dict]:
    """Per seed: {(inputs, source, target): accuracy} from columns seed, inputs, source, target, accuracy."""
    return [{(r.inputs, r.source, r.target): float(r.accuracy) for r in g.itertuples()}
            for _, g in long.groupby("seed")]


def _convex_gap(c, inputs):
    """Table III's third claim on one input kind: convex sources' mean accuracy on the
    01-loss targets minus their mean accuracy on each other."""
    return (np.mean([c[(inputs, s, t)] for s in ("SVM", "MLP") for t in ("SCD01", "MLP01")])
            - np.mean([c[(inputs, "SVM", "MLP")], c[(inputs, "MLP", "SVM")]]))


TABLE_IV_CLAIMS = [
    Claim("On binarized inputs SVM and MLP adversaries still transfer to each other more than to the 01-loss "
          "models: their mean accuracy on SCD01 and MLP01 exceeds their mean accuracy on each other by more "
          "than 10 points", "A, III-D, Table IV", lambda c: _convex_gap(c, "binarized"), 10.0, +1),
    Claim("Binarizing makes transfer from convex to 01-loss models harder: the gap of the claim above is "
          "larger on binarized than on original inputs (q: binarized gap minus original gap)",
          "A, III-D, Table IV", lambda c: _convex_gap(c, "binarized") - _convex_gap(c, "original"), 0.0, +1),
    Claim("Clean accuracy is lower on binarized inputs (q: the four models' mean clean accuracy, original "
          "minus binarized)", "A, III-D, Table IV",
          lambda c: np.mean([c[("original", "clean", m)] - c[("binarized", "clean", m)] for m in MODELS]),
          0.0, +1),
]


# ------------------------------------------------------------------- black box
def curve_cells(curves: pd.DataFrame, by=("setting", "substitute", "target")) -> list[dict]:
    """Per seed: {(*by values, round, metric): value} from black-box curves in long
    form (columns seed, *by, round and the metrics); each curve's final round is
    also keyed by round ``"last"``."""
    metrics = ["target_accuracy", "substitute_accuracy", "match_clean", "match_adv"]
    out = []
    for _, g in curves.groupby("seed"):
        cells = {}
        for key, curve in g.groupby(list(by)):
            key = key if isinstance(key, tuple) else (key,)
            last = int(curve["round"].max())
            for r in curve.itertuples():
                for m in metrics:
                    cells[key + (int(r.round), m)] = float(getattr(r, m))
                    if int(r.round) == last:
                        cells[key + ("last", m)] = float(getattr(r, m))
        out.append(cells)
    return out


def _acc(c, setting, sub, target, rnd="last"):
    return c[(setting, sub, target, rnd, "target_accuracy")]


def _mlp01_over_mlp(c, setting):
    diff = (setting, "MLP", "MLP01 - MLP", "last", "target_accuracy")
    return c[diff] if diff in c else _acc(c, setting, "MLP", "MLP01") - _acc(c, setting, "MLP", "MLP")


BLACKBOX_CLAIMS = [
    Claim("Binary 0 vs 1, convex substitute: after the last round MLP01 keeps at least 30 points more "
          "accuracy on the adversaries than MLP (paper, CIFAR10 after 20 rounds: 58 vs 7)", "A, III-C, Fig. 3b",
          lambda c: _mlp01_over_mlp(c, "binary"), 30.0, +1),
    Claim("Multiclass, convex substitute: after the last round MLP01 keeps more than 10 points more accuracy "
          "than MLP (paper, CIFAR10: 24 points)", "A, III-C, Fig. 3c",
          lambda c: _mlp01_over_mlp(c, "multiclass"), 10.0, +1),
    Claim("Multiclass: MLP01 keeps more accuracy than MLP400, the shared 400-node network, after the last "
          "round (paper, ImageNet: 13 points)", "A, III-C",
          lambda c: _acc(c, "multiclass", "MLP", "MLP01") - _acc(c, "multiclass", "MLP", "MLP400"), 0.0, +1),
    Claim("SCD01 substitute: its adversaries hardly affect any single-run target, each keeps within 10 points "
          "of its clean accuracy after the last round (q: the largest drop)", "A, III-C, Fig. 4",
          lambda c: max(_acc(c, "binary", "SCD01", m, 0) - _acc(c, "binary", "SCD01", m) for m in MODELS),
          10.0, -1),
    Claim("SCD01 substitute: it matches its target's labels on clean points far better than on its own "
          "adversaries, by more than 10 points after the last round (q: the mean over targets)",
          "A, III-C, Fig. 5", lambda c: np.mean([c[("binary", "SCD01", m, "last", "match_clean")]
                                                 - c[("binary", "SCD01", m, "last", "match_adv")] for m in MODELS]),
          10.0, +1),
]

FIG6_CLAIMS = [
    Claim("Binarized inputs raise every model's black-box accuracy: after the last round each of the four "
          "models is more accurate on the adversaries when trained and attacked on binarized inputs "
          "(q: the smallest gain)", "A, III-D, Fig. 6",
          lambda c: min(_acc(c, "binarized", "MLP", m) - _acc(c, "original", "MLP", m) for m in MODELS),
          0.0, +1),
]


def _rounds_from(c, start):
    """The rounds >= ``start`` (a run with fewer rounds: its last round only)."""
    rounds = sorted(k[3] for k in c if isinstance(k[3], int) and k[2] == "MLP01" and k[4] == "target_accuracy")
    return [r for r in rounds if r >= min(start, rounds[-1])]


def _mlp01_over_simplenet80_from_round_10(c):
    return np.mean([_acc(c, "pair", "CNN", "MLP01", r) - _acc(c, "pair", "CNN", "SimpleNet80", r)
                    for r in _rounds_from(c, 10)])


FIG7_CLAIMS = [
    Claim("MLP01 is on par with SimpleNet80 from round 10 on: its accuracy on the CNN substitute's adversaries, "
          "averaged over rounds 10 to the last, is at most 5 points below SimpleNet80's", "A, III-E, Fig. 7",
          _mlp01_over_simplenet80_from_round_10, -5.0, +1),
    Claim("MLP01 surpasses SimpleNet80 from round 10 on (the paper's words): its accuracy on the CNN "
          "substitute's adversaries, averaged over rounds 10 to the last, is above SimpleNet80's",
          "A, III-E, Fig. 7",
          _mlp01_over_simplenet80_from_round_10, 0.0, +1),
    Claim("MLP is much less robust than MLP01: after the last round MLP01 keeps at least 10 points more",
          "A, III-E, Fig. 7",
          lambda c: _acc(c, "pair", "CNN", "MLP01") - _acc(c, "pair", "CNN", "MLP"), 10.0, +1),
    Claim("MLP01's clean accuracy is below every convex model's (q: MLP01 minus the lowest of the others)",
          "A, III-E, Fig. 7", lambda c: _acc(c, "pair", "CNN", "MLP01", 0)
          - min(_acc(c, "pair", "CNN", m, 0) for m in ("MLP", "LeNet", "SimpleNet80")), 0.0, -1),
    Claim("MLP01's clean accuracy is comparable to the convex models': at most 10 points below the best of "
          "them (q: the best minus MLP01)",
          "A, III-E, Fig. 7", lambda c: max(_acc(c, "pair", "CNN", m, 0) for m in ("MLP", "LeNet", "SimpleNet80"))
          - _acc(c, "pair", "CNN", "MLP01", 0), 10.0, -1),
]


# ------------------------------------------------------------------- paper B
# Cells of zerolib.experiments.loss_targets.head_cells (ours, per seed) and zerolib.papers.numbers.head_cells.
CE, MSE, CODEBOOK = HEAD_MODELS


def _grid(c, setting, model):
    """{(attack, value): v} of one model's ``setting`` cells; KeyError when it has none."""
    out = {k[2:]: v for k, v in c.items() if len(k) == 4 and k[0] == setting and k[1] == model}
    if not out:
        raise KeyError((setting, model))
    return out


def _vs_ce(c, setting, model, attacks=None):
    """model minus CE in every cell both have (``attacks``: only those attacks)."""
    ours, ce = _grid(c, setting, model), _grid(c, setting, CE)
    diffs = [ours[k] - ce[k] for k in ours if k in ce and (attacks is None or k[0] in attacks)]
    if not diffs:
        raise KeyError((setting, model, "vs CE"))
    return diffs


def _transfer_over_whitebox(c):
    diffs = [v - c[("untargeted", k[1], k[2], k[3])] for k, v in c.items()
             if len(k) == 4 and k[0] == "transfer" and k[1] in (MSE, CODEBOOK) and (k[2], k[3]) in TABLE_6_CELLS]
    if not diffs:
        raise KeyError("transfer")
    return min(diffs)


_CW_T7 = (0.1, 1.0)  # the c of paper B's Table 7

TABLE_4_CLAIMS = [
    Claim("The three heads' clean test accuracies are within 1 point of each other (q: the largest minus the "
          "smallest)", "B, 5.1, Table 4", lambda c: max(c[("clean", m)] for m in (CE, MSE, CODEBOOK))
          - min(c[("clean", m)] for m in (CE, MSE, CODEBOOK)), 1.0, -1),
]

TABLE_3_CLAIMS = [
    Claim("O:SOFTMAX:MSE is more accurate than O:SOFTMAX:CE on the untargeted adversaries (the paper: "
          "'higher accuracies on the adversarial examples'; q: % of the grid's cells where MSE's accuracy is "
          "above CE's)", "B, 5.2, Table 3",
          lambda c: 100.0 * np.mean([d > 0 for d in _vs_ce(c, "untargeted", MSE)]), 50.0, +1, unit="%"),
    Claim("R:TANH:MSE is more accurate than O:SOFTMAX:CE on the untargeted adversaries (q: % of the grid's "
          "cells where the codebook model's accuracy is above CE's)", "B, 5.2, Table 3",
          lambda c: 100.0 * np.mean([d > 0 for d in _vs_ce(c, "untargeted", CODEBOOK)]), 50.0, +1, unit="%"),
    Claim("On average over the untargeted cells, both new heads gain more than 10 points over O:SOFTMAX:CE "
          "(q: the smaller of the two mean gains)", "B, 5.2, Table 3",
          lambda c: min(np.mean(_vs_ce(c, "untargeted", m)) for m in (MSE, CODEBOOK)), 10.0, +1),
]

TABLE_5_CLAIMS = [
    Claim("Every targeted attack succeeds less often on O:SOFTMAX:MSE than on O:SOFTMAX:CE at every grid value "
          "(q: the largest MSE minus CE success difference)", "B, 5.2, Table 5",
          lambda c: max(_vs_ce(c, "targeted", MSE, attacks={"L-BFGS", "FGSM", "BIM", "MIM", "PGD", "CW-L2"})),
          0.0, -1),
    Claim("Every targeted attack succeeds less often on R:TANH:MSE than on O:SOFTMAX:CE at every grid value "
          "(q: the largest codebook minus CE success difference)", "B, 5.2, Table 5",
          lambda c: max(_vs_ce(c, "targeted", CODEBOOK, attacks={"L-BFGS", "FGSM", "BIM", "MIM", "PGD", "CW-L2"})),
          0.0, -1),
]

TABLE_6_CLAIMS = [
    Claim("O:SOFTMAX:CE's adversaries transferred to O:SOFTMAX:MSE and R:TANH:MSE cost them no more than "
          "their own white-box attack with the same settings (q: the smallest transfer minus white-box "
          "accuracy, over both models and Table 6's cells: CW-L2 c = 0.01, DeepFool m = 10, MIM eps = 0.01; "
          "q = 0 meets it, as on the paper's MNIST)",
          "B, 5.3, Table 6", _transfer_over_whitebox, -0.05, +1),
]

TABLE_7_CLAIMS = [
    Claim("The codebook-aware CW-L2 succeeds more often than CW-L2 on R:TANH:MSE (q: its smallest gain in "
          "targeted success over c = 0.1 and 1)", "B, 5.4, Table 7",
          lambda c: min(c[("targeted", CODEBOOK, "codebook CW-L2", v)] - c[("targeted", CODEBOOK, "CW-L2", v)]
                        for v in _CW_T7), 0.0, +1),
    Claim("Even against the codebook-aware CW-L2, R:TANH:MSE is attacked less successfully than O:SOFTMAX:CE by "
          "CW-L2 (q: the smallest CE minus codebook success over c = 0.1 and 1)", "B, 5.4, Table 7",
          lambda c: min(c[("targeted", CE, "CW-L2", v)] - c[("targeted", CODEBOOK, "codebook CW-L2", v)]
                        for v in _CW_T7), 0.0, +1),
]


def conv_bound_cells(bounds: pd.DataFrame) -> list[dict]:
    """Per seed: {("conv", model, layer): bound, ("network", model): the chain's
    product} from ``layer_bounds`` rows with columns seed and model added."""
    out = []
    for _, g in bounds.groupby("seed"):
        cells = {("conv", r.model, r.layer): float(r.bound) for r in g.itertuples() if r.kind.startswith("conv")}
        for m, gm in g.groupby("model"):
            cells[("network", m)] = float(gm[gm.in_chain].bound.prod())
        out.append(cells)
    return out


def _conv_ratio(c, a, b):
    """Layer by layer, a's conv bound over b's (KeyError when either has none)."""
    la = {k[2]: v for k, v in c.items() if k[0] == "conv" and k[1] == a}
    lb = {k[2]: v for k, v in c.items() if k[0] == "conv" and k[1] == b}
    if not la or not lb:
        raise KeyError((a, b))
    return [la[k] / lb[k] for k in la if k in lb]


FIG4_CLAIMS = [
    Claim("The O:SOFTMAX:MSE model's convolution bounds are below the O:SOFTMAX:CE model's at every conv layer "
          "(q: % of conv layers where MSE's bound is the smaller)", "B, 5.6, Fig. 4",
          lambda c: 100.0 * np.mean([r < 1 for r in _conv_ratio(c, MSE, CE)]), 99.9, +1, unit="%", over_rows=False),
    Claim("The gap reaches a factor above 2 at some conv layer (the paper: up to 3; q: the largest CE / MSE "
          "ratio)", "B, 5.6, Fig. 4", lambda c: max(_conv_ratio(c, CE, MSE)), 2.0, +1, unit="x", over_rows=False),
    Claim("The whole network's bound (the product over its layers) is smaller for O:SOFTMAX:MSE than for "
          "O:SOFTMAX:CE (q: log10 of CE's over MSE's)", "B, 5.6, Fig. 4",
          lambda c: float(np.log10(c[("network", CE)] / c[("network", MSE)])), 0.0, +1, unit="log10", over_rows=False),
]


NOT_MEASURED = "not measured"


def judge_all(claims: list[Claim], per_seed: list[dict], paper: dict | None = None,
              n_rows: int | Mapping[str, int] | None = None) -> pd.DataFrame:
    """One row per claim: the verdict, q's mean, sd over seeds and 95 % interval, n (seeds and
    test rows), the paper's q and verdict. A claim whose cells the run did not make (e.g.
    multiclass curves of a run without them) gets the verdict "not measured" rather than
    failing the others. ``n_rows``: the test rows behind every claim's accuracies, or a
    mapping from claim text to them (as a saved claims table holds them)."""
    rows = []
    for c in claims:
        try:
            n = n_rows.get(c.text) if isinstance(n_rows, Mapping) else n_rows
            rows.append(judge(c, per_seed, paper, n).as_row())
        except KeyError:
            nan = float("nan")
            rows.append(Verdict(c.text, c.where, NOT_MEASURED, nan, nan, nan, nan, len(per_seed), None, None,
                                None).as_row())
    return pd.DataFrame(rows)
