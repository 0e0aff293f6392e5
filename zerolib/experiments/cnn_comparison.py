"""Paper A, Fig. 7: MLP and MLP01 (400 hidden nodes) beside two small CNNs, LeNet and
SimpleNet80, under a CNN substitute, on the class pair where MLP01 is most accurate.

The pair search is :func:`~zerolib.experiments.common.model_suite.pair_accuracies` and the
attack :mod:`zerolib.experiments.common.substitutes`; this module owns the runs the notebook
asks for, the files it saves, the pair ranking, the claims' verdicts, the reading (every
sentence on the ranking and on how a curve moves is computed from the tables) and the
report's section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zerolib.papers import numbers as paper
from zerolib.papers.claims import FIG7_CLAIMS, curve_cells, judge_all

from .common import model_suite as suite
from .common.markdown import Section, figures, md_table, saved_rows, verdict_lines, verdict_table
from .common.substitutes import attack_targets, curve_moves, end_points
from .common.wording import moved, trend
from .common.summary import fmt, over_seeds

__all__ = ["NOTEBOOK", "PAIRS_PER_SEED", "PAIRS", "PER_SEED", "CURVES", "CLAIMS", "PAIRS_HEATMAP", "FIG7",
           "pair_search", "rank_pairs", "best_pair", "paper_pair_rank", "pair_reading", "fig7_curves",
           "curves_summary", "verdicts", "curve_lines", "drop_line", "mlp01_beside_others", "reading", "section"]

NOTEBOOK = "cnn_comparison"
PAIRS_PER_SEED, PAIRS = "pairs_per_seed", "pairs"
PER_SEED, CURVES, CLAIMS = "fig7_curves_per_seed", "fig7_curves", "claims"
PAIRS_HEATMAP, FIG7 = "pairs_heatmap", "fig7"
SEARCHED = "MLP01"  # the model whose accuracy picks the pair


# ----------------------------------------------------------------- the class pair
def pair_search(full, dataset: str, seeds: list[int], settings: dict, *, pairs=None, n_per_class=None,
                device: str, cache) -> pd.DataFrame:
    """MLP01 (one run, ``settings``) on every class pair of ``full`` (or ``pairs``), per seed:
    its accuracy on held-out training rows (the choice) and on the test rows."""
    return pd.concat([suite.pair_accuracies(full, SEARCHED, {SEARCHED: settings}, s, pairs=pairs,
                                            n_per_class=n_per_class, data_key={"dataset": dataset}, device=device,
                                            cache=cache).assign(seed=s)
                      for s in seeds], ignore_index=True)


def rank_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs over seeds (mean and std of validation and test accuracy), best validation
    accuracy first: the choice never sees the test rows."""
    ranked = (pairs.groupby(["a", "b"])[["validation_accuracy", "test_accuracy"]].agg(["mean", "std"])
              .sort_values(("validation_accuracy", "mean"), ascending=False))
    ranked.columns = [f"{a}_{b}" for a, b in ranked.columns]
    return ranked.reset_index()


def best_pair(ranked: pd.DataFrame, by: str = "validation_accuracy_mean") -> tuple[int, int]:
    """The pair with the highest ``by`` (the first such pair in the ranking on a tie)."""
    top = ranked.loc[ranked[by].idxmax()]
    return int(top.a), int(top.b)


def paper_pair_rank(ranked: pd.DataFrame, dataset: str) -> str:
    """Where the paper's pair (CIFAR10: 6 vs 8) ranks here; empty where the paper names none."""
    pp = paper.FIG7_PAIR.get(dataset)
    if pp is None:
        return ""
    hit = [i for i, (a, b) in enumerate(zip(ranked.a, ranked.b)) if (int(a), int(b)) == tuple(pp)]
    return (f"The paper's pair, {pp[0]} vs {pp[1]}, ranks {hit[0] + 1} of {len(ranked)} here." if hit
            else f"The paper's pair {pp[0]} vs {pp[1]} was not among the pairs searched.")


