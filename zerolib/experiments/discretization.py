"""Paper A, Table IV and Fig. 6: the white-box transfer table and the convex-substitute black
box on original and on binarized (p = inf) inputs, and beyond the paper the transfer table
over a sweep of the saturation p.

The attacks are :mod:`~zerolib.experiments.common.transfer`'s and
:mod:`~zerolib.experiments.common.substitutes`'; this module owns the inputs of each p, the
runs, what the notebook saves, the tables beside the paper, the claims' verdicts, the
reading and the report's section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zerolib.data import discretize, load_dataset
from zerolib.papers import numbers as paper
from zerolib.papers.claims import (
    FIG6_CLAIMS,
    TABLE_IV_CLAIMS,
    curve_cells,
    judge_all,
    table_iv_cells,
)

from .common import model_suite as suite
from .common.markdown import Section, figures, md_table, saved_rows, verdict_lines, verdict_table
from .common.substitutes import attack_targets, end_points
from .common.summary import long_form, over_seeds, wide
from .common.transfer import paper_attack, transfer_cells, transfer_table
from .common.wording import compared, iterations

__all__ = ["NOTEBOOK", "PER_SEED", "SUMMARY", "HEATMAP", "P_SWEEP_PER_SEED", "P_SWEEP", "CURVES_PER_SEED", "CURVES",
           "FIG6", "CLAIMS", "INPUTS", "MODELS", "SOURCES", "task", "whitebox", "black_box", "table_iv", "ours_shown",
           "paper_shown", "p_sweep_summary", "curve_summary", "verdicts", "clean_line", "whitebox_lines",
           "black_box_line", "reading", "section"]

NOTEBOOK = "discretization"
PER_SEED, SUMMARY, HEATMAP = "table4_per_seed", "table4", "table4_heatmap"
P_SWEEP_PER_SEED, P_SWEEP = "p_sweep_per_seed", "p_sweep"
CURVES_PER_SEED, CURVES, FIG6 = "fig6_curves_per_seed", "fig6_curves", "fig6"
CLAIMS = "claims"
INPUTS = ("original", "binarized")  # p = 2 (the images as loaded) and p = inf
MODELS = list(paper.MODELS)
SOURCES = ["clean"] + MODELS
CONVEX, ZERO_ONE = ("SVM", "MLP"), ("SCD01", "MLP01")


# ------------------------------------------------------------------------ the runs
def task(dataset: str, classes, n_train: int, seed: int, p=2):
    """The binary task ``classes`` of ``dataset`` with every pixel saturated by ``p`` (2: as
    loaded, "inf": binarized), and its model-cache key (which names p unless it is 2)."""
    d = load_dataset(dataset, classes=classes, n_train=n_train or None, seed=seed)
    key = {"dataset": dataset, "n_train": n_train or None, "subsample_seed": seed, "classes": list(classes)}
    if str(p) != "2":
        d.x_train, d.x_test = discretize(d.x_train, p), discretize(d.x_test, p)
        key["discretize_p"] = str(p)
    return d, key


def whitebox(d, key: dict, settings: dict, seed: int, eps: float, device: str, cache) -> pd.DataFrame:
    """Table III on task ``(d, key)`` for one seed (single runs of the four models, paper A's
    attacks at ``eps``), as a long table."""
    fitted = suite.fit_models(MODELS, settings, seed, 1, key, d.x_train, d.y_train, device=device, cache=cache)
    attacks = {n: paper_attack(m, eps, seed=seed) for n, m in fitted.items()}
    return long_form(transfer_table(attacks, fitted, d.x_test, d.y_test), seed)


def black_box(d, key: dict, seed: int, substitute, *, settings: dict, n_votes: int, device: str, cache,
              **attack) -> pd.DataFrame:
    """Fig. 6 on task ``(d, key)`` for one seed: the ``substitute``'s attack on the four models
    with ``n_votes`` votes, one curve per target (``attack``: rounds, eps, lam, cap, ...)."""
    targets = {m: suite.fit_model(m, settings, seed, n_votes, key, d.x_train, d.y_train, device=device, cache=cache)
               for m in MODELS}
    keys = {m: suite.model_key(m, settings, seed, n_votes, key, device) for m in MODELS}
    return attack_targets(targets, substitute, d.x_test, d.y_test, n_classes=2, seed=seed, keys=keys, data_key=key,
                          cache=cache, **attack)


# ------------------------------------------------------------------- the tables
def table_iv(long: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table IV over seeds (inputs, source, target, mean, std, ...) and the paper's cell."""
    summary = over_seeds(long, ["inputs", "source", "target"])
    summary["paper"] = [paper.paper_value(paper.TABLE_IV, dataset, i, a, b)
                        for i, a, b in zip(summary.inputs, summary.source, summary.target)]
    return summary


