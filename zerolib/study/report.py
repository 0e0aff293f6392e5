"""``outputs/REPORT.md``: every profile that has run, our tables beside the papers'.

    python -m zerolib.study report [--output-root outputs]

For each profile folder under the output root with finished notebooks it writes the run
records (commit, date, device, duration) and then, for every experiment of
:data:`zerolib.experiments.EXPERIMENTS` whose notebook finished, that experiment's own
section (its module's ``section``): its tables beside the papers', its claims with verdicts
*recomputed here* from the per-seed tables the notebook saved, and its computed reading.
Nothing in the report is typed by hand, and nothing here knows an experiment. A summary at
the top gives every claim's verdict on every profile.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from zerolib._io import atomic_write
from zerolib.experiments import EXPERIMENTS, experiment
from zerolib.experiments.common.markdown import interval_text, md_table, n_text, run_records

__all__ = ["write_report", "profile_sections"]

# profiles in reading order: the real-data ones first, the smoke profile last
ORDER = ["cifar10-cpu", "mnist-cpu", "fashion_mnist-cpu", "cifar10", "mnist", "fashion_mnist", "quick"]


def _run_table(records: dict[str, dict]) -> str:
    rows = []
    for name, r in records.items():
        dev = r.get("device", {})
        where = (f"{dev.get('cpu_model', 'CPU')}, {dev.get('cpu_count', '?')} cores, "
                 f"{dev.get('torch_threads', '?')} torch threads"
                 + (f", {dev['cuda_device']}" if dev.get("cuda_device") else ""))
        git = r.get("git", {})
        commit = str(git.get("commit", "?"))[:10] + (" (dirty)" if git.get("dirty") else "")
        rows.append([name, r.get("status", "?"), commit, str(r.get("started", ""))[:10], where,
                     f"{float(r.get('seconds', 0)) / 60:.1f} min", parameters(r).get("n_seeds", "")])
    df = pd.DataFrame(rows, columns=["notebook", "status", "commit", "date", "device", "duration", "seeds"])
    return md_table(df.set_index("notebook"))


def parameters(record: dict) -> dict:
    """Every parameter of a run: the notebook's own defaults (kept in the record as source
    text) under the values the profile set."""
    merged = {}
    for name, text in record.get("defaults", {}).items():
        try:
            merged[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pass
    merged.update(record.get("parameters", {}))
    return merged


def profile_sections(profile_dir: Path) -> tuple[list[str], list[pd.DataFrame]]:
    """The report's lines for one profile's outputs, and its verdict tables (each row with the
    experiment, the profile, the dataset and the profile's stated reductions beside it)."""
    records = run_records(profile_dir)
    if not records:
        return [], []
    params = {n: parameters(r) for n, r in records.items()}
    dataset = next((p["dataset"] for p in params.values() if "dataset" in p), "?")
    lines = [f"## Profile `{profile_dir.name}` ({dataset})", "", "Run records:", "", _run_table(records), ""]
    verdicts: list[pd.DataFrame] = []
    for name in EXPERIMENTS:
        if records.get(name, {}).get("status") != "ok":
            continue
        section = experiment(name).section(profile_dir / name, dataset, params[name])
        if section is not None:
            lines += section.lines
            reductions = "; ".join(f"{k}: {v}" for k, v in records[name].get("reductions", {}).items())
            verdicts += [v.assign(experiment=name, profile=profile_dir.name, dataset=dataset,
                                  setting="; ".join(t for t in (setting(params[name]), section.model) if t),
                                  reductions=reductions) for v in section.verdicts]
    failed = [n for n, r in records.items() if r.get("status") != "ok"]
    if failed:
        lines += [f"Failed notebooks: {', '.join(failed)} (see their run.json).", ""]
    return lines, verdicts


# the parameters that say how large a run was, in the findings' setting line
SETTING_KEYS = ("n_seeds", "n_train", "n_test", "n_votes", "rounds", "cap", "n_attack", "net", "max_steps", "n_audit")


def setting(params: dict) -> str:
    """How large one run was: the size parameters it has, and the SCD iterations of its
    01-loss models (``models`` settings), e.g. "n_seeds 3, n_train 8000, n_votes 8, SCD01 n_iter 200"."""
    parts = [f"{k} {params[k]}" for k in SETTING_KEYS if params.get(k) not in (None, 0, "")]
    models = params.get("models") if isinstance(params.get("models"), dict) else {}
    parts += [f"{m} n_iter {v['n_iter']}" for m, v in models.items() if isinstance(v, dict) and "n_iter" in v]
    train = params.get("train") if isinstance(params.get("train"), dict) else {}
    if "epochs" in train:
        parts.append(f"{train['epochs']} epochs" + (f" of {train['steps_per_epoch']} steps"
                                                     if train.get("steps_per_epoch") else ""))
    return ", ".join(parts)


def _cell(v) -> str:
    """One dataset's verdict in the findings: the verdict, q [95 % interval], n, the paper's."""
    if v is None:
        return ""
    text = f"**{v['verdict']}** {interval_text(v['mean'], v['lo'], v['hi'])} (n {n_text(v['n_seeds'], v['n_rows'])})"
    return text + (f"; paper: {v['paper_verdict']}" if isinstance(v.get("paper_verdict"), str) else "")


def _why(rows: list) -> str:
    """Where ours and the paper's verdicts differ: the profile's stated reductions there."""
    out = [f"{r['dataset']}: {r['reductions']}" for r in rows if isinstance(r.get("paper_verdict"), str)
           and r["paper_verdict"] != r["verdict"] and r["reductions"]]
    return " / ".join(out)


def findings(verdicts: pd.DataFrame) -> list[str]:
    """The findings page: a row per claim with its verdict on each real dataset (q's mean, its
    95 % interval and n) and, where ours and the paper's verdicts differ, the reductions the
    profile states; then the setting behind each experiment on each dataset."""
    real = verdicts[verdicts.profile != "quick"]
    if real.empty:
        return ["No real-data profile has finished yet (`quick` is a smoke test, below).", ""]
    datasets = list(dict.fromkeys(real.dataset))
    rows = []
    for (where, claim), g in real.groupby(["where", "claim"], sort=False):
        by = {r["dataset"]: r for r in g.to_dict("records")}
        rows.append([f"{where}: {claim}"] + [_cell(by.get(ds)) for ds in datasets] + [_why(list(by.values()))])
    table = pd.DataFrame(rows, columns=["claim"] + datasets + ["where ours and the paper's differ: the reductions"])
    lines = ["## Findings", "",
             "Every claim of both papers on the real datasets: the verdict, the claim's quantity q as its mean "
             "over seeds with its 95 % interval (seeds and test rows, `zerolib.papers.intervals`), n (seeds x "
             "test rows), and the verdict the paper's own numbers give. Where the two verdicts differ, the "
             "reductions the profile states against the paper stand beside them. The full tables follow.", "",
             md_table(table.set_index("claim")), "", "Settings behind the verdicts:", ""]
    for (name, ds), g in real.groupby(["experiment", "dataset"], sort=False):
        lines.append(f"- {name}, {ds}: {g.setting.iloc[0]}")
    return lines + [""]


def write_report(output_root: Path) -> Path:
    """Write ``output_root/REPORT.md`` from every profile folder there: the findings first,
    then each profile's full tables."""
    output_root = Path(output_root)
    dirs = [d for d in output_root.iterdir() if d.is_dir() and any(d.glob("*/run.json"))
            and "-dry" not in d.name] if output_root.is_dir() else []  # a dry run proves it runs, nothing more
    dirs.sort(key=lambda d: (ORDER.index(d.name) if d.name in ORDER else len(ORDER), d.name))
    body, frames = [], []
    for d in dirs:
        lines, verdicts = profile_sections(d)
        body += lines
        frames += verdicts
    head = ["# zerolib: the study beside the papers", "",
            "Generated by `python -m zerolib.study report` from the outputs of each profile; every number "
            "is ours unless marked paper, and every verdict is computed from our per-seed tables by "
            "`zerolib.papers.claims`: holds when the whole 95 % interval of the claim's quantity is on the "
            "claim's side of its threshold, does not hold when it is wholly on the other side, unclear "
            "otherwise. Table cells show the mean ± the standard deviation over seeds. The papers' numbers "
            "are from their tables, cited by table.", ""]
    if frames:
        head += findings(pd.concat(frames, ignore_index=True))
    else:
        head += ["No profile has finished a notebook yet.", ""]
    text = "\n".join(head + body).rstrip() + "\n"
    return atomic_write(output_root / "REPORT.md", lambda tmp: Path(tmp).write_text(text))