def pair_reading(ranked: pd.DataFrame, dataset: str, classes=()) -> list[str]:
    """The best pair by validation accuracy, whether the test accuracy (the paper's ranking)
    picks the same one, the paper's pair's rank, and the pair Fig. 7 uses (``classes`` if set)."""
    best, by_test = best_pair(ranked), best_pair(ranked, "test_accuracy_mean")
    row = ranked[(ranked.a == best[0]) & (ranked.b == best[1])].iloc[0]
    test = ranked[(ranked.a == by_test[0]) & (ranked.b == by_test[1])].iloc[0]
    lines = [f"Best pair by MLP01's validation accuracy: **{best[0]} vs {best[1]}** "
             f"({row.validation_accuracy_mean:.1f} %, test {row.test_accuracy_mean:.1f} %), of {len(ranked)} pairs."]
    lines.append("Ranked by test accuracy, as the paper ranked, the best is the same pair." if by_test == best else
                 f"Ranked by test accuracy, as the paper ranked, the best is another pair: {by_test[0]} vs "
                 f"{by_test[1]} (test {test.test_accuracy_mean:.1f} %, validation {test.validation_accuracy_mean:.1f} %).")
    lines += [s for s in [paper_pair_rank(ranked, dataset)] if s]
    pair = tuple(int(c) for c in classes) if classes else best
    lines.append(f"Fig. 7 uses {pair[0]} vs {pair[1]}" + (" (fixed by the profile)." if classes else "."))
    return lines


# ----------------------------------------------------------------- Fig. 7
def fig7_curves(data, data_key: dict, seeds: list[int], *, models: dict, nets: dict, n_votes: int, substitute,
                attack: dict, device: str, cache) -> pd.DataFrame:
    """The CNN ``substitute`` against MLP, MLP01 and the ``nets`` (``{label: {"name": network,
    training settings}}``) on the pair ``data``, per seed in long form (``CURVE_COLUMNS``,
    setting "pair", substitute "CNN"); targets and runs come from (and go to) ``cache``."""
    frames = []
    for s in seeds:
        targets = {m: suite.fit_model(m, models, s, n_votes, data_key, data.x_train, data.y_train, device=device,
                                      cache=cache) for m in ("MLP", "MLP01")}
        keys = {m: suite.model_key(m, models, s, n_votes, data_key, device) for m in targets}
        for label, spec in nets.items():
            spec = dict(spec)
            net_name = spec.pop("name")
            targets[label] = cache.fit_net(net_name, data.x_train.shape[1:], 2, data_key, data.x_train,
                                           data.y_train, seed=s, train_settings=spec, device=device)
            keys[label] = {"net": net_name, "train": spec, "seed": s, "data": data_key}
        r = attack_targets(targets, substitute, data.x_test, data.y_test, n_classes=2, seed=s, keys=keys,
                           data_key=data_key, cache=cache, **attack)
        frames.append(r.assign(setting="pair", substitute="CNN"))
    return pd.concat(frames, ignore_index=True)


def curves_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """The target's accuracy on the adversaries per target and round over seeds."""
    return over_seeds(curves, ["target", "round"], value="target_accuracy")


def verdicts(curves: pd.DataFrame, n_rows=None) -> pd.DataFrame:
    """Paper A's claims about Fig. 7, judged on the per-seed curves (the paper states no numbers)."""
    return judge_all(FIG7_CLAIMS, curve_cells(curves), n_rows=n_rows)


# ----------------------------------------------------------------- the reading
def curve_lines(curves: pd.DataFrame) -> list[str]:
    """A sentence per target: how its accuracy on the adversaries, the substitute's accuracy and
    their label match on clean points moved from the first round to the last (means over seeds)."""
    moves = curve_moves(curves, ["target"], ["target_accuracy", "substitute_accuracy", "match_clean"])
    what = {"target_accuracy": "its accuracy on the adversaries", "substitute_accuracy": "the substitute's accuracy",
            "match_clean": "their label match on clean points"}
    return [f"{target}: " + "; ".join(f"{what[r.metric]} {moved(r.first, r.last, r.first_round, r.last_round)}"
                                      for r in g.itertuples()) + "."
            for target, g in moves.groupby("target", sort=False)]


