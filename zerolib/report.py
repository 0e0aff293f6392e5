"""``outputs/REPORT.md``: every profile that has run, our tables beside the papers'.

    python -m zerolib.study report [--output-root outputs]

For each profile folder under the output root with finished notebooks it writes
the run records (commit, date, device, duration), paper A's Tables I-IV and the
black-box end points of Figs. 3-7, and paper B's Tables 3-7 and Fig. 4, as
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
from .claims import (BLACKBOX_CLAIMS, FIG4_CLAIMS, FIG6_CLAIMS, FIG7_CLAIMS, TABLE_3_CLAIMS, TABLE_4_CLAIMS,
                     TABLE_5_CLAIMS, TABLE_6_CLAIMS, TABLE_7_CLAIMS, TABLE_I_CLAIMS, TABLE_III_CLAIMS, TABLE_IV_CLAIMS,
                     conv_bound_cells, curve_cells, judge_all, table_i_cells, table_iii_cells, table_iv_cells)
from .results import atomic_write
from .spread import fmt, over_seeds, wide

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


def _transfer_cells(long: pd.DataFrame, paper_of) -> pd.DataFrame:
    """A transfer table (rows clean and the sources, columns the targets): each cell
    ours as mean ± sd over seeds, with ``paper_of(source, target)`` and the difference."""
    s = over_seeds(long, ["source", "target"]).set_index(["source", "target"])
    sources = ["clean"] + MODELS
    cells = []
    for src in sources:
        row = []
        for t in MODELS:
            ours = s.loc[(src, t)] if (src, t) in s.index else None
            p = paper_of(src, t)
            text = fmt(ours["mean"], ours["std"]) if ours is not None else ""
            if p is not None and ours is not None:
                text += f" ({_num(p)}; {_num(ours['mean'] - p, signed=True)})"
            row.append(text)
        cells.append(row)
    return pd.DataFrame(cells, index=pd.Index(sources, name="source \\ target"), columns=MODELS)


def _table_iii(d: Path, dataset: str, eps, verdict_rows: list) -> list[str]:
    per_seed = d / "table3_per_seed.csv"
    if not per_seed.is_file():
        return []
    long = pd.read_csv(per_seed)
    df = _transfer_cells(long, lambda src, t: paper.paper_value(paper.TABLE_III, dataset, src, t))
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


def _end_points(curves: pd.DataFrame, by: list[str], cells: dict | None) -> pd.DataFrame:
    """Each curve's clean accuracy (round 0) and its last round, ours (mean ± sd) and
    the paper's where it states them (``cells`` as ``zerolib.paper.BLACKBOX``)."""
    last = int(curves["round"].max())
    s = over_seeds(curves, by + ["round"], value="target_accuracy")
    rows = []
    for key, g in s.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g = g.set_index("round")
        row = {"curve": " / ".join(map(str, key))}
        for rnd, label in ((0, "clean"), (last, f"round {last}")):
            row[f"{label}: ours"] = fmt(g.loc[rnd, "mean"], g.loc[rnd, "std"]) if rnd in g.index else ""
            p = (cells or {}).get(key + (0 if rnd == 0 else "last", "target_accuracy"))
            row[f"{label}: paper"] = _num(p)
        rows.append(row)
    return pd.DataFrame(rows).set_index("curve")


def _figures(d: Path, names) -> str:
    return " ".join(f"![{n}]({_link(d, n)})" for n in names if (d / n).is_file())


