"""Paper B's experiment: one network trained with each of three heads, under the attack grids.

The computation:

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

What the notebook makes of it, owned here so that the notebook and the report say the
same: the names of the files it writes, Tables 3-7 beside the paper's
(:func:`table_3` ... :func:`table_7`), the claims' verdicts (:func:`verdicts`), the
reading, whose every number and direction is computed (:func:`reading`), and the
report's section (:func:`section`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from zerolib.experiments.common.attack_grid import (ATTACK_BATCH, COLUMNS, TARGETED, UNTARGETED, GridAttack, attack_grid,
                                                    random_targets)
from zerolib.experiments.common.cache import ModelCache
from zerolib.experiments.common.head_models import (HEAD_MODELS, clean_accuracies, fit_heads, head_key, model_line,
                                                    network_text)
from zerolib.experiments.common.markdown import Section, figures, md_table, saved_rows, verdict_lines, verdict_table
from zerolib.experiments.common.summary import fmt, over_seeds
from zerolib.experiments.common.wording import direction, mean_sd
from zerolib.losses import Codebook
from zerolib.papers import numbers as paper
from zerolib.papers.claims import (TABLE_3_CLAIMS, TABLE_4_CLAIMS, TABLE_5_CLAIMS, TABLE_6_CLAIMS, TABLE_7_CLAIMS,
                                   judge_all)

__all__ = ["HEAD_MODELS", "fit_heads", "head_key", "attack_subset", "grid_spec", "head_grids", "clean_accuracies",
           "head_cells", "beside_paper", "smallest_full_success",
           "NOTEBOOK", "GRIDS_SPEC", "CLEAN_PER_SEED", "CLEAN", "GRIDS_PER_SEED", "UNTARGETED_TABLE",
           "TARGETED_TABLE", "TRANSFER_TABLE", "CODEBOOK_TABLE", "CLAIMS", "GRIDS_FIGURE", "CLAIM_LIST",
           "figure_name", "own_rows", "transfer_rows", "codebook_rows", "table_4", "table_3", "table_5", "table_6",
           "table_7", "transfer_cells_line", "verdicts", "gains_over_source", "direction", "setting_line", "clean_lines",
           "saturation_lines", "codebook_cw_lines", "paper_cw_tables_line", "deepfool_lbfgs_lines", "claim_lines",
           "reading", "section"]

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
                             "grid": grid_spec(grid), "seed": int(seed), "batch_size": ATTACK_BATCH, "codebook": codebook is not None,
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


# ------------------------------------------------------------------ what the notebook saves
NOTEBOOK = "loss_targets"
GRIDS_SPEC = "grids"                                   # json: the grids as run, the codebook's length and seed
CLEAN_PER_SEED, CLEAN = "table4_per_seed", "table4"    # Table 4 per seed, and beside the paper
GRIDS_PER_SEED = "grids_per_seed"                      # every cell of every grid, per seed (the long table)
UNTARGETED_TABLE, TARGETED_TABLE, TRANSFER_TABLE, CODEBOOK_TABLE = "table3", "table5", "table6", "table7"
CLAIMS = "claims"
GRIDS_FIGURE = "grids"
CLAIM_LIST = TABLE_4_CLAIMS + TABLE_3_CLAIMS + TABLE_5_CLAIMS + TABLE_6_CLAIMS + TABLE_7_CLAIMS

CODEBOOK_HEAD, CODEBOOK_CW = "R:TANH:MSE", "codebook CW-L2"
TRANSFER_TO = [h for h in HEAD_MODELS if h != SOURCE]  # the models Table 6 scores the source's adversaries on
U_VALUES = {g.name: g.values for g in UNTARGETED}      # the grids' values, which thin() keeps
T_VALUES = {g.name: g.values for g in TARGETED}
TABLE_7_C = tuple(sorted({c for table in paper.TABLE_7.values() for a, c in table[CODEBOOK_HEAD] if a == "CW-L2"}))
HEAD_LOSS = {"O:SOFTMAX:MSE": "MSE on softmax probabilities", "R:TANH:MSE": "MSE on tanh outputs"}
STALL_POINTS = 1.0  # an attack whose accuracy spans less than this over its step limits has stalled

# Figs. 1-3: the eps tried beyond the targeted PGD grid's for Fig. 1, Fig. 2's MIM eps, Fig. 3's c
FIG1_EPS_BEYOND = (0.15, 0.2, 0.3, 0.5)
FIG2_EPS = 0.1
FIG3_C = 0.1


def figure_name(number: int, model: str) -> str:
    """The file name (no suffix) of paper B's Fig. ``number`` for ``model``."""
    return f"fig{number}_{model.replace(':', '_').lower()}"


