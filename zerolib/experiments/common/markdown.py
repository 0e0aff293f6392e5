"""What an experiment's report section is made of: markdown tables, numbers, figure links,
the verdict table, and the run records the runner wrote beside the outputs.

Every experiment module's ``section`` builds its part of ``outputs/REPORT.md`` from these, so
the report itself holds no per-experiment code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


__all__ = ["Section", "md_table", "num", "link", "figures", "verdict_table", "verdict_lines", "run_records",
           "saved_rows", "interval_text", "n_text"]


@dataclass
class Section:
    """One experiment's part of the report: markdown lines and the verdicts behind them."""

    lines: list[str] = field(default_factory=list)
    verdicts: list[pd.DataFrame] = field(default_factory=list)
    model: str = ""   # the models behind the verdicts and their clean accuracy, for the findings


def md_table(df: pd.DataFrame) -> str:
    """``df`` as a markdown table, its index as the first column."""
    cols = [str(c) for c in df.columns]
    head = "| " + " | ".join([df.index.name or ""] + cols) + " |"
    sep = "|" + "---|" * (len(cols) + 1)
    body = ["| " + " | ".join([str(i)] + ["" if pd.isna(v) else str(v) for v in row]) + " |"
            for i, row in zip(df.index, df.values)]
    return "\n".join([head, sep] + body)


def num(v, digits: int = 1, signed: bool = False) -> str:
    """A number with ``digits`` decimals (a sign if ``signed``); empty for a missing one."""
    if v is None or pd.isna(v):
        return ""
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def link(d: Path, name: str) -> str:
    """A file of notebook folder ``d`` as linked from REPORT.md beside the profile folders."""
    return f"{d.parent.name}/{d.name}/{name}"


def figures(d: Path, names) -> str:
    """Markdown images of those of ``names`` that exist in ``d``."""
    return " ".join(f"![{n}]({link(d, n)})" for n in names if (d / n).is_file())


def interval_text(mean, lo, hi, digits: int = 1) -> str:
    """``mean [lo, hi]``; empty for a claim that was not measured."""
    if mean is None or pd.isna(mean):
        return ""
    if lo is None or pd.isna(lo):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def n_text(n_seeds, n_rows) -> str:
    """n behind a verdict: seeds, and the test rows behind each accuracy where they count."""
    seeds = f"{int(n_seeds)} seed{'s' if int(n_seeds) != 1 else ''}"
    return seeds if n_rows is None or pd.isna(n_rows) else f"{seeds} x {int(n_rows)} rows"


def verdict_table(verdicts: pd.DataFrame) -> str:
    """The claims' verdicts on ours (q's mean and 95 % interval, n) and on the paper's numbers."""
    rows = verdicts["n_rows"] if "n_rows" in verdicts else [None] * len(verdicts)
    lo = verdicts["lo"] if "lo" in verdicts else [None] * len(verdicts)
    hi = verdicts["hi"] if "hi" in verdicts else [None] * len(verdicts)
    df = pd.DataFrame({
        "verdict (ours)": verdicts.verdict,
        "q (ours): mean [95 % interval]": [interval_text(m, a, b) for m, a, b in zip(verdicts["mean"], lo, hi)],
        "n": [n_text(k, r) for k, r in zip(verdicts["n_seeds"], rows)],
        "q (paper)": [num(v) for v in verdicts.paper],
        "verdict (paper's numbers)": verdicts.paper_verdict.fillna("no such table"),
    })
    df.index = verdicts.claim
    df.index.name = "claim"
    return md_table(df)


def run_records(profile_dir: Path) -> dict[str, dict]:
    """``{notebook: run.json}`` of every notebook folder of a profile (unreadable ones left out)."""
    out = {}
    for rec in sorted(Path(profile_dir).glob("*/run.json")):
        try:
            r = json.loads(rec.read_text())
        except json.JSONDecodeError:
            continue
        out[r.get("notebook", rec.parent.name)] = r
    return out


def saved_rows(claims_csv: Path) -> dict[str, int] | None:
    """``{claim: test rows}`` from a claims table a notebook saved (None where it holds none,
    e.g. one written before the rows were counted)."""
    path = Path(claims_csv)
    if not path.is_file():
        return None
    saved = pd.read_csv(path)
    if "n_rows" not in saved:
        return None
    return {c: int(n) for c, n in zip(saved.claim, saved.n_rows) if pd.notna(n)}


def verdict_lines(judged: pd.DataFrame, digits: int = 1, where: bool = False) -> list[str]:
    """Each claim of a verdict table as a sentence of the reading: the claim, its verdict, q's
    mean and 95 % interval, n, and the paper's q and verdict where its table has them."""
    lines = []
    for _, v in judged.iterrows():
        head = f"{v['where']}: {v['claim']}" if where else v["claim"]
        q = interval_text(v["mean"], v.get("lo"), v.get("hi"), digits)
        n = n_text(v["n_seeds"], v.get("n_rows"))
        paper = f"; paper q = {v['paper']:.{digits}f}, {v['paper_verdict']}" if pd.notna(v.get("paper")) else ""
        lines.append(f"{head}: **{v['verdict']}** (q = {q}, n = {n}{paper})")
    return lines
