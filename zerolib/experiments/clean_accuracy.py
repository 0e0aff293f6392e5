"""Paper A, Tables I and II: clean accuracy of SVM, SCD01, MLP and MLP01 (single run and
votes, one-vs-all) and the seconds one run of class 0 vs all takes.

The computation is :func:`~zerolib.experiments.common.model_suite.clean_accuracy` and
:func:`~zerolib.experiments.common.model_suite.one_vs_all_timing`; this module owns what the
notebook saves, the tables beside the paper, the claims' verdicts, the reading and the
report's section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zerolib.papers import numbers as paper
from zerolib.papers.claims import TABLE_I_CLAIMS, judge_all, table_i_cells

from .common.markdown import Section, figures, md_table, num, saved_rows, verdict_lines, verdict_table
from .common.summary import fmt, over_seeds, wide

__all__ = ["NOTEBOOK", "PER_SEED", "SUMMARY", "CLAIMS", "TIMING_PER_SEED", "TIMING", "table_i", "table_i_shown",
           "verdicts", "table_ii", "reading", "section"]

NOTEBOOK = "clean_accuracy"
PER_SEED, SUMMARY, CLAIMS = "table1_per_seed", "table1", "table1_claims"
TIMING_PER_SEED, TIMING = "table2_per_seed", "table2"
MODELS = list(paper.MODELS)
KINDS = ("single", "votes")


def table_i(long: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table I over seeds (model, kind, mean, std, ...), the paper's number and ours minus it."""
    summary = over_seeds(long, ["model", "kind"])
    summary["paper"] = [paper.paper_value(paper.TABLE_I, dataset, k, m) for m, k in zip(summary.model, summary.kind)]
    summary["difference"] = summary["mean"] - summary["paper"].astype(float)
    return summary


def table_i_shown(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table I as the notebook shows it: a row per model, ours (mean ± sd) and the paper's."""
    shown = wide(summary.assign(col=summary.kind + " (ours)"), "model", "col", rows=MODELS)
    for kind in KINDS:
        shown[f"{kind} (paper)"] = [paper.paper_value(paper.TABLE_I, dataset, kind, m) for m in shown.index]
    return shown


def verdicts(long: pd.DataFrame, dataset: str, n_rows=None) -> pd.DataFrame:
    """Paper A's claims about Table I, judged on the per-seed table and on the paper's."""
    return judge_all(TABLE_I_CLAIMS, table_i_cells(long), paper.table_i_cells(dataset), n_rows)


def table_ii(times: pd.DataFrame, dataset: str, threads: int) -> pd.DataFrame:
    """Table II over seeds: seconds per model, the paper's, where ours ran and on how many threads."""
    t2 = over_seeds(times, ["model"], value="seconds")
    t2["paper"] = [paper.paper_value(paper.TABLE_II, dataset, m) for m in t2.model]
    t2["device"] = times.groupby("model", sort=False)["device"].first().values
    t2["threads"] = threads
    return t2


def reading(summary: pd.DataFrame, judged: pd.DataFrame, dataset: str) -> list[str]:
    """Ours beside the paper, model by model, and each claim's verdict (computed)."""
    lines = [f"{r.model} {r.kind}: ours {r['mean']:.1f} ± {r['std']:.1f}, paper {r.paper:.1f} "
             f"({r.difference:+.1f} points)" for _, r in summary.dropna(subset=["paper"]).iterrows()]
    if not lines:
        lines.append(f"The paper reports no Table I for {dataset}; ours stands alone.")
    lines += verdict_lines(judged)
    return lines


def _table_i_beside_paper(long: pd.DataFrame, dataset: str) -> pd.DataFrame:
    s = over_seeds(long, ["model", "kind"]).set_index(["model", "kind"])
    rows = []
    for m in MODELS:
        row = []
        for kind in KINDS:
            ours = s.loc[(m, kind)] if (m, kind) in s.index else None
            p = paper.paper_value(paper.TABLE_I, dataset, kind, m)
            row += [fmt(ours["mean"], ours["std"]) if ours is not None else "", num(p),
                    num(ours["mean"] - p, signed=True) if ours is not None and p is not None else ""]
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index(MODELS, name="model"),
                        columns=[f"{k}: {w}" for k in KINDS for w in ("ours", "paper", "diff")])


def _table_ii_lines(d: Path, dataset: str, params: dict) -> list[str]:
    if not (d / f"{TIMING}.csv").is_file():
        return []
    t = pd.read_csv(d / f"{TIMING}.csv").set_index("model")
    df = pd.DataFrame({"ours (s)": [fmt(t.loc[m, "mean"], t.loc[m, "std"], 2) if m in t.index else "" for m in MODELS],
                       "paper (s)": [num(paper.paper_value(paper.TABLE_II, dataset, m)) for m in MODELS],
                       "our device": [t.loc[m, "device"] if m in t.index else "" for m in MODELS]},
                      index=pd.Index(MODELS, name="model"))
    devices = ", ".join(sorted(set(t["device"].astype(str)))) or "?"
    iters = {m: (params.get("models") or {}).get(m, {}).get("n_iter") for m in ("SCD01", "MLP01")}
    ours = (f"ours on {devices} with this profile's settings ({params.get('n_train') or 'all'} training rows, "
            + ", ".join(f"{m} {n or 'default'} iterations" for m, n in iters.items()) + ")")
    return [f"#### Table II: seconds for one run, class 0 vs all: {ours}; the paper's on a Titan RTX GPU (01 loss) "
            f"and Xeon CPUs (SVM, MLP with scikit-learn) at full settings ({paper.N_ITER} iterations, all rows). "
            "The two columns measure different work on different machines: read each column's ranking, not "
            "the ratio between them.", "", md_table(df), ""]


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Tables I and II beside the paper and the claims, from the files in ``d``."""
    if not (d / f"{PER_SEED}.csv").is_file():
        return None
    long = pd.read_csv(d / f"{PER_SEED}.csv")
    judged = verdicts(long, dataset, saved_rows(d / f"{CLAIMS}.csv"))
    lines = [f"#### Table I: clean test accuracy (%), one-vs-all, mean ± sd over {long.seed.nunique()} seeds",
             "", md_table(_table_i_beside_paper(long, dataset)), "", figures(d, ["table1.png"]), "",
             "Claims (verdicts computed from the per-seed table):", "", verdict_table(judged), ""]
    votes = table_i(long, dataset).query("kind == 'votes'")
    model = "clean accuracy with votes: " + ", ".join(
        f"{r.model} {r['mean']:.1f} %" + (f" (paper {r.paper:.1f})" if pd.notna(r.paper) else "")
        for _, r in votes.iterrows())
    return Section(lines + _table_ii_lines(d, dataset, params), [judged], model)