# ------------------------------------------------------------------ the tables beside the paper
def own_rows(grids: pd.DataFrame) -> pd.DataFrame:
    """The cells each model was attacked on itself, with ``row`` = the model."""
    return grids[grids.scored_on == "self"].assign(row=lambda d: d.model)


def _untargeted(grids: pd.DataFrame) -> pd.DataFrame:
    own = own_rows(grids)
    return own[own.setting == "untargeted"]


def _targeted(grids: pd.DataFrame) -> pd.DataFrame:
    """The targeted grid (Table 5), without the codebook-aware CW-L2 rows (Table 7's)."""
    own = own_rows(grids)
    return own[(own.setting == "targeted") & (own.attack != CODEBOOK_CW)]


def transfer_rows(grids: pd.DataFrame) -> pd.DataFrame:
    """The source's untargeted adversaries scored on the other models, ``row`` = the model scored."""
    return grids[(grids.setting == "untargeted") & (grids.scored_on != "self")].assign(row=lambda d: d.scored_on)


def codebook_rows(grids: pd.DataFrame) -> pd.DataFrame:
    """Table 7's cells: targeted plain CW-L2 and the codebook-aware CW-L2, each model on itself."""
    own = own_rows(grids)
    return own[(own.setting == "targeted") & own.attack.isin(["CW-L2", CODEBOOK_CW])]


def _paper_grid(table: dict, dataset: str):
    cells = paper.grid_cells(table, dataset, U_VALUES if table is paper.TABLE_3 else T_VALUES) or {}
    return lambda m, a, v: cells.get((m, a, v))


def _paper_cell(table: dict, dataset: str):
    return lambda m, a, v: paper.paper_value(table, dataset, m, (a, v))


def _clean_long(clean: pd.DataFrame) -> pd.DataFrame:
    return clean.assign(row=clean.model, attack="clean", value=0)


