"""``outputs/REPORT.md``: every profile that has run, our tables beside the papers'.

    python -m zerolib.study report [--output-root outputs]

For each profile folder under the output root with finished notebooks it writes
the run records (commit, date, device, duration), paper A's Tables I-III as
``ours (mean ± sd over seeds) | paper | difference``, and the paper's claims with
verdicts *recomputed here* by :mod:`zerolib.claims` from the per-seed tables the
notebooks saved -- nothing in the report is typed by hand. A summary at the top
gives every claim's verdict on every profile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import paper
from .claims import TABLE_I_CLAIMS, TABLE_III_CLAIMS, judge_all, table_i_cells, table_iii_cells
from .results import atomic_write
from .spread import fmt, over_seeds

__all__ = ["write_report", "profile_sections"]

MODELS = list(paper.MODELS)
# profiles in reading order: the real-data ones first, the smoke profile last
ORDER = ["cifar10-cpu", "mnist-cpu", "fashion_mnist-cpu", "cifar10", "mnist", "fashion_mnist", "quick"]


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    head = "| " + " | ".join([df.index.name or ""] + cols) + " |"
    sep = "|" + "---|" * (len(cols) + 1)
    body = ["| " + " | ".join([str(i)] + ["" if pd.isna(v) else str(v) for v in row]) + " |"
            for i, row in zip(df.index, df.values)]
    return "\n".join([head, sep] + body)


def _num(v, digits=1, signed=False):
    if v is None or pd.isna(v):
        return ""
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _records(profile_dir: Path) -> dict[str, dict]:
    out = {}
    for rec in sorted(profile_dir.glob("*/run.json")):
        try:
            r = json.loads(rec.read_text())
        except json.JSONDecodeError:
            continue
        out[r.get("notebook", rec.parent.name)] = r
    return out


def _run_table(records: dict[str, dict]) -> str:
    rows = []
    for name, r in records.items():
        dev = r.get("device", {})
        where = f"{dev.get('cpu_count', '?')} CPU cores" + (f", {dev['cuda_device']}" if dev.get("cuda_device") else "")
        git = r.get("git", {})
        commit = str(git.get("commit", "?"))[:10] + (" (dirty)" if git.get("dirty") else "")
        rows.append([name, r.get("status", "?"), commit, str(r.get("started", ""))[:10], where,
                     f"{float(r.get('seconds', 0)) / 60:.1f} min", r.get("parameters", {}).get("n_seeds", "")])
    df = pd.DataFrame(rows, columns=["notebook", "status", "commit", "date", "device", "duration", "seeds"])
    df = df.set_index("notebook")
    return _md_table(df)


def _link(d: Path, name: str) -> str:
    """A figure of notebook folder ``d`` as linked from REPORT.md beside the profile folders."""
    return f"{d.parent.name}/{d.name}/{name}"


def _verdict_table(verdicts: pd.DataFrame) -> str:
    df = pd.DataFrame({
        "verdict (ours)": verdicts.verdict,
        "q (ours)": [fmt(m, s) for m, s in zip(verdicts["mean"], verdicts["std"])],
        "q (paper)": [_num(v) for v in verdicts.paper],
        "verdict (paper's numbers)": verdicts.paper_verdict.fillna("no such table"),
    })
    df.index = verdicts.claim
    df.index.name = "claim"
    return _md_table(df)


def _table_i(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    """Table I, II and their claims; figure links relative to the report (``<profile>/<notebook>/``)."""
    per_seed = d / "table1_per_seed.csv"
    if not per_seed.is_file():
        return []
    long = pd.read_csv(per_seed)
    s = over_seeds(long, ["model", "kind"]).set_index(["model", "kind"])
    rows = []
    for m in MODELS:
        row = []
        for kind in ("single", "votes"):
            ours = s.loc[(m, kind)] if (m, kind) in s.index else None
            p = paper.paper_value(paper.TABLE_I, dataset, kind, m)
            row += [fmt(ours["mean"], ours["std"]) if ours is not None else "", _num(p),
                    _num(ours["mean"] - p, signed=True) if ours is not None and p is not None else ""]
        rows.append(row)
    df = pd.DataFrame(rows, index=pd.Index(MODELS, name="model"),
                      columns=["single: ours", "single: paper", "single: diff", "votes: ours", "votes: paper",
                               "votes: diff"])
    verdicts = judge_all(TABLE_I_CLAIMS, table_i_cells(long), paper.table_i_cells(dataset))
    verdict_rows.append(verdicts)
    n_seeds = long.seed.nunique()
    out = [f"#### Table I: clean test accuracy (%), one-vs-all, mean ± sd over {n_seeds} seeds",
           "", _md_table(df), "", "![Table I](" + _link(d, "table1.png") + ")", "",
           "Claims (verdicts computed from the per-seed table):", "", _verdict_table(verdicts), ""]
    t2 = d / "table2.csv"
    if t2.is_file():
        t = pd.read_csv(t2).set_index("model")
        df2 = pd.DataFrame({"ours (s)": [fmt(t.loc[m, "mean"], t.loc[m, "std"], 2) if m in t.index else "" for m in MODELS],
                            "paper (s)": [_num(paper.paper_value(paper.TABLE_II, dataset, m)) for m in MODELS],
                            "our device": [t.loc[m, "device"] if m in t.index else "" for m in MODELS]},
                           index=pd.Index(MODELS, name="model"))
        out += ["#### Table II: seconds for one run, class 0 vs all (paper: 01 loss on a Titan RTX GPU, "
                "SVM/MLP with scikit-learn on Xeon CPUs)", "", _md_table(df2), ""]
    return out


def _table_iii(d: Path, dataset: str, eps, verdict_rows: list) -> list[str]:
    per_seed = d / "table3_per_seed.csv"
    if not per_seed.is_file():
        return []
    long = pd.read_csv(per_seed)
    s = over_seeds(long, ["source", "target"]).set_index(["source", "target"])
    sources = ["clean"] + MODELS
    cells = []
    for src in sources:
        row = []
        for t in MODELS:
            ours = s.loc[(src, t)] if (src, t) in s.index else None
            p = paper.paper_value(paper.TABLE_III, dataset, src, t)
            text = fmt(ours["mean"], ours["std"]) if ours is not None else ""
            if p is not None and ours is not None:
                text += f" ({_num(p)}; {_num(ours['mean'] - p, signed=True)})"
            row.append(text)
        cells.append(row)
    df = pd.DataFrame(cells, index=pd.Index(sources, name="source \\ target"), columns=MODELS)
    verdicts = judge_all(TABLE_III_CLAIMS, table_iii_cells(long), paper.table_iii_cells(dataset))
    verdict_rows.append(verdicts)
    peps = paper.TABLE_III_EPS.get(dataset)
    note = (f"each cell: ours, mean ± sd over {long.seed.nunique()} seeds (paper; ours minus paper); "
            f"our eps {eps}" + (f", the paper's {peps}" if peps is not None else ", no paper table for this dataset"))
    if peps is None and dataset in paper.EPS_CHOICE:
        note += f". Why eps {paper.EPS_CHOICE[dataset][0]}: {paper.EPS_CHOICE[dataset][1]}"
    return [f"#### Table III: accuracy (%) of the row's adversaries on the column's model, classes 0 vs 1",
            "", note, "", _md_table(df), "",
            "![Table III](" + _link(d, "table3_heatmap.png") + ") ![eps sweep](" +
            _link(d, "eps_sweep.png") + ")", "",
            "Claims (verdicts computed from the per-seed table):", "", _verdict_table(verdicts), ""]


def profile_sections(profile_dir: Path) -> tuple[list[str], list[pd.DataFrame]]:
    """The report's lines for one profile's outputs, and its verdict tables."""
    records = _records(profile_dir)
    if not records:
        return [], []
    params = {n: r.get("parameters", {}) for n, r in records.items()}
    dataset = next((p["dataset"] for p in params.values() if "dataset" in p), "?")
    lines = [f"## Profile `{profile_dir.name}` ({dataset})", "", "Run records:", "", _run_table(records), ""]
    verdicts: list[pd.DataFrame] = []
    if records.get("clean_accuracy", {}).get("status") == "ok":
        lines += _table_i(profile_dir / "clean_accuracy", dataset, verdicts)
    if records.get("whitebox_transfer", {}).get("status") == "ok":
        eps = params["whitebox_transfer"].get("eps")
        lines += _table_iii(profile_dir / "whitebox_transfer", dataset, eps, verdicts)
    failed = [n for n, r in records.items() if r.get("status") != "ok"]
    if failed:
        lines += [f"Failed notebooks: {', '.join(failed)} (see their run.json).", ""]
    return lines, verdicts


def write_report(output_root: Path) -> Path:
    """Write ``output_root/REPORT.md`` from every profile folder there."""
    output_root = Path(output_root)
    dirs = [d for d in output_root.iterdir() if d.is_dir() and any(d.glob("*/run.json"))] \
        if output_root.is_dir() else []
    dirs.sort(key=lambda d: (ORDER.index(d.name) if d.name in ORDER else len(ORDER), d.name))
    body, summary = [], {}
    for d in dirs:
        lines, verdicts = profile_sections(d)
        body += lines
        for v in verdicts:
            for r in v.itertuples():
                summary.setdefault(r.claim, {})[d.name] = r.verdict
    head = ["# zerolib: the study beside the papers", "",
            "Generated by `python -m zerolib.study report` from the outputs of each profile; every number "
            "is ours unless marked paper, and every verdict is computed from our per-seed tables by "
            "`zerolib.claims` (holds: true at mean ± 1 sd over seeds; does not hold: false at both ends; "
            "unclear: in between). The papers' numbers are from `shared/docs/study.md`. Why ours differ "
            "is discussed in each executed notebook (`<profile>/<notebook>.ipynb`).", ""]
    if summary:
        names = [d.name for d in dirs]
        df = pd.DataFrame([[summary[c].get(n, "") for n in names] for c in summary],
                          index=pd.Index(list(summary), name="claim (paper A)"), columns=names)
        head += ["## Verdicts on every profile", "", _md_table(df), ""]
    else:
        head += ["No profile has finished a notebook yet.", ""]
    text = "\n".join(head + body).rstrip() + "\n"
    return atomic_write(output_root / "REPORT.md", lambda tmp: Path(tmp).write_text(text))
