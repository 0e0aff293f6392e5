"""Paper A, Table III: white-box adversaries of SVM, SCD01, MLP and MLP01 (classes 0 vs 1,
single runs) scored on every one of the four models, at the paper's eps and over an eps sweep.

The attacks and the table are :mod:`~zerolib.experiments.common.transfer`'s; this module owns
what the notebook saves, the tables beside the paper, the claims' verdicts, the reading and
the report's section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zerolib.papers import numbers as paper
from zerolib.papers.claims import TABLE_III_CLAIMS, judge_all, table_iii_cells

from .common.markdown import Section, figures, md_table, saved_rows, verdict_lines, verdict_table
from .common.summary import fmt, long_form, over_seeds, wide
from .common.transfer import eps_sweep, paper_attack, transfer_cells, transfer_table
from .common.wording import compared, iterations

__all__ = ["NOTEBOOK", "PER_SEED", "SUMMARY", "CLAIMS", "HEATMAP", "SWEEP_PER_SEED", "SWEEP", "MODELS", "SOURCES",
           "one_seed", "table_iii", "ours_shown", "paper_eps", "paper_shown", "difference_shown", "means",
           "sweep_summary", "verdicts", "diagonal_lines", "sweep_lines", "reading", "section"]

NOTEBOOK = "whitebox_transfer"
PER_SEED, SUMMARY, CLAIMS, HEATMAP = "table3_per_seed", "table3", "table3_claims", "table3_heatmap"
SWEEP_PER_SEED, SWEEP = "eps_sweep_per_seed", "eps_sweep"
MODELS = list(paper.MODELS)
SOURCES = ["clean"] + MODELS  # the rows of a transfer table: clean accuracy, then each source's adversaries


def one_seed(fitted: dict, x, y, eps: float, eps_values, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One seed's Table III at ``eps`` (long form) and its eps sweep of every cell, from the
    models ``fitted`` ({name: model}) attacked with paper A's attack for each."""
    attacks = {n: paper_attack(m, eps, seed=seed) for n, m in fitted.items()}
    table = long_form(transfer_table(attacks, fitted, x, y), seed)
    sweep = eps_sweep(fitted, fitted, x, y, eps_values, seed=seed)
    return table, sweep.assign(seed=seed)