def ours_shown(summary: pd.DataFrame, inputs: str) -> pd.DataFrame:
    """Our Table IV on ``inputs`` as the notebook shows it: mean ± sd, rows clean and the sources."""
    return wide(summary[summary.inputs == inputs], "source", "target", rows=SOURCES, cols=MODELS)


def means(summary: pd.DataFrame, inputs: str) -> pd.DataFrame:
    """Our mean accuracy per cell on ``inputs`` (the heat map's numbers)."""
    return summary[summary.inputs == inputs].pivot(index="source", columns="target", values="mean").loc[SOURCES, MODELS]


def paper_shown(dataset: str) -> dict[str, pd.DataFrame] | None:
    """The paper's Table IV per inputs in our layout, or None where it has none for ``dataset``."""
    if dataset not in paper.TABLE_IV:
        return None
    return {kind: pd.DataFrame(paper.TABLE_IV[dataset][kind]).T.loc[SOURCES, MODELS].rename_axis(kind)
            for kind in INPUTS}


def p_sweep_summary(sweep: pd.DataFrame) -> pd.DataFrame:
    """The p sweep over seeds: per (p, source, target) mean, std, min, max, n."""
    return over_seeds(sweep, ["p", "source", "target"])


def curve_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Fig. 6's curves over seeds: per (setting, target, round) the target's accuracy."""
    return over_seeds(curves, ["setting", "target", "round"], value="target_accuracy")


def verdicts(long: pd.DataFrame, curves: pd.DataFrame, dataset: str, n_rows=None, n_attacked=None) -> pd.DataFrame:
    """Paper A's claims about Table IV (judged on ours and the paper's table) and Fig. 6."""
    rows = n_attacked if n_attacked is not None else n_rows  # a mapping from a saved table covers both
    return pd.concat([judge_all(TABLE_IV_CLAIMS, table_iv_cells(long), paper.table_iv_cells(dataset), n_rows),
                      judge_all(FIG6_CLAIMS, curve_cells(curves), n_rows=rows)], ignore_index=True)


# ------------------------------------------------------------------- the reading
def _change(a: float, b: float) -> str:
    """"a -> b (how b stands to a)": an original value, its binarized one, the direction."""
    return f"{a:.1f} -> {b:.1f} ({compared(b, a)})"


def _tally(pairs: dict[str, tuple[float, float]], what: str) -> str:
    """How many of ``pairs`` ({model: (original, binarized)}) binarizing raises, lowers, keeps."""
    diffs = [round(round(b, 1) - round(a, 1), 1) for a, b in pairs.values()]
    return (f"binarizing raises {what} for {sum(d > 0 for d in diffs)}, lowers it for {sum(d < 0 for d in diffs)} "
            f"and keeps it for {sum(d == 0 for d in diffs)} of the {len(diffs)} models")


def _pairs(s: pd.Series, source: str) -> dict[str, tuple[float, float]]:
    """{target: (original, binarized)} mean accuracy on ``source``'s adversaries (or clean)."""
    return {m: (float(s[("original", source, m)]), float(s[("binarized", source, m)])) for m in MODELS}


def clean_line(summary: pd.DataFrame) -> str:
    """Each model's clean accuracy on original and on binarized inputs (computed)."""
    pairs = _pairs(summary.set_index(["inputs", "source", "target"])["mean"], "clean")
    return ("Clean accuracy, original -> binarized: " + ", ".join(f"{m} {_change(a, b)}" for m, (a, b) in pairs.items())
            + "; " + _tally(pairs, "it") + ".")


def whitebox_lines(summary: pd.DataFrame) -> list[str]:
    """The white-box (diagonal) cells and the convex sources' transfer, original vs binarized."""
    s = summary.set_index(["inputs", "source", "target"])["mean"]
    own = {m: _pairs(s, m)[m] for m in MODELS}
    lines = ["White-box (diagonal) cells, each model on its own adversaries, original -> binarized: "
             + ", ".join(f"{m} {_change(a, b)}" for m, (a, b) in own.items()) + "; "
             + _tally(own, "the accuracy its own attack leaves") + "."]
    on_01 = {k: s[[(k, a, b) for a in CONVEX for b in ZERO_ONE]].mean() for k in INPUTS}
    on_convex = {k: (s[(k, "SVM", "MLP")] + s[(k, "MLP", "SVM")]) / 2 for k in INPUTS}
    gap = {k: on_01[k] - on_convex[k] for k in INPUTS}
    change = round(round(gap["binarized"], 1) - round(gap["original"], 1), 1)
    word = "larger" if change > 0 else ("smaller" if change < 0 else "the same")
    lines.append(f"SVM and MLP adversaries: SCD01 and MLP01 keep {_change(on_01['original'], on_01['binarized'])} "
                 f"on average, SVM and MLP on each other's {_change(on_convex['original'], on_convex['binarized'])}; "
                 f"the gap (01-loss minus convex) is {gap['original']:.1f} on original and {gap['binarized']:.1f} on "
                 f"binarized inputs, {word} on binarized.")
    return lines