def table_4(clean: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 4: clean accuracy per model, ``mean ± sd (paper)``."""
    return beside_paper(_clean_long(clean), "accuracy", lambda m, a, v: paper.paper_value(paper.TABLE_4, dataset, m)
                        ).rename(columns={"clean 0": "clean"})


def table_3(grids: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 3: accuracy under the untargeted white-box grid, ``mean ± sd (paper)``."""
    return beside_paper(_untargeted(grids), "accuracy", _paper_grid(paper.TABLE_3, dataset))


def table_5(grids: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 5: success of the targeted white-box grid, ``mean ± sd (paper)``."""
    return beside_paper(_targeted(grids), "success", _paper_grid(paper.TABLE_5, dataset))


def table_6(grids: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 6: the other models' accuracy on the source's untargeted adversaries (every cell)."""
    return beside_paper(transfer_rows(grids), "accuracy", _paper_cell(paper.TABLE_6, dataset), rows=TRANSFER_TO)


def table_7(grids: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 7: targeted success of plain CW-L2 and of the codebook-aware CW-L2."""
    return beside_paper(codebook_rows(grids), "success", _paper_cell(paper.TABLE_7, dataset))


_PAPER_PARAM = {"initial_const": "c", "steps": "m"}  # the grids' parameters as paper B names them


def transfer_cells_line() -> str:
    """Which of Table 6's cells the paper reports (ours scores the whole untargeted grid)."""
    params = {g.name: _PAPER_PARAM.get(g.param, g.param) for g in UNTARGETED}
    cells = ", ".join(f"{a} {params[a]} = {v:g}" for a, v in paper.TABLE_6_CELLS)
    return (f"The paper reports {len(paper.TABLE_6_CELLS)} cells ({cells}); the adversaries of the whole untargeted "
            "grid are scored, so all cells are here.")

def _seeds(df: pd.DataFrame) -> list:
    return list(dict.fromkeys(df.seed))


def verdicts(grids: pd.DataFrame, clean: pd.DataFrame, dataset: str, n_rows=None, n_attacked=None) -> pd.DataFrame:
    """Paper B's claims about Tables 3-7, judged per seed on ours and on the paper's numbers."""
    per_seed = [head_cells(grids[grids.seed == s], clean[clean.seed == s]) for s in _seeds(grids)]
    cells = paper.head_cells(dataset, U_VALUES, T_VALUES)
    if n_attacked is None:  # one count (or a saved table's mapping) for every claim
        return judge_all(CLAIM_LIST, per_seed, cells, n_rows)
    clean_claims = [c for c in CLAIM_LIST if c in TABLE_4_CLAIMS]
    return pd.concat([judge_all(clean_claims, per_seed, cells, n_rows),
                      judge_all([c for c in CLAIM_LIST if c not in clean_claims], per_seed, cells, n_attacked)],
                     ignore_index=True).set_index("claim").loc[[c.text for c in CLAIM_LIST]].reset_index()


# ------------------------------------------------------------------ the reading (computed)
def _joined(values, spec: str = ".1f") -> str:
    return " / ".join(f"{v:{spec}}" for v in values)


def setting_line(params: dict) -> str:
    """What the run trained and attacked, from its parameters (the run record's)."""
    train = params.get("train", "the notebook's default settings")
    limits = tuple(params.get("deepfool_steps") or U_VALUES["DeepFool"])
    return (f"Our setting: {network_text(params)} (training settings {train}); "
            f"{params.get('n_attack') or 'all'} test rows attacked "
            "per seed; " + (f"fixed iteration counts capped at {params['max_steps']}." if params.get("max_steps")
                            else "the paper's iteration counts.")
            + ("" if limits == U_VALUES["DeepFool"] else
               f" DeepFool's step limits {_joined(limits, 'd')} (the paper's: {_joined(U_VALUES['DeepFool'], 'd')})."))


def clean_lines(clean: pd.DataFrame, dataset: str) -> list[str]:
    """Table 4 in words: each head's clean accuracy, and how far ours is from the paper's."""
    s = over_seeds(clean, ["model"]).set_index("model")
    heads = [m for m in HEAD_MODELS if m in s.index]
    lines = ["Clean accuracy: " + ", ".join(f"{m} {fmt(s.loc[m, 'mean'], s.loc[m, 'std'])} %" for m in heads) + "."]
    gaps = [s.loc[m, "mean"] - p for m in heads if (p := paper.paper_value(paper.TABLE_4, dataset, m)) is not None]
    if gaps:
        lo, hi = min(gaps), max(gaps)
        if hi < 0:
            where = f"{-hi:.1f} to {-lo:.1f} points below the paper's: a weaker model"
        elif lo > 0:
            where = f"{lo:.1f} to {hi:.1f} points above the paper's"
        else:
            where = f"from {lo:+.1f} to {hi:+.1f} points off the paper's (ours minus the paper's)"
        lines.append(f"Our clean accuracy is {where}; the comparison that carries over is between the heads at equal "
                     "training, not the absolute numbers.")
    return lines


def gains_over_source(grids: pd.DataFrame, setting: str = "untargeted", metric: str = "accuracy") -> pd.DataFrame:
    """Per seed and head other than O:SOFTMAX:CE: the mean, over the cells of the ``setting``
    grid both have, of the head's ``metric`` minus O:SOFTMAX:CE's in the same cell (what
    the paper means by a head's gain). Columns seed, model, gain, cells."""
    own = own_rows(grids)
    own = own[(own.setting == setting) & (own.attack != CODEBOOK_CW)]
    wide = own.pivot_table(index=["seed", "attack", "value"], columns="model", values=metric)
    rows = []
    for h in [m for m in HEAD_MODELS if m != SOURCE and m in wide.columns and SOURCE in wide.columns]:
        diff = (wide[h] - wide[SOURCE]).dropna()
        rows += [{"seed": s, "model": h, "gain": float(g.mean()), "cells": len(g)}
                 for s, g in diff.groupby(level="seed")]
    return pd.DataFrame(rows, columns=["seed", "model", "gain", "cells"])


def saturation_lines(grids: pd.DataFrame) -> list[str]:
    """Whether each flat, saturating head raises accuracy under the untargeted gradient
    attacks: its mean gain over O:SOFTMAX:CE ± sd over seeds, and the word they allow."""
    lines = []
    for h, g in gains_over_source(grids).groupby("model", sort=False):
        m, s = mean_sd(g.gain)
        word = direction(m, s, "raises", "lowers", "does not clearly change")
        line = (f"{h} minus {SOURCE}, accuracy under the untargeted white-box attacks averaged over the grid's "
                f"{int(g.cells.max())} cells: {m:+.1f} ± {s:.1f} points over {len(g)} seeds, so its saturating "
                f"loss ({HEAD_LOSS.get(h, h)}) {word} accuracy under these gradient attacks")
        if word == "raises":
            line += ("; a loss with little gradient to climb can do that without the model being harder to fool "
                     "by other means (gradient masking), which the codebook-aware CW-L2 of Table 7 checks")
        lines.append(line + ".")
    return lines


def codebook_cw_lines(grids: pd.DataFrame) -> list[str]:
    """Table 7 in words: on the codebook model, the codebook-aware CW-L2's success beside
    plain CW-L2's at the paper's c, and whether it succeeds more often (per-seed gain ± sd)."""
    rows = codebook_rows(grids)
    wide = rows[rows.model == CODEBOOK_HEAD].pivot_table(index=["value", "seed"], columns="attack", values="success")
    if not {"CW-L2", CODEBOOK_CW} <= set(wide.columns):
        return []
    lines = []
    for c in [c for c in TABLE_7_C if c in wide.index.get_level_values("value")]:
        w = wide.xs(c, level="value").dropna()
        gain = mean_sd(w[CODEBOOK_CW] - w["CW-L2"])
        word = direction(*gain, "more often than", "less often than", "not clearly more or less often than")
        lines.append(f"Table 7 at c = {c:g} on {CODEBOOK_HEAD}: plain CW-L2 {fmt(*mean_sd(w['CW-L2']))} % vs "
                     f"codebook-aware {fmt(*mean_sd(w[CODEBOOK_CW]))} % success: the codebook-aware attack "
                     f"succeeds {word} the plain one (gain {gain[0]:+.1f} ± {gain[1]:.1f} points).")
    return lines


def paper_cw_tables_line(dataset: str) -> list[str]:
    """Paper B's plain CW-L2 on the codebook model in its Table 7 beside its Table 5, and
    which of Table 5's c Table 7's numbers are (the claims read Table 5)."""
    p7 = [paper.paper_value(paper.TABLE_7, dataset, CODEBOOK_HEAD, ("CW-L2", c)) for c in TABLE_7_C]
    p5 = paper.paper_value(paper.TABLE_5, dataset, CODEBOOK_HEAD, "CW-L2")
    if p5 is None or None in p7:
        return []
    cs, k = T_VALUES["CW-L2"], len(p7)
    same_c = [dict(zip(cs, p5)).get(c) for c in TABLE_7_C]
    windows = [tuple(cs[i:i + k]) for i in range(len(cs) - k + 1) if list(p5[i:i + k]) == p7]
    if TABLE_7_C in windows:
        note = "the two tables agree there"
    elif windows:
        note = f"Table 7's numbers are Table 5's at c = {_joined(windows[0], 'g')}"
    else:
        note = "the two tables differ"
    return [(f"Paper B's Table 7 gives plain CW-L2 on {CODEBOOK_HEAD} {_joined(p7)} % success at c = "
            f"{_joined(TABLE_7_C, 'g')}, its Table 5 gives {_joined(same_c)} % at those c ({note}): the claims "
            "read Table 5.")]


def _per_seed(rows: pd.DataFrame, model: str, attack: str, metric: str) -> pd.DataFrame:
    """``metric`` of one model and attack as a (seed x value) table."""
    sel = rows[(rows.model == model) & (rows.attack == attack)]
    return sel.pivot_table(index="seed", columns="value", values=metric)


def _deepfool_lines(grids: pd.DataFrame, dataset: str) -> list[str]:
    un, ms = _untargeted(grids), U_VALUES["DeepFool"]
    lines = []
    ce = _per_seed(un, SOURCE, "DeepFool", "accuracy")
    p = paper.paper_value(paper.TABLE_3, dataset, SOURCE, "DeepFool")
    if p is not None and ms[0] in ce.columns:
        m, s = mean_sd(ce[ms[0]])
        word = direction(m - p[0], s, "above", "below", "within one sd of")
        lines.append(f"DeepFool at m = {ms[0]} on {SOURCE}: ours {fmt(m, s)} % accuracy, {word} the paper's "
                     f"{p[0]:.1f} %.")
    cb = _per_seed(un, CODEBOOK_HEAD, "DeepFool", "accuracy")
    if ms[0] in cb.columns and ms[-1] in cb.columns:
        change = mean_sd(cb[ms[-1]] - cb[ms[0]])
        word = direction(*change, "rises", "falls", "does not clearly change")
        lines.append(f"DeepFool on {CODEBOOK_HEAD} (ours, with the codebook-aware scores, its own decision) {word} "
                     f"from {fmt(*mean_sd(cb[ms[0]]))} % accuracy at m = {ms[0]} to {fmt(*mean_sd(cb[ms[-1]]))} % "
                     f"at m = {ms[-1]}.")
    p = paper.paper_value(paper.TABLE_3, dataset, CODEBOOK_HEAD, "DeepFool")
    if p is not None:
        spread = max(p) - min(p)
        what = (f"stalls (less than {STALL_POINTS:g} point over the step limits), which fits an attack reading "
                "the raw outputs as class logits, as its plain CW-L2 does (our guess; the paper does not say how it "
                "adapted DeepFool)" if spread < STALL_POINTS else
                f"{'falls' if p[-1] < p[0] else 'rises' if p[-1] > p[0] else 'moves'} over the step limits")
        lines.append(f"Paper B's DeepFool leaves {CODEBOOK_HEAD} at {_joined(p)} % accuracy at m = "
                     f"{_joined(ms, 'g')} (a spread of {spread:.1f} points): it {what}.")
    return lines


def _lbfgs_line(grids: pd.DataFrame, dataset: str) -> list[str]:
    w = _per_seed(_targeted(grids), CODEBOOK_HEAD, "L-BFGS", "success")
    p = paper.paper_value(paper.TABLE_5, dataset, CODEBOOK_HEAD, "L-BFGS")
    cs = [c for c in T_VALUES["L-BFGS"] if c in w.columns]
    if p is None or not cs:
        return []
    ours = [mean_sd(w[c]) for c in cs]
    theirs = [dict(zip(T_VALUES["L-BFGS"], p))[c] for c in cs]
    above = sum(m - s > q for (m, s), q in zip(ours, theirs))
    below = sum(m + s < q for (m, s), q in zip(ours, theirs))
    return [(f"Targeted L-BFGS on {CODEBOOK_HEAD}, success counted by the model's decision: ours "
            f"{_joined(m for m, _ in ours)} % at c = {_joined(cs, 'g')}, the paper's {_joined(theirs)} %: ours is "
            f"above the paper's at {above}, below it at {below} of {len(cs)} values of c (beyond one sd).")]


def deepfool_lbfgs_lines(grids: pd.DataFrame, dataset: str) -> list[str]:
    """DeepFool and L-BFGS beside paper B: ours against the paper's at DeepFool's smallest
    step limit, how each moves over the step limits on the codebook model, and L-BFGS's
    success on it (the paper's numbers only where it ran ``dataset``)."""
    return _deepfool_lines(grids, dataset) + _lbfgs_line(grids, dataset)


def claim_lines(judged: pd.DataFrame) -> list[str]:
    """Each claim with where the paper makes it, its verdict, q and the paper's q."""
    return verdict_lines(judged, where=True)


def reading(grids: pd.DataFrame, clean: pd.DataFrame, judged: pd.DataFrame, dataset: str, params: dict) -> list[str]:
    """The notebook's reading, every number and direction computed: the setting, clean
    accuracy beside the paper's, what the saturating heads gain, Table 7, DeepFool and
    L-BFGS beside the paper, and each claim's verdict."""
    return ([setting_line(params)] + clean_lines(clean, dataset) + saturation_lines(grids) + codebook_cw_lines(grids)
            + paper_cw_tables_line(dataset) + deepfool_lbfgs_lines(grids, dataset) + claim_lines(judged))


# ------------------------------------------------------------------ the report's section
def _by_cell(long: pd.DataFrame, metric: str, paper_of, rows) -> pd.DataFrame:
    """:func:`beside_paper` turned on its side: a row per (attack, value), a column per
    model (the report's page is narrower than a notebook)."""
    t = beside_paper(long, metric, paper_of, rows=rows).set_index("model").T
    t.index.name = "attack value"
    t.columns.name = None
    return t


def _in_table_6(df: pd.DataFrame) -> pd.Series:
    return pd.Series([(a, v) in paper.TABLE_6_CELLS for a, v in zip(df.attack, df.value)], index=df.index)


def _transfer_beside_whitebox(grids: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 6's cells: the transferred adversaries' accuracy beside the white-box attack's."""
    transfer = transfer_rows(grids)
    t6 = _by_cell(transfer[_in_table_6(transfer)], "accuracy", _paper_cell(paper.TABLE_6, dataset), TRANSFER_TO)
    t6.columns = [f"{m} (transfer)" for m in t6.columns]
    un = _untargeted(grids)
    white = _by_cell(un[un.model.isin(TRANSFER_TO) & _in_table_6(un)], "accuracy",
                     _paper_grid(paper.TABLE_3, dataset), TRANSFER_TO)
    white.columns = [f"{m} (white box)" for m in white.columns]
    return pd.concat([t6, white], axis=1)


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Paper B's Tables 3-7 beside the paper, the computed reading and the claims, from the
    files in ``d``; ``params``: the run record's parameters (None when the files are missing)."""
    if not (d / f"{GRIDS_PER_SEED}.csv").is_file() or not (d / f"{CLEAN_PER_SEED}.csv").is_file():
        return None
    grids, clean = pd.read_csv(d / f"{GRIDS_PER_SEED}.csv"), pd.read_csv(d / f"{CLEAN_PER_SEED}.csv")
    heads = list(HEAD_MODELS)
    judged = verdicts(grids, clean, dataset, saved_rows(d / f"{CLAIMS}.csv"))
    t4 = _by_cell(_clean_long(clean), "accuracy", lambda m, a, v: paper.paper_value(paper.TABLE_4, dataset, m),
                  heads).rename(index={"clean 0": "clean"})
    t3 = _by_cell(_untargeted(grids), "accuracy", _paper_grid(paper.TABLE_3, dataset), heads)
    t5 = _by_cell(_targeted(grids), "success", _paper_grid(paper.TABLE_5, dataset), heads)
    t7 = _by_cell(codebook_rows(grids), "success", _paper_cell(paper.TABLE_7, dataset), [SOURCE, CODEBOOK_HEAD])
    note = f"each cell: ours, mean ± sd over {grids.seed.nunique()} seeds (the paper's in brackets, converted to %)"
    clean_text = clean_lines(clean, dataset)
    why = ([setting_line(params)] + clean_text[1:]
           + [("DeepFool and L-BFGS use each model's own decision (for R:TANH:MSE the distances to the codewords), "
              "so on the codebook model they are the attacks an adversary who knows the codebook runs.")]
           + deepfool_lbfgs_lines(grids, dataset))
    cw = ([("CW-L2 reads the raw outputs as logits, as cleverhans' does: on R:TANH:MSE that is paper B's plain CW-L2, "
           "whose margin is not the model's decision; the codebook-aware CW-L2 of Table 7 is the fair attack "
           "there.")] + paper_cw_tables_line(dataset))
    figs = [f"{GRIDS_FIGURE}.png"] + [f"{figure_name(n, m)}.png" for n, m in
                                      ((1, SOURCE), (1, CODEBOOK_HEAD), (3, CODEBOOK_HEAD))]
    lines = ["#### Paper B, Table 4: clean test accuracy (%)", "", note, "", md_table(t4), "", " ".join(why), "",
             " ".join(cw), "",
             "#### Paper B, Table 3: accuracy (%) under untargeted white-box attacks", "", md_table(t3), "",
             " ".join(saturation_lines(grids)), "",
             "#### Paper B, Table 5: success (%) of targeted white-box attacks, random targets", "", md_table(t5), "",
             ("#### Paper B, Table 6: accuracy (%) on O:SOFTMAX:CE's adversaries, beside the white-box attack with "
             "the same settings"), "", md_table(_transfer_beside_whitebox(grids, dataset)), "",
             "#### Paper B, Table 7: targeted success (%) of CW-L2 and of the codebook-aware CW-L2", "",
             md_table(t7), "", " ".join(codebook_cw_lines(grids)), "", figures(d, figs), "",
             "Claims (verdicts computed from the per-seed tables):", "", verdict_table(judged), ""]
    gaps = clean_text[1:2]
    return Section(lines, [judged], model_line(params, clean) + (". " + gaps[0].split(";")[0] + "." if gaps else "."))