def table_iii(long: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table III over seeds (source, target, mean, std, ...), the paper's cell and ours minus it."""
    summary = over_seeds(long, ["source", "target"])
    summary["paper"] = [paper.paper_value(paper.TABLE_III, dataset, a, b) for a, b in zip(summary.source, summary.target)]
    summary["difference"] = summary["mean"] - summary["paper"].astype(float)
    return summary


def ours_shown(summary: pd.DataFrame) -> pd.DataFrame:
    """Our Table III as the notebook shows it: mean ± sd, rows clean and the sources."""
    return wide(summary, "source", "target", rows=SOURCES, cols=MODELS)


def paper_eps(dataset: str) -> float | None:
    """The eps of the paper's Table III on ``dataset`` (None where it has none)."""
    return paper.TABLE_III_EPS.get(dataset)


def paper_shown(dataset: str) -> pd.DataFrame | None:
    """The paper's Table III in the same layout, or None where it has none for ``dataset``."""
    if dataset not in paper.TABLE_III:
        return None
    return pd.DataFrame(paper.TABLE_III[dataset]).T.loc[SOURCES, MODELS]


def difference_shown(summary: pd.DataFrame) -> pd.DataFrame:
    """Ours minus the paper's, cell by cell (rounded to 0.1)."""
    return summary.pivot(index="source", columns="target", values="difference").loc[SOURCES, MODELS].round(1)


def means(summary: pd.DataFrame) -> pd.DataFrame:
    """Our mean accuracy per cell, rows clean and the sources (the heat map's numbers)."""
    return summary.pivot(index="source", columns="target", values="mean").loc[SOURCES, MODELS]


def sweep_summary(sweep_long: pd.DataFrame) -> pd.DataFrame:
    """The eps sweep over seeds: per (eps, source, target) mean, std, min, max, n."""
    return over_seeds(sweep_long, ["eps", "source", "target"])


def verdicts(long: pd.DataFrame, dataset: str, n_rows=None) -> pd.DataFrame:
    """Paper A's claims about Table III, judged on the per-seed table and on the paper's."""
    return judge_all(TABLE_III_CLAIMS, table_iii_cells(long), paper.table_iii_cells(dataset), n_rows)


def _own_attack_rank(s: pd.DataFrame, m: str, own: float, dataset: str) -> str:
    """Where model ``m``'s own adversaries stand among the other sources' adversaries against
    it, in our table and (where it has one) in the paper's: lower accuracy is more effective."""
    others = {src: float(s.loc[(src, m), "mean"]) for src in MODELS if src != m and (src, m) in s.index}
    listed = ", ".join(f"{src} {v:.1f}" for src, v in others.items())
    stronger = [src for src, v in others.items() if round(v, 1) < round(own, 1)]
    if not stronger:
        text = f"against {m} no other model's adversaries are more effective than its own ({listed})"
    else:
        text = (f"against {m} the adversaries of {', '.join(stronger)} are more effective than its own, "
                f"{len(stronger)} of {len(others)} ({listed})")
    p_own = paper.paper_value(paper.TABLE_III, dataset, m, m)
    if p_own is not None:
        p_other = {src: paper.paper_value(paper.TABLE_III, dataset, src, m) for src in others}
        n = sum(v is not None and v < p_own for v in p_other.values())
        text += f"; in the paper's table {n} of {len(others)} are"
    return text


def diagonal_lines(summary: pd.DataFrame, dataset: str) -> list[str]:
    """One sentence per white-box (diagonal) cell: its accuracy against the clean one, against
    the paper's and against the other sources' adversaries on the same model (all computed)."""
    s = summary.set_index(["source", "target"])
    lines = []
    for m in MODELS:
        if (m, m) not in s.index or ("clean", m) not in s.index:
            continue
        own, clean = s.loc[(m, m)], float(s.loc[("clean", m), "mean"])
        to_clean = compared(own["mean"], clean, f"its clean {clean:.1f}", lower="below", higher="above", than="")
        text = f"{m} under its own white-box attack: {fmt(own['mean'], own['std'])} %, {to_clean}"
        p_own = paper.paper_value(paper.TABLE_III, dataset, m, m)
        if p_own is not None:
            sd = own["std"]
            spread = "" if pd.isna(sd) else (", within one sd" if abs(own["mean"] - p_own) <= sd
                                             else ", more than one sd apart")
            of_paper = f"the paper's {p_own:.1f}"
            text += f"; ours {compared(own['mean'], p_own, of_paper)}{spread}"
        lines.append(f"{text}; {_own_attack_rank(s, m, float(own['mean']), dataset)}.")
    return lines


def sweep_lines(sweep: pd.DataFrame) -> list[str]:
    """How each white-box cell moves from the sweep's smallest eps to its largest (computed)."""
    lines = []
    lo, hi = sweep.eps.min(), sweep.eps.max()
    if lo == hi:
        return lines
    for m in MODELS:
        d = sweep[(sweep.source == m) & (sweep.target == m)].set_index("eps")["mean"]
        if lo not in d.index or hi not in d.index:
            continue
        a, b = float(d[lo]), float(d[hi])
        if round(a, 1) == round(b, 1):
            lines.append(f"Over the eps sweep, {m}'s white-box cell stays at {a:.1f} from eps {lo:g} to {hi:g}.")
        else:
            lines.append(f"Over the eps sweep, {m}'s white-box cell {'rises' if b > a else 'falls'} from {a:.1f} "
                         f"at eps {lo:g} to {b:.1f} at eps {hi:g}.")
    return lines


def _eps_line(eps, dataset: str) -> str:
    """Our eps beside the paper's (or why ours, where the paper has none)."""
    peps = paper_eps(dataset)
    if peps is None:
        why = f": {paper.EPS_CHOICE[dataset][1]}" if dataset in paper.EPS_CHOICE else ""
        return f"eps {eps}; the paper has no Table III for {dataset}{why}."
    if float(eps) == peps:
        return f"eps {eps}, the paper's."
    return f"eps {eps}, {'larger' if float(eps) > peps else 'smaller'} than the paper's {peps}."


def reading(summary: pd.DataFrame, judged: pd.DataFrame, dataset: str, eps, models: dict,
            sweep: pd.DataFrame | None = None) -> list[str]:
    """The claims' verdicts, the white-box cells beside the paper and the other cells, how
    they move over the eps sweep, the largest differences from the paper and the settings
    that differ from the paper's (all computed)."""
    lines = verdict_lines(judged)
    lines += diagonal_lines(summary, dataset)
    if sweep is not None:
        lines += sweep_lines(sweep)
    big = summary.dropna(subset=["paper"]).assign(absdiff=lambda d: d.difference.abs()).nlargest(4, "absdiff")
    lines += [f"Largest differences from the paper: {r.source} -> {r.target}: ours {r['mean']:.1f} ± "
              f"{r['std']:.1f}, paper {r.paper:.1f} ({r.difference:+.1f})" for _, r in big.iterrows()]
    lines += [_eps_line(eps, dataset), iterations(models, paper.N_ITER) + "."]
    return lines


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Table III beside the paper and its claims, from the files in ``d`` (``params``: the
    notebook's run-record parameters, for its eps)."""
    if not (d / f"{PER_SEED}.csv").is_file():
        return None
    long = pd.read_csv(d / f"{PER_SEED}.csv")
    df = transfer_cells(long, lambda src, t: paper.paper_value(paper.TABLE_III, dataset, src, t))
    judged = verdicts(long, dataset, saved_rows(d / f"{CLAIMS}.csv"))
    peps, eps = paper_eps(dataset), params.get("eps")
    note = (f"each cell: ours, mean ± sd over {long.seed.nunique()} seeds (paper; ours minus paper); "
            f"our eps {eps}" + (f", the paper's {peps}" if peps is not None else ", no paper table for this dataset"))
    if peps is None and dataset in paper.EPS_CHOICE:
        note += f". Why eps {paper.EPS_CHOICE[dataset][0]}: {paper.EPS_CHOICE[dataset][1]}"
    lines = ["#### Table III: accuracy (%) of the row's adversaries on the column's model, classes 0 vs 1",
             "", note, "", md_table(df), "", figures(d, [f"{HEATMAP}.png", f"{SWEEP}.png"]), "",
             "Claims (verdicts computed from the per-seed table):", "", verdict_table(judged), ""]
    return Section(lines, [judged])