def black_box_line(curves_summary: pd.DataFrame) -> str:
    """Each target's accuracy after the substitute's last round, original vs binarized."""
    last = int(curves_summary["round"].max())
    s = curves_summary[curves_summary["round"] == last].set_index(["setting", "target"])["mean"]
    pairs = {m: (float(s[("original", m)]), float(s[("binarized", m)])) for m in MODELS}
    return (f"Fig. 6, accuracy on the convex substitute's adversaries after round {last}, original -> binarized: "
            + ", ".join(f"{m} {_change(a, b)}" for m, (a, b) in pairs.items()) + "; "
            + _tally(pairs, "it") + ".")


def _paper_lines(summary: pd.DataFrame) -> list[str]:
    """The four cells furthest from the paper's Table IV (none where it has no table)."""
    diff = summary.dropna(subset=["paper"]).assign(difference=lambda d: d["mean"] - d.paper.astype(float))
    big = diff.assign(absdiff=diff.difference.abs()).nlargest(4, "absdiff")
    return [f"Largest differences from the paper: {r.inputs} {r.source} -> {r.target}: ours {r['mean']:.1f} ± "
            f"{r['std']:.1f}, paper {r.paper:.1f} ({r.difference:+.1f})" for _, r in big.iterrows()]


def _settings_line(models: dict, blackbox_models: dict, n_votes: int) -> str:
    """The SCD iterations and votes of our runs beside the paper's."""
    votes = compared(n_votes, paper.N_VOTES, f"the paper's {paper.N_VOTES}", 0, "more", "fewer", unit="")
    return (f"Table IV's {iterations(models, paper.N_ITER)}; Fig. 6's targets: "
            f"{iterations(blackbox_models, paper.N_ITER)}, with {n_votes} votes ({votes}).")


def reading(summary: pd.DataFrame, curves_summary: pd.DataFrame, judged: pd.DataFrame, models: dict,
            blackbox_models: dict, n_votes: int) -> list[str]:
    """The claims' verdicts, then original vs binarized on every count (clean accuracy, the
    white-box cells, the convex sources' transfer, the black box), the largest differences
    from the paper and the settings that differ from the paper's (all computed)."""
    lines = verdict_lines(judged)
    lines += [clean_line(summary), *whitebox_lines(summary), black_box_line(curves_summary)]
    return lines + _paper_lines(summary) + [_settings_line(models, blackbox_models, n_votes)]


# ------------------------------------------------------------------- the report
def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Table IV beside the paper, Fig. 6's end points and the claims, from the files in ``d``."""
    if not (d / f"{PER_SEED}.csv").is_file() or not (d / f"{CURVES_PER_SEED}.csv").is_file():
        return None
    long, curves = pd.read_csv(d / f"{PER_SEED}.csv"), pd.read_csv(d / f"{CURVES_PER_SEED}.csv")
    judged = verdicts(long, curves, dataset, saved_rows(d / f"{CLAIMS}.csv"))
    lines = [f"#### Table IV: white-box transfer (%) on original and binarized (p = inf) inputs, classes 0 vs 1, "
             f"mean ± sd over {long.seed.nunique()} seeds (paper; ours minus paper)", ""]
    for kind in INPUTS:
        df = transfer_cells(long[long.inputs == kind],
                            lambda src, t, k=kind: paper.paper_value(paper.TABLE_IV, dataset, k, src, t))
        df.index.name = f"{kind}: source \\ target"
        lines += [md_table(df), ""]
    ends = end_points(curves, ["setting", "target"], None)
    ends.index.name = "inputs / target"
    lines += [figures(d, [f"{HEATMAP}.png", f"{P_SWEEP}.png"]), "",
              "#### Fig. 6: convex-substitute black box on original vs binarized inputs (%)", "", md_table(ends), "",
              figures(d, [f"{FIG6}.png"]), "", "Claims (verdicts computed from the per-seed tables):", "",
              verdict_table(judged), ""]
    return Section(lines, [judged])