def _blackbox(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    per_seed = d / "curves_per_seed.csv"
    if not per_seed.is_file():
        return []
    curves = pd.read_csv(per_seed)
    verdicts = judge_all(BLACKBOX_CLAIMS, curve_cells(curves), paper.blackbox_cells(dataset))
    verdict_rows.append(verdicts)
    df = _end_points(curves, ["setting", "substitute", "target"], paper.blackbox_cells(dataset))
    df.index.name = "task / substitute / target"
    return [f"#### Figs. 3-5: substitute-model black box, accuracy (%) on the adversaries, mean ± sd over "
            f"{curves.seed.nunique()} seeds", "",
            "Substitute MLP: the convex 2 x 200 network against targets with votes (Fig. 3); substitute SCD01: "
            "against single runs (Fig. 4). The paper states only CIFAR10's end points in words.", "",
            _md_table(df), "", _figures(d, ["fig3.png", "fig4_fig5.png"]), "",
            "Claims (verdicts computed from the per-seed curves):", "", _verdict_table(verdicts), ""]


def _discretization(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    per_seed, curves_file = d / "table4_per_seed.csv", d / "fig6_curves_per_seed.csv"
    if not per_seed.is_file() or not curves_file.is_file():
        return []
    long, curves = pd.read_csv(per_seed), pd.read_csv(curves_file)
    verdicts = pd.concat([judge_all(TABLE_IV_CLAIMS, table_iv_cells(long), paper.table_iv_cells(dataset)),
                          judge_all(FIG6_CLAIMS, curve_cells(curves))], ignore_index=True)
    verdict_rows.append(verdicts)
    out = [f"#### Table IV: white-box transfer (%) on original and binarized (p = inf) inputs, classes 0 vs 1, "
           f"mean ± sd over {long.seed.nunique()} seeds (paper; ours minus paper)", ""]
    for kind in ("original", "binarized"):
        df = _transfer_cells(long[long.inputs == kind],
                             lambda src, t, k=kind: paper.paper_value(paper.TABLE_IV, dataset, k, src, t))
        df.index.name = f"{kind}: source \\ target"
        out += [_md_table(df), ""]
    ends = _end_points(curves, ["setting", "target"], None)
    ends.index.name = "inputs / target"
    out += [_figures(d, ["table4_heatmap.png", "p_sweep.png"]), "",
            "#### Fig. 6: convex-substitute black box on original vs binarized inputs (%)", "", _md_table(ends), "",
            _figures(d, ["fig6.png"]), "", "Claims (verdicts computed from the per-seed tables):", "",
            _verdict_table(verdicts), ""]
    return out


def _cnn_comparison(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    pairs_file, curves_file = d / "pairs.csv", d / "fig7_curves_per_seed.csv"
    if not pairs_file.is_file() or not curves_file.is_file():
        return []
    pairs, curves = pd.read_csv(pairs_file), pd.read_csv(curves_file)
    verdicts = judge_all(FIG7_CLAIMS, curve_cells(curves))
    verdict_rows.append(verdicts)
    top = pd.DataFrame({"MLP01 validation (%)": [fmt(m, s) for m, s in zip(pairs.validation_accuracy_mean,
                                                                         pairs.validation_accuracy_std)],
                        "MLP01 test (%)": [fmt(m, s) for m, s in zip(pairs.test_accuracy_mean,
                                                                   pairs.test_accuracy_std)]},
                       index=pd.Index([f"{a} vs {b}" for a, b in zip(pairs.a, pairs.b)], name="pair"))
    paper_pair = paper.FIG7_PAIR.get(dataset)
    rank = ""
    if paper_pair is not None:
        hit = [i for i, (a, b) in enumerate(zip(pairs.a, pairs.b)) if (a, b) == tuple(paper_pair)]
        rank = (f" The paper's pair, {paper_pair[0]} vs {paper_pair[1]}, ranks {hit[0] + 1} of {len(pairs)} here."
                if hit else f" The paper's pair {paper_pair[0]} vs {paper_pair[1]} was not searched.")
    ends = _end_points(curves, ["target"], None)
    ends.index.name = "target"
    return [f"#### Fig. 7: the class pair where MLP01 is most accurate, and the CNN substitute", "",
            f"Pairs ranked by MLP01's accuracy on held-out training rows (the choice never sees test data), "
            f"{len(pairs)} pairs searched; the top 5:{rank}", "", _md_table(top.head(5)), "",
            "Accuracy (%) on the CNN substitute's adversaries:", "", _md_table(ends), "",
            _figures(d, ["pairs_heatmap.png", "fig7.png"]), "",
            "Claims (verdicts computed from the per-seed curves):", "", _verdict_table(verdicts), ""]


def _by_cell(long: pd.DataFrame, metric: str, paper_of, rows) -> pd.DataFrame:
    """:func:`zerolib.loss_targets.beside_paper` turned on its side: a row per
    (attack, value), a column per model (the report's page is narrower than a notebook)."""
    from .loss_targets import beside_paper

    t = beside_paper(long, metric, paper_of, rows=rows).set_index("model").T
    t.index.name = "attack value"
    t.columns.name = None
    return t


def _loss_targets(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    grids_file, clean_file = d / "grids_per_seed.csv", d / "table4_per_seed.csv"
    if not grids_file.is_file() or not clean_file.is_file():
        return []
    from .grid import TARGETED, UNTARGETED
    from .loss_targets import head_cells

    grids, clean = pd.read_csv(grids_file), pd.read_csv(clean_file)
    heads = list(paper.HEAD_MODELS)
    u_values = {g.name: g.values for g in UNTARGETED}
    t_values = {g.name: g.values for g in TARGETED}
    p3 = paper.grid_cells(paper.TABLE_3, dataset, u_values) or {}
    p5 = paper.grid_cells(paper.TABLE_5, dataset, t_values) or {}
    own = grids[grids.scored_on == "self"].assign(row=lambda g: g.model)
    t4 = _by_cell(clean.assign(row=clean.model, attack="clean", value=0), "accuracy",
                  lambda m, a, v: paper.paper_value(paper.TABLE_4, dataset, m), heads).rename(index={"clean 0": "clean"})
    t3 = _by_cell(own[own.setting == "untargeted"], "accuracy", lambda m, a, v: p3.get((m, a, v)), heads)
    t5 = _by_cell(own[(own.setting == "targeted") & (own.attack != "codebook CW-L2")], "success",
                  lambda m, a, v: p5.get((m, a, v)), heads)
    transfer = grids[(grids.setting == "untargeted") & (grids.scored_on != "self")].assign(row=lambda g: g.scored_on)
    def in_table6(df):
        return pd.Series([(a, v) in paper.TABLE_6_CELLS for a, v in zip(df.attack, df.value)], index=df.index)

    t6_cells = transfer[in_table6(transfer)]
    t6 = _by_cell(t6_cells, "accuracy", lambda m, a, v: paper.paper_value(paper.TABLE_6, dataset, m, (a, v)),
                  heads[1:])
    t6.columns = [f"{m} (transfer)" for m in t6.columns]
    white = _by_cell(own[(own.setting == "untargeted") & own.model.isin(heads[1:]) & in_table6(own)], "accuracy",
                     lambda m, a, v: p3.get((m, a, v)), heads[1:])
    white.columns = [f"{m} (white box)" for m in white.columns]
    t7_long = own[(own.setting == "targeted") & own.attack.isin(["CW-L2", "codebook CW-L2"])]
    t7 = _by_cell(t7_long, "success", lambda m, a, v: paper.paper_value(paper.TABLE_7, dataset, m, (a, v)),
                  [heads[0], heads[2]])
    n = grids.seed.nunique()
    per_seed = [head_cells(grids[grids.seed == s], clean[clean.seed == s]) for s in sorted(grids.seed.unique())]
    verdicts = judge_all(TABLE_4_CLAIMS + TABLE_3_CLAIMS + TABLE_5_CLAIMS + TABLE_6_CLAIMS + TABLE_7_CLAIMS,
                         per_seed, paper.head_cells(dataset, u_values, t_values))
    verdict_rows.append(verdicts)
    note = f"each cell: ours, mean ± sd over {n} seeds (the paper's in brackets, converted to %)"
    params = _records(d.parent).get("loss_targets", {}).get("parameters", {})
    ours_clean = clean.groupby("model").accuracy.mean()
    gaps = [ours_clean[m] - paper.TABLE_4[dataset][m] for m in heads if dataset in paper.TABLE_4 and m in ours_clean]
    why = [f"Our setting: network `{params.get('net', '?')}` {params.get('arch') or ''} trained with "
           f"{params.get('train', {})} on {params.get('n_train') or 'all'} training rows; "
           f"{params.get('n_attack') or 'all'} test rows attacked per seed; "
           + (f"fixed iteration counts capped at {params['max_steps']}." if params.get("max_steps")
              else "the paper's iteration counts.")]
    if gaps:
        why.append(f"Our clean accuracy is {-max(gaps):.1f} to {-min(gaps):.1f} points below the paper's "
                   "DenseNet-40-12: a weaker, less confident model, so the white-box grids start lower and fall "
                   "faster; the comparison that carries over is between the heads at equal training, not the "
                   "absolute numbers.")
    why.append("DeepFool and L-BFGS use each model's own decision (for R:TANH:MSE the distances to the codewords), "
               "so on the codebook model they are the attacks an adversary who knows the codebook runs; paper B's "
               "DeepFool on that model stalls (the same accuracy at every step limit), which suggests an "
               "attack reading the raw outputs, as its plain CW-L2 does.")
    return [f"#### Paper B, Table 4: clean test accuracy (%)", "", note, "", _md_table(t4), "", " ".join(why), "",
            "CW-L2 reads the raw outputs as logits, as cleverhans' does: on R:TANH:MSE that is paper B's plain "
            "CW-L2, whose margin is not the model's decision; the codebook-aware CW-L2 of Table 7 is the fair "
            "attack there. Paper B's Table 7 gives plain CW-L2 on R:TANH:MSE 36.8 / 36.2 % at c = 0.1 / 1, its "
            "Table 5 gives 36.2 / 36.1 at those c (Table 7 repeats Table 5's c = 0.01 and 0.1): the claims read "
            "Table 5.", "",
            "#### Paper B, Table 3: accuracy (%) under untargeted white-box attacks", "", _md_table(t3), "",
            "#### Paper B, Table 5: success (%) of targeted white-box attacks, random targets", "", _md_table(t5), "",
            "#### Paper B, Table 6: accuracy (%) on O:SOFTMAX:CE's adversaries, beside the white-box attack with "
            "the same settings", "", _md_table(pd.concat([t6, white], axis=1)), "",
            "#### Paper B, Table 7: targeted success (%) of CW-L2 and of the codebook-aware CW-L2", "",
            _md_table(t7), "", _figures(d, ["grids.png", "fig1_o_softmax_ce.png", "fig1_r_tanh_mse.png",
                                            "fig3_r_tanh_mse.png"]), "",
            "Claims (verdicts computed from the per-seed tables):", "", _verdict_table(verdicts), ""]


def _lipschitz(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    bounds_file = d / "layer_bounds_per_seed.csv"
    if not bounds_file.is_file():
        return []
    bounds = pd.read_csv(bounds_file)
    verdicts = judge_all(FIG4_CLAIMS, conv_bound_cells(bounds))
    verdict_rows.append(verdicts)
    conv = over_seeds(bounds[bounds.kind.str.startswith("conv")], ["model", "layer"], value="bound")
    layers = list(dict.fromkeys(conv.layer))
    cell = {(r.model, r.layer): fmt(r.mean, r.std, 2) for r in conv.itertuples()}
    df = pd.DataFrame({m: [cell.get((m, l), "") for l in layers] for m in paper.HEAD_MODELS},
                      index=pd.Index(layers, name="conv layer"))
    mean = conv.set_index(["model", "layer"])["mean"]
    df["CE / MSE"] = [f"{mean[('O:SOFTMAX:CE', l)] / mean[('O:SOFTMAX:MSE', l)]:.2f}" for l in layers]
    out = [f"#### Paper B, Fig. 4: L2 Lipschitz upper bounds of the convolution layers, mean ± sd over "
           f"{bounds.seed.nunique()} seeds (the paper gives a figure, no numbers)", "", _md_table(df), ""]
    first = d / "paper_a_first_layers.csv"
    if first.is_file():
        fa = pd.read_csv(first).set_index("model")
        out += ["Paper A's models, the L2 norm of the first (real-valued) layer, classes 0 vs 1:", "",
                _md_table(fa), ""]
    return out + [_figures(d, ["fig4.png"]), "", "Claims (verdicts computed from the per-seed bounds):", "",
                  _verdict_table(verdicts), ""]


def _robustness_audit(d: Path, dataset: str, verdict_rows: list) -> list[str]:
    """Beyond the papers: robust accuracy of every family under the worst case of all
    attacks, beside paper A's attacks and transfer alone; the adaptive attack on the
    01-loss models; HopSkipJump's distances; the flags and the computed reading
    (all built by :mod:`zerolib.robustness`)."""
    files = {k: d / f"{k}_per_seed.csv" for k in ("curves", "flags", "distances", "hsj_curve")}
    if not all(files[k].is_file() for k in ("curves", "flags", "distances")):
        return []
    from .robustness import adaptive_table, comparison_at, failed_flags, flag_table, reading, robust_table

    frames = {k: pd.read_csv(f) for k, f in files.items() if f.is_file()}
    if "category" not in frames["flags"]:  # written before flags had categories
        frames["flags"]["category"] = "attack strength"
    curves = frames["curves"]
    rob = robust_table(curves)
    rob.columns = [f"{e:g}" for e in rob.columns]
    rob.index.name = "family / Linf eps"
    rec = _records(d.parent).get("robustness_audit", {}).get("parameters", {})
    eps_m = float(rec.get("eps_matrix", curves.eps.max()))
    cmp_ = comparison_at(curves, frames["distances"], eps_m)
    cmp_.index.name = "family"
    n = curves.seed.nunique()
    out = [f"#### Beyond the papers: robustness audit, classes 0 vs 1, accuracy (%) under the worst case of all "
           f"attacks per image, mean ± sd over {n} seeds", "",
           "Attacks: paper A's own (sign(w), hidden-node, FGSM); on the 01-loss models the surrogate-gradient PGD "
           "(BPDA through tempered-sigmoid and straight-through stand-ins); PGD on each network's loss, on its score "
           "margin and, for the codebook head, on the pre-tanh codeword margin; the score-based Square attack; "
           "transfer from every other family; a Papernot substitute; HopSkipJump L2 and Linf (label-only); a "
           "uniform-noise baseline. No paper number exists for these. Settings: "
           + ", ".join(f"{k} {rec[k]}" for k in ("n_audit", "n_votes", "n_train", "n_train_nets", "surrogate",
                                                  "square", "hsj") if k in rec) + ".", "",
           _md_table(rob), "",
           f"At eps {eps_m:g}: paper A's attacks alone and transfer alone vs the worst case, and HopSkipJump's "
           "median distance (L2 run: L2; Linf run: Linf):", "", _md_table(cmp_), ""]
    adaptive = adaptive_table(curves)
    if len(adaptive):
        adaptive.columns = [f"{e:g}" for e in adaptive.columns]
        adaptive.index.name = "01-loss family: attack / Linf eps"
        out += ["The adaptive attack on the 01-loss models, attack by attack:", "", _md_table(adaptive), ""]
    hc = frames.get("hsj_curve")
    if hc is not None and len(hc):
        curve = hc.groupby(["family", "queries"], sort=False)["median"].mean().unstack().round(3)
        curve.index.name = "HSJ L2 median / queries"
        out += [f"HopSkipJump L2's median distance against its query budget (mean over {n} seeds):", "",
                _md_table(curve), ""]
    flagged = failed_flags(frames["flags"])
    fl = flag_table(frames["flags"])
    fl.index.name = "family / check [category] (seeds passing)"
    out += ["Failed checks that keep a family's number from being read as robustness:", ""]
    out += [f"- {f}: {'; '.join(v)}" for f, v in flagged.items()] or ["- none"]
    out += ["", "All checks (Carlini et al. 2019; each computed per seed):", "", _md_table(fl), "",
            "Reading (computed from the numbers):", ""]
    out += [f"- {line}" for line in reading(frames, eps_m)]
    return out + ["", _figures(d, ["robust_accuracy.png", "hsj_distance_vs_queries.png", "transfer_matrix.png"]), ""]


SECTIONS = [("blackbox", _blackbox), ("discretization", _discretization), ("cnn_comparison", _cnn_comparison),
            ("loss_targets", _loss_targets), ("lipschitz", _lipschitz), ("robustness_audit", _robustness_audit)]


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
    for name, section in SECTIONS:
        if records.get(name, {}).get("status") == "ok":
            lines += section(profile_dir / name, dataset, verdicts)
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
                          index=pd.Index(list(summary), name="claim"), columns=names)
        head += ["## Verdicts on every profile", "", _md_table(df), ""]
    else:
        head += ["No profile has finished a notebook yet.", ""]
    text = "\n".join(head + body).rstrip() + "\n"
    return atomic_write(output_root / "REPORT.md", lambda tmp: Path(tmp).write_text(text))