def drop_line(curves: pd.DataFrame) -> str:
    """Each target's accuracy on the adversaries at the last round minus its clean accuracy
    (round 0), signed, the largest fall first: which targets the substitute's adversaries fool."""
    m = curve_moves(curves, ["target"], ["target_accuracy"])
    m = m.assign(change=m["last"].round(1) - m["first"].round(1)).sort_values("change", kind="stable")  # as printed
    return (f"Accuracy on the adversaries at round {m.last_round.max()} minus clean accuracy, largest fall first: "
            + ", ".join(f"{r.target} {r.change:+.1f} ({r.first:.1f} to {r.last:.1f})" for r in m.itertuples())
            + " points.")


def mlp01_beside_others(curves: pd.DataFrame) -> list[str]:
    """MLP01's accuracy on the adversaries after the last round beside each other target's:
    which keep more, which less (compared at the printed one decimal)."""
    s = curves_summary(curves)
    last = int(s["round"].max())
    at = s[s["round"] == last].set_index("target")["mean"]
    if SEARCHED not in at.index or len(at) < 2:
        return []
    ours, others = at[SEARCHED], at.drop(SEARCHED)
    side = {w: [f"{t} ({v:.1f})" for t, v in others.items() if trend(v, ours) == w]
            for w in ("rises", "falls", "stays")}
    parts = [f"{label} {', '.join(side[w])}" for w, label in
             (("rises", "more than"), ("falls", "less than"), ("stays", "as much as")) if side[w]]
    return [f"After round {last}, MLP01 keeps {ours:.1f} % accuracy on the adversaries: " + "; ".join(parts) + "."]


def reading(curves: pd.DataFrame, judged: pd.DataFrame) -> list[str]:
    """The claims' verdicts, MLP01 beside the other targets after the last round, the drops and
    how every curve moved, all computed from ``curves`` (per seed) and their verdicts ``judged``."""
    lines = verdict_lines(judged)
    return lines + mlp01_beside_others(curves) + [drop_line(curves)] + curve_lines(curves)


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """The pair ranking, Fig. 7's end points, the figures, the claims and the reading, from ``d``."""
    if not (d / f"{PAIRS}.csv").is_file() or not (d / f"{PER_SEED}.csv").is_file():
        return None
    pairs, curves = pd.read_csv(d / f"{PAIRS}.csv"), pd.read_csv(d / f"{PER_SEED}.csv")
    judged = verdicts(curves, saved_rows(d / f"{CLAIMS}.csv"))
    top = pd.DataFrame({"MLP01 validation (%)": [fmt(m, s) for m, s in zip(pairs.validation_accuracy_mean,
                                                                         pairs.validation_accuracy_std)],
                        "MLP01 test (%)": [fmt(m, s) for m, s in zip(pairs.test_accuracy_mean,
                                                                   pairs.test_accuracy_std)]},
                       index=pd.Index([f"{a} vs {b}" for a, b in zip(pairs.a, pairs.b)], name="pair"))
    rank = paper_pair_rank(pairs, dataset)
    ends = end_points(curves, ["target"], None)
    ends.index.name = "target"
    lines = ["#### Fig. 7: the class pair where MLP01 is most accurate, and the CNN substitute", "",
             f"Pairs ranked by MLP01's accuracy on held-out training rows (the choice never sees test data), "
             f"{len(pairs)} pairs searched; the top 5:" + (f" {rank}" if rank else ""), "", md_table(top.head(5)), "",
             "Accuracy (%) on the CNN substitute's adversaries:", "", md_table(ends), "",
             figures(d, [f"{PAIRS_HEATMAP}.png", f"{FIG7}.png"]), "",
             "Claims (verdicts computed from the per-seed curves):", "", verdict_table(judged), "",
             "Reading (computed from the curves, means over seeds):", ""]
    lines += [f"- {line}" for line in mlp01_beside_others(curves) + [drop_line(curves)] + curve_lines(curves)]
    return Section(lines + [""], [judged])
