"""Paper A, Figs. 3, 4 and 5: Papernot's substitute-model black-box attack against the
models with votes (a convex 2 x 200 substitute, FGSM) and against single runs (an SCD01
substitute, sign(w)), and the SCD01 substitute's label match with its targets.

The attack itself is :mod:`zerolib.experiments.common.substitutes`; this module owns the runs
the notebook asks for, the files it saves, the end points beside the paper, the claims'
verdicts, the reading (every sentence on how a curve moves is computed from the curves) and
the report's section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zerolib.data import load_dataset
from zerolib.papers import numbers as paper
from zerolib.papers.claims import BLACKBOX_CLAIMS, curve_cells, judge_all

from .common import model_suite as suite
from .common.markdown import Section, figures, md_table, saved_rows, verdict_lines, verdict_table
from .common.substitutes import attack_targets, curve_moves, end_points
from .common.wording import moved
from .common.summary import over_seeds

__all__ = ["NOTEBOOK", "PER_SEED", "CURVES", "END_POINTS", "CLAIMS", "FIG3", "FIG4_FIG5", "CURVE", "attack_curves",
           "curves_summary", "end_point_rows", "end_points_shown", "end_points_beside_paper", "verdicts",
           "curve_lines", "match_lines", "last_round_order", "reading", "section"]

NOTEBOOK = "blackbox"
PER_SEED, CURVES, END_POINTS, CLAIMS = "curves_per_seed", "curves", "end_points", "claims"
FIG3, FIG4_FIG5 = "fig3", "fig4_fig5"
CURVE = ["setting", "substitute", "target"]  # what names one curve
SUBSTITUTES = {"MLP": "convex substitute", "SCD01": "SCD01 substitute"}  # the substitute column in words


def _words(items: list[str]) -> str:
    """["a", "b", "c"] as "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------- the runs
def _task_curves(task, data, data_key, seeds, models, n_votes, substitutes, attack, device, cache) -> list:
    """One task's runs, seed by seed: the convex substitute against the five targets with votes
    (Fig. 3) and, on the binary task, the SCD01 substitute against single runs (Fig. 4)."""
    convex_sub, scd01_sub = substitutes
    k = len(data.classes)
    frames = []
    for s in seeds:
        fit = dict(device=device, cache=cache)
        targets = {m: suite.fit_model(m, models, s, n_votes, data_key, data.x_train, data.y_train, **fit)
                   for m in suite.TARGET_NAMES}
        keys = {m: suite.model_key(m, models, s, n_votes, data_key, device) for m in targets}
        r = attack_targets(targets, convex_sub, data.x_test, data.y_test, n_classes=k, seed=s, keys=keys,
                           data_key=data_key, cache=cache, **attack)
        frames.append(r.assign(setting=task, substitute="MLP", votes=n_votes))
        if task == "binary":  # Fig. 4: the SCD01 substitute against single runs
            singles = suite.fit_models(suite.MODEL_NAMES, models, s, n_votes, data_key, data.x_train,
                                       data.y_train, **fit)
            keys = {m: suite.single_key(m, models, s, n_votes, data_key, device) for m in singles}
            r = attack_targets(singles, scd01_sub, data.x_test, data.y_test, n_classes=k, seed=s, keys=keys,
                               data_key=data_key, cache=cache, **attack)
            frames.append(r.assign(setting=task, substitute="SCD01", votes=1))
    return frames


def attack_curves(dataset: str, tasks: dict, seeds: list[int], *, seed: int, models: dict, n_votes: int,
                  substitutes: tuple, attack: dict, device: str, cache) -> pd.DataFrame:
    """Every curve of Figs. 3-5, per seed in long form (``CURVE_COLUMNS`` and setting, substitute,
    votes). ``tasks`` is ``{task: (classes or None, n_train)}``, ``substitutes`` the convex and the
    SCD01 substitute; targets and runs come from (and go to) the model ``cache``."""
    frames = []
    for task, (cls, n) in tasks.items():
        data = load_dataset(dataset, classes=cls, n_train=n or None, seed=seed)
        data_key = suite.data_key(dataset, n, seed, cls)
        frames += _task_curves(task, data, data_key, seeds, models, n_votes, substitutes, attack, device, cache)
    return pd.concat(frames, ignore_index=True)


def curves_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """The target's accuracy per curve and round over seeds (mean, std, min, max, n)."""
    return over_seeds(curves, CURVE + ["round"], value="target_accuracy")


# ----------------------------------------------------------------- beside the paper
def end_point_rows(summary: pd.DataFrame, rounds: int, dataset: str) -> pd.DataFrame:
    """The rows of ``summary`` at round 0 (clean) and ``rounds``, with the paper's number where
    it states one (only CIFAR10's binary end points and multiclass difference, in words)."""
    ends = summary[summary["round"].isin([0, rounds])].copy()
    cells = paper.blackbox_cells(dataset) or {}
    ends["paper"] = [cells.get((r.setting, r.substitute, r.target, "last" if r["round"] else 0, "target_accuracy"))
                     for _, r in ends.iterrows()]
    return ends


def _with_when(ends: pd.DataFrame, rounds: int) -> pd.DataFrame:
    return ends.assign(when=ends["round"].map({0: "clean", rounds: f"round {rounds}"}))


