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

from .summary import fmt

__all__ = ["Section", "md_table", "num", "link", "figures", "verdict_table", "run_records"]


@dataclass
class Section:
    """One experiment's part of the report: markdown lines and the verdicts behind them."""

    lines: list[str] = field(default_factory=list)
    verdicts: list[pd.DataFrame] = field(default_factory=list)


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


def verdict_table(verdicts: pd.DataFrame) -> str:
    """The claims' verdicts on ours and on the paper's numbers, as a markdown table."""
    df = pd.DataFrame({
        "verdict (ours)": verdicts.verdict,
        "q (ours)": [fmt(m, s) for m, s in zip(verdicts["mean"], verdicts["std"])],
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