def end_points_shown(ends: pd.DataFrame, rounds: int) -> pd.DataFrame:
    """The end points as the notebook shows them: a row per curve, clean and last round."""
    return _with_when(ends, rounds).pivot_table(index=CURVE, columns="when", values="mean").round(1)


def end_points_beside_paper(ends: pd.DataFrame, rounds: int) -> pd.DataFrame:
    """The end points the paper states, ours beside them (empty where it states none)."""
    return _with_when(ends, rounds).dropna(subset=["paper"])[CURVE + ["when", "mean", "std", "paper"]]


def verdicts(curves: pd.DataFrame, dataset: str, n_rows=None) -> pd.DataFrame:
    """Paper A's claims about Figs. 3-5, judged on the per-seed curves and on the paper's numbers."""
    return judge_all(BLACKBOX_CLAIMS, curve_cells(curves), paper.blackbox_cells(dataset), n_rows)


# ----------------------------------------------------------------- the reading
def _verdict_lines(judged: pd.DataFrame) -> list[str]:
    return verdict_lines(judged)


def curve_lines(curves: pd.DataFrame) -> list[str]:
    """A sentence per curve: how the target's accuracy on the adversaries, the substitute's
    accuracy and their label match on clean points moved from the first round to the last
    (means over seeds; the direction word is computed from the two numbers beside it)."""
    moves = curve_moves(curves, CURVE, ["target_accuracy", "substitute_accuracy", "match_clean"])
    what = {"target_accuracy": "the target's accuracy on the adversaries",
            "substitute_accuracy": "the substitute's accuracy", "match_clean": "their label match on clean points"}
    lines = []
    for key, g in moves.groupby(CURVE, sort=False):
        parts = [f"{what[r.metric]} {moved(r.first, r.last, r.first_round, r.last_round)}" for r in g.itertuples()]
        lines.append(f"{key[0]}, {SUBSTITUTES.get(key[1], key[1])}, target {key[2]}: " + "; ".join(parts) + ".")
    return lines


def match_lines(curves: pd.DataFrame) -> list[str]:
    """Per task and substitute: on how many targets the label match on clean points rises,
    falls or stays from round 1 to the last round, and its range after the last round."""
    moves = curve_moves(curves, CURVE, ["match_clean"])
    lines = []
    for (setting, sub), g in moves.groupby(["setting", "substitute"], sort=False):
        counts = g.trend.value_counts()
        told = _words([f"{w} on {counts[w]}" for w in ("rises", "falls", "stays") if w in counts])
        lo, hi = g.loc[g["last"].idxmin()], g.loc[g["last"].idxmax()]
        lines.append(f"{setting}, {SUBSTITUTES.get(sub, sub)}: the label match on clean points {told} of its {len(g)} "
                     f"targets (round {g.first_round.min()} vs round {g.last_round.max()}); after the last round "
                     f"it lies between {lo['last']:.1f} ({lo.target}) and {hi['last']:.1f} ({hi.target}).")
    return lines


def last_round_order(curves: pd.DataFrame) -> list[str]:
    """Per task, the convex substitute's targets ordered by their accuracy on the adversaries
    after the last round, most accurate first."""
    summary = curves_summary(curves)
    last = int(summary["round"].max())
    at = summary[(summary["round"] == last) & (summary.substitute == "MLP")]
    return [f"{task}, convex substitute, after round {last}: " + ", ".join(
        f"{r.target} {r['mean']:.1f}" for _, r in g.sort_values("mean", ascending=False).iterrows())
        + " (% accuracy on the adversaries)" for task, g in at.groupby("setting", sort=False)]


def reading(curves: pd.DataFrame, judged: pd.DataFrame) -> list[str]:
    """The claims' verdicts, the targets' order after the last round, and how every curve moved
    over the rounds, all computed from ``curves`` (per seed) and their verdicts ``judged``."""
    return _verdict_lines(judged) + last_round_order(curves) + match_lines(curves) + curve_lines(curves)


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """The end points beside the paper's, the figures, the claims and the reading, from ``d``."""
    if not (d / f"{PER_SEED}.csv").is_file():
        return None
    curves = pd.read_csv(d / f"{PER_SEED}.csv")
    judged = verdicts(curves, dataset, saved_rows(d / f"{CLAIMS}.csv"))
    df = end_points(curves, CURVE, paper.blackbox_cells(dataset))
    df.index.name = "task / substitute / target"
    lines = [f"#### Figs. 3-5: substitute-model black box, accuracy (%) on the adversaries, mean ± sd over "
             f"{curves.seed.nunique()} seeds", "",
             "Substitute MLP: the convex 2 x 200 network against targets with votes (Fig. 3); substitute SCD01: "
             "against single runs (Fig. 4). The paper states only CIFAR10's end points in words.", "",
             md_table(df), "", figures(d, [f"{FIG3}.png", f"{FIG4_FIG5}.png"]), "",
             "Claims (verdicts computed from the per-seed curves):", "", verdict_table(judged), "",
             "Reading (computed from the curves, means over seeds):", ""]
    lines += [f"- {line}" for line in last_round_order(curves) + match_lines(curves) + curve_lines(curves)]
    return Section(lines + [""], [judged])
