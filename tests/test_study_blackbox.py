"""Study I's second half as package functions: black-box runs over many targets kept in
the model cache, cached networks, the class-pair search, and the claims of Figs. 3-7
and Table IV computed from curves and tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from zerolib import LinearSVMClassifier, load_dataset
from zerolib.experiments.common import model_suite as suite
from zerolib.papers import numbers as paper
from zerolib.experiments.common.substitutes import CURVE_COLUMNS, NetSubstitute, attack_targets, seed_and_attack_split, substitute_attack
from zerolib.experiments.common.cache import ModelCache
from zerolib.papers.claims import (BLACKBOX_CLAIMS, FIG6_CLAIMS, FIG7_CLAIMS, HOLDS, TABLE_IV_CLAIMS, curve_cells, judge,
                            judge_all)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits(one_thread):
    d = load_dataset("digits", classes=[0, 1])
    targets = {f"SVM C={c}": LinearSVMClassifier(C=c, random_state=0, device="cpu").fit(d.x_train, d.y_train)
               for c in (0.01, 1.0)}
    return d, targets


ATTACK = dict(n_classes=2, seed=3, n_seed_points=30, rounds=3, eps=0.3, cap=240, progress=False)


class CountingSubstitute(NetSubstitute):
    fits = 0

    def fit(self, x, labels, n_classes, seed):
        CountingSubstitute.fits += 1
        return super().fit(x, labels, n_classes, seed)


def test_attack_targets_is_substitute_attack_on_one_split_per_target(digits):
    d, targets = digits
    sub = NetSubstitute(epochs=5)
    curves = attack_targets(targets, sub, d.x_test, d.y_test, **ATTACK)
    assert list(curves.columns) == CURVE_COLUMNS and set(curves.target) == set(targets)
    s, a = seed_and_attack_split(len(d.x_test), 30, 3)
    for name, model in targets.items():
        one = substitute_attack(model, sub, d.x_test[s], d.x_test[a], d.y_test[a], n_classes=2, rounds=3, eps=0.3,
                                cap=240, seed=3, progress=False)
        got = curves[curves.target == name].reset_index(drop=True)
        # the same run, with rates in percent
        np.testing.assert_allclose(got.target_accuracy, 100 * one.target_accuracy)
        np.testing.assert_allclose(got.match_clean.iloc[1:], 100 * one.match_clean.iloc[1:])
        assert got.queries.tolist() == one.queries.tolist()


def test_cached_runs_are_read_not_recomputed_and_keys_separate_them(digits, tmp_path):
    d, targets = digits
    cache = ModelCache(tmp_path)
    keys = {n: {"model": n} for n in targets}
    data_key = {"dataset": "digits", "classes": [0, 1]}
    CountingSubstitute.fits = 0
    first = attack_targets(targets, CountingSubstitute(epochs=5), d.x_test, d.y_test, keys=keys,
                           data_key=data_key, cache=cache, **ATTACK)
    assert CountingSubstitute.fits == 2 * 3  # two targets, three rounds
    again = attack_targets(targets, CountingSubstitute(epochs=5), d.x_test, d.y_test, keys=keys,
                           data_key=data_key, cache=cache, **ATTACK)
    assert CountingSubstitute.fits == 2 * 3  # nothing retrained: every round was read
    pd.testing.assert_frame_equal(first, again)
    # another substitute setting is another run
    attack_targets(targets, CountingSubstitute(epochs=4), d.x_test, d.y_test, keys=keys, data_key=data_key,
                   cache=cache, **ATTACK)
    assert CountingSubstitute.fits == 4 * 3
    folders = [p for p in tmp_path.iterdir() if p.name.startswith("SubstituteAttack-")]
    assert len(folders) == 4
    assert all(json.loads((p / "key.json").read_text())["class"] == "SubstituteAttack" for p in folders)


def test_attack_targets_rejects_half_a_cache_key(digits):
    d, targets = digits
    with pytest.raises(ValueError, match="both keys and data_key"):
        attack_targets(targets, NetSubstitute(), d.x_test, d.y_test, keys={n: {} for n in targets}, **ATTACK)
    with pytest.raises(ValueError, match="same targets"):
        attack_targets(targets, NetSubstitute(), d.x_test, d.y_test, keys={"other": {}}, data_key={}, **ATTACK)


def test_fit_net_is_cached_as_safetensors_and_damage_retrains(digits, tmp_path):
    d, _ = digits
    cache = ModelCache(tmp_path)
    args = ("lenet", d.x_train.shape[1:], 2, {"dataset": "digits"}, d.x_train, d.y_train)
    kw = dict(seed=0, train_settings={"epochs": 2, "optimizer": "adam", "lr": 1e-3}, device="cpu")
    net = cache.fit_net(*args, **kw)
    again = cache.fit_net(*args, **kw)
    assert (cache.misses, cache.hits) == (1, 1)
    x = d.x_test[:20]
    assert torch.equal(net(x), again(x))
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("net-lenet-")]
    assert sorted(p.name for p in folder.iterdir()) == ["COMPLETE", "key.json", "weights.safetensors"]
    (folder / "weights.safetensors").write_bytes(b"broken")
    retrained = cache.fit_net(*args, **kw)
    assert cache.misses == 2 and torch.equal(retrained(x), net(x))  # seeded: the same network again
    cache.fit_net(*args, **dict(kw, seed=1))
    assert cache.misses == 3
    with pytest.raises(ValueError, match="must not set 'seed'"):
        cache.fit_net(*args, seed=0, train_settings={"seed": 3})


def test_job_folder_is_per_key():
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        cache = ModelCache(root)
        with cache.job({"class": "Job", "x": 1}) as a, cache.job({"class": "Job", "x": 2}) as b:
            assert a != b
        with cache.job({"class": "Job", "x": 1}) as again:
            assert again == a
        (a / "state").write_text("kept")
        with cache.job({"class": "Job", "x": 1}) as again:
            assert (again / "state").read_text() == "kept"
        # a folder that holds another key (a hash clash, a hand edit) is emptied, never reused
        (a / "key.json").write_text(json.dumps({"class": "Job", "x": 99}))
        with cache.job({"class": "Job", "x": 1}) as again:
            assert again == a and not (a / "state").exists()
        assert json.loads((a / "key.json").read_text()) == {"class": "Job", "x": 1}


@pytest.mark.parametrize("profile", ["quick", "mnist-cpu", "fashion_mnist-cpu", "cifar10-cpu", "mnist", "cifar10",
                                     "fashion_mnist"])
def test_discretization_shares_the_blackbox_runs_of_its_profile(profile):
    """The README promises that discretization reads blackbox's original-input runs: the
    profile must give both notebooks the same targets, training rows, attack and substitute."""
    import yaml
    from pathlib import Path

    nb = yaml.safe_load((Path(__file__).parents[1] / "params" / f"{profile}.yaml").read_text())["notebooks"]
    bb, dz = nb["blackbox"], nb["discretization"]
    for m in paper.MODELS:
        assert dz["blackbox_models"][m] == bb["models"][m]
    for k in ("n_votes", "rounds", "cap", "substitute", "eps", "n_train", "n_attack", "n_seed_points", "lam"):
        assert dz.get(k) == bb.get(k), k


def test_pair_search_chooses_on_training_rows_only():
    d = load_dataset("digits")
    pairs = [(0, 1), (3, 8), (1, 7)]
    kw = dict(pairs=pairs, n_per_class=60, data_key={"dataset": "digits"}, device="cpu",
              cache=ModelCache(__import__("tempfile").mkdtemp()), progress=False)
    table = suite.pair_accuracies(d, "SVM", {"SVM": {"C": 0.1}}, 0, **kw)
    assert [(r.a, r.b) for r in table.itertuples()] == pairs
    assert (table.n_fit == 90).all()  # 75 % of 2 x 60 rows
    # scrambling the test labels changes the test column, never the validation column (the choice)
    scrambled = load_dataset("digits")
    scrambled.y_test = scrambled.y_test[torch.randperm(len(scrambled.y_test), generator=torch.Generator().manual_seed(0))]
    other = suite.pair_accuracies(scrambled, "SVM", {"SVM": {"C": 0.1}}, 0, **kw)
    np.testing.assert_allclose(other.validation_accuracy, table.validation_accuracy)
    assert not np.allclose(other.test_accuracy, table.test_accuracy)
    # the 01 separable pair 0 vs 1 is the easy one
    assert table.validation_accuracy.iloc[0] == table.validation_accuracy.max()
    with pytest.raises(ValueError, match="two different classes"):
        suite.pair_accuracies(d, "SVM", {}, 0, pairs=[(2, 2)], progress=False)


# ------------------------------------------------------------------- claims
def curves_of(values: dict, seeds=(0, 1), jitter=1.0, rounds=(0, 5, 10, 20)) -> pd.DataFrame:
    """Curves that reach ``values[(setting, substitute, target)]`` at the last round
    (+ jitter * seed), starting from 90 at round 0, with match rates 95 / 40."""
    rows = []
    for s in seeds:
        for (setting, sub, target), end in values.items():
            for r in rounds:
                acc = 90.0 if r == 0 else end + jitter * s
                rows.append({"seed": s, "setting": setting, "substitute": sub, "target": target, "round": r,
                             "target_accuracy": acc, "substitute_accuracy": 80.0, "match_clean": 95.0,
                             "match_adv": 40.0})
    return pd.DataFrame(rows)


def test_curve_cells_key_the_last_round():
    c = curve_cells(curves_of({("binary", "MLP", "MLP01"): 50.0}))
    assert len(c) == 2
    assert c[0][("binary", "MLP", "MLP01", "last", "target_accuracy")] == c[0][("binary", "MLP", "MLP01", 20,
                                                                                 "target_accuracy")] == 50.0
    assert c[1][("binary", "MLP", "MLP01", 0, "target_accuracy")] == 90.0


def test_blackbox_claims_on_known_curves():
    ends = {("binary", "MLP", "MLP01"): 58.0, ("binary", "MLP", "MLP"): 7.0,
            ("multiclass", "MLP", "MLP01"): 30.0, ("multiclass", "MLP", "MLP"): 25.0,
            ("multiclass", "MLP", "MLP400"): 29.0}
    ends.update({("binary", "SCD01", m): 85.0 for m in paper.MODELS})
    v = judge_all(BLACKBOX_CLAIMS, curve_cells(curves_of(ends)), paper.blackbox_cells("cifar10"))
    # binary: 58 - 7 = 51 > 30 on both seeds (jitter cancels); the paper's stated numbers give 51 too
    assert v.verdict[0] == HOLDS and v["mean"][0] == pytest.approx(51) and v.paper[0] == pytest.approx(51)
    # multiclass 30 - 25 = 5: not above 10; the paper's stated difference is 24
    assert v.verdict[1] == "does not hold" and v.paper[1] == pytest.approx(24)
    assert v.verdict[2] == HOLDS and v["mean"][2] == pytest.approx(1)  # 30 - 29
    # SCD01 substitute: 90 - (85 + seed) is 5 or 4 < 10, but with two seeds the 95 % interval is
    # 4.5 ± 12.71 * 0.5 = [-1.9, 10.9] (Student's t, 1 degree of freedom): it reaches 10, unclear
    assert v.verdict[3] == "unclear" and v["mean"][3] == pytest.approx(4.5)
    assert (v.lo[3], v.hi[3]) == pytest.approx((4.5 - 12.7062 * 0.5, 4.5 + 12.7062 * 0.5), rel=1e-4)
    # match 95 - 40 = 55 > 10
    assert v.verdict[4] == HOLDS and v["mean"][4] == pytest.approx(55)


def test_fig6_and_fig7_claims_on_known_curves():
    bb = {("original", "MLP", m): 20.0 for m in paper.MODELS}
    bb.update({("binarized", "MLP", m): 20.0 + 3 * i for i, m in enumerate(paper.MODELS)})
    v = judge(FIG6_CLAIMS[0], curve_cells(curves_of(bb)))
    assert v.mean == pytest.approx(0.0) and v.verdict == "does not hold"  # SVM gains nothing: 0 is not > 0
    f7 = {("pair", "CNN", "MLP01"): 60.0, ("pair", "CNN", "SimpleNet80"): 63.0, ("pair", "CNN", "MLP"): 10.0,
          ("pair", "CNN", "LeNet"): 70.0}
    v = judge_all(FIG7_CLAIMS, curve_cells(curves_of(f7, jitter=0.0)))
    assert v["mean"][0] == pytest.approx(-3.0) and v.verdict[0] == HOLDS  # within 5 of SimpleNet80
    assert v.verdict[1] == "does not hold"  # but 3 points below it, not above
    assert v["mean"][2] == pytest.approx(50.0) and v.verdict[2] == HOLDS
    assert v["mean"][3] == pytest.approx(0.0)  # all start at 90: not below


def test_a_claim_without_its_cells_is_not_measured():
    # binary curves only (a run with multiclass off): the multiclass claims are not measured, the rest judged
    ends = {("binary", "MLP", "MLP01"): 58.0, ("binary", "MLP", "MLP"): 7.0}
    ends.update({("binary", "SCD01", m): 85.0 for m in paper.MODELS})
    v = judge_all(BLACKBOX_CLAIMS, curve_cells(curves_of(ends)))
    # (the SCD01 substitute's drop, 5 and 4 on the two seeds, is unclear: its interval reaches 10)
    assert v.verdict.tolist() == [HOLDS, "not measured", "not measured", "unclear", HOLDS]


def test_table_iv_claims_on_the_papers_own_table():
    cells = paper.table_iv_cells("cifar10")
    # binarized gap: mean(73.9, 76.7, 74.2, 76.3) - mean(6.5, 0.3) = 75.275 - 3.4
    v = judge(TABLE_IV_CLAIMS[0], [cells], cells)
    assert v.paper == pytest.approx(71.875) and v.paper_verdict == HOLDS
    # minus the original gap 54.65 - 0.25 = 54.4
    v = judge(TABLE_IV_CLAIMS[1], [cells], cells)
    assert v.paper == pytest.approx(71.875 - 54.4) and v.paper_verdict == HOLDS
    # clean: mean(82.2 - 76.6, 81.1 - 79.1, 88.7 - 81.2, 84.2 - 78.6) = (5.6 + 2 + 7.5 + 5.6) / 4
    v = judge(TABLE_IV_CLAIMS[2], [cells], cells)
    assert v.paper == pytest.approx(20.7 / 4)


def test_report_shows_black_box_end_points_beside_the_paper(tmp_path):
    from zerolib.study.report import write_report

    nb = tmp_path / "cifar10-cpu" / "blackbox"
    nb.mkdir(parents=True)
    ends = {("binary", "MLP", "MLP01"): 58.0, ("binary", "MLP", "MLP"): 7.0, ("multiclass", "MLP", "MLP01"): 30.0,
            ("multiclass", "MLP", "MLP"): 25.0, ("multiclass", "MLP", "MLP400"): 29.0}
    ends.update({("binary", "SCD01", m): 85.0 for m in paper.MODELS})
    curves_of(ends).to_csv(nb / "curves_per_seed.csv", index=False)
    (nb / "run.json").write_text(json.dumps({"notebook": "blackbox", "status": "ok", "seconds": 60,
                                             "parameters": {"dataset": "cifar10", "n_seeds": 2}}))
    text = write_report(tmp_path).read_text()
    # ours at round 0 is 90 (paper 86), at round 20 58 + (0, 1) -> 58.5 ± 0.7 (paper 58)
    assert "| binary / MLP / MLP01 | 90.0 ± 0.0 | 86.0 | 58.5 ± 0.7 | 58.0 |" in text
    for c in BLACKBOX_CLAIMS:
        assert c.text in text


# ------------------------------------------------------------------- the computed readings
def moving_curves(spec: dict, by=("setting", "substitute", "target"), rounds=(0, 1, 10, 20)) -> pd.DataFrame:
    """Two seeds of curves named by ``spec``'s keys, each metric going from ``spec[key][metric][0]``
    at its first round (0 for the target's accuracy, 1 for the rest) to ``[1]`` at the last, the
    seeds 0.2 apart around those values (so the mean over seeds is exactly them)."""
    rows = []
    for s, off in ((0, -0.1), (1, 0.1)):
        for key, metrics in spec.items():
            for r in rounds:
                row = {"seed": s, **dict(zip(by, key)), "round": r}
                for metric in ("target_accuracy", "substitute_accuracy", "match_clean", "match_adv"):
                    a, b = metrics.get(metric, (50.0, 50.0))
                    start = 0 if metric == "target_accuracy" else 1
                    row[metric] = (np.nan if r < start else
                                   a + (b - a) * (r - start) / (rounds[-1] - start) + off)
                rows.append(row)
    return pd.DataFrame(rows)


def test_trend_and_curve_moves_take_the_word_from_the_printed_numbers():
    from zerolib.experiments.common.substitutes import curve_moves
    from zerolib.experiments.common.wording import moved, trend

    assert (trend(70.0, 75.0), trend(76.3, 72.0), trend(99.94, 99.86), trend(99.96, 99.86)) == \
        ("rises", "falls", "stays", "falls")  # 99.9 vs 99.9 stays; 100.0 vs 99.9 falls
    assert moved(76.3, 72.0, 1, 20) == "falls from 76.3 at round 1 to 72.0 at round 20"
    assert moved(99.9, 99.9, 1, 20) == "stays at 99.9 from round 1 to round 20"
    c = moving_curves({("a",): {"target_accuracy": (90.0, 30.0), "match_clean": (60.0, 95.0)}}, by=("target",))
    m = curve_moves(c, ["target"]).set_index("metric")
    # the target's accuracy starts at round 0 (clean), the substitute's metrics at round 1 (round 0 is NaN)
    assert (m.loc["target_accuracy", "first_round"], m.loc["match_clean", "first_round"]) == (0, 1)
    assert m.loc["target_accuracy", ["first", "last"]].tolist() == pytest.approx([90.0, 30.0])
    assert m.loc["match_clean", ["first", "last", "trend"]].tolist()[:2] == pytest.approx([60.0, 95.0])
    assert (m.loc["target_accuracy", "trend"], m.loc["match_clean", "trend"]) == ("falls", "rises")


def test_blackbox_reading_says_a_falling_label_match_falls():
    from zerolib.experiments import blackbox

    # mnist-cpu's case: the convex substitute's label match fell (76.3 -> 72.0) on one target
    spec = {("binary", "MLP", "SVM"): {"target_accuracy": (100.0, 69.0), "match_clean": (76.3, 72.0)},
            ("binary", "MLP", "MLP01"): {"target_accuracy": (99.0, 80.0), "match_clean": (60.0, 90.0)},
            ("binary", "SCD01", "MLP"): {"target_accuracy": (98.0, 98.0), "match_clean": (95.0, 95.0)}}
    c = moving_curves(spec)
    lines = blackbox.curve_lines(c)
    assert len(lines) == 3 and lines[0].startswith("binary, convex substitute, target SVM: ")
    assert "the target's accuracy on the adversaries falls from 100.0 at round 0 to 69.0 at round 20" in lines[0]
    assert "their label match on clean points falls from 76.3 at round 1 to 72.0 at round 20" in lines[0]
    assert "their label match on clean points rises from 60.0 at round 1 to 90.0 at round 20" in lines[1]
    assert "accuracy on the adversaries stays at 98.0 from round 0 to round 20" in lines[2]
    assert not any("rises" in line for line in (lines[0], lines[2]))
    match = blackbox.match_lines(c)
    assert match[0] == ("binary, convex substitute: the label match on clean points rises on 1 and falls on 1 of its "
                        "2 targets (round 1 vs round 20); after the last round it lies between 72.0 (SVM) and "
                        "90.0 (MLP01).")
    assert "stays on 1 of its 1 targets" in match[1]
    assert blackbox.last_round_order(c) == [
        "binary, convex substitute, after round 20: MLP01 80.0, SVM 69.0 (% accuracy on the adversaries)"]


def test_blackbox_section_reads_its_files(tmp_path):
    from zerolib.experiments import blackbox

    assert blackbox.section(tmp_path, "cifar10", {}) is None
    spec = {("binary", "MLP", "MLP01"): {"target_accuracy": (86.0, 58.0)},
            ("binary", "MLP", "MLP"): {"target_accuracy": (88.0, 7.0)}}
    moving_curves(spec).to_csv(tmp_path / f"{blackbox.PER_SEED}.csv", index=False)
    sec = blackbox.section(tmp_path, "cifar10", {})
    text = "\n".join(sec.lines)
    assert "| binary / MLP / MLP01 | 86.0 ± 0.1 | 86.0 | 58.0 ± 0.1 | 58.0 |" in text
    assert "- binary, convex substitute, after round 20: MLP01 58.0, MLP 7.0 (% accuracy on the adversaries)" in text
    assert len(sec.verdicts) == 1 and sec.verdicts[0].verdict.iloc[0] == HOLDS  # 58 - 7 = 51 > 30


def fig7_curves_of(ends: dict, clean=99.0) -> pd.DataFrame:
    return moving_curves({("pair", "CNN", t): {"target_accuracy": (clean, e)} for t, e in ends.items()})


def test_cnn_reading_puts_mlp01_beside_the_others_and_orders_the_falls():
    from zerolib.experiments import cnn_comparison as cnn

    c = fig7_curves_of({"MLP": 10.0, "MLP01": 60.0, "LeNet": 70.0, "SimpleNet80": 60.04})
    assert cnn.mlp01_beside_others(c) == ["After round 20, MLP01 keeps 60.0 % accuracy on the adversaries: more than "
                                          "MLP (10.0); less than LeNet (70.0); as much as SimpleNet80 (60.0)."]
    assert cnn.drop_line(c) == ("Accuracy on the adversaries at round 20 minus clean accuracy, largest fall first: "
                                "MLP -89.0 (99.0 to 10.0), MLP01 -39.0 (99.0 to 60.0), SimpleNet80 -39.0 (99.0 to "
                                "60.0), LeNet -29.0 (99.0 to 70.0) points.")
    assert cnn.mlp01_beside_others(c[c.target != "MLP01"]) == []
    lines = cnn.curve_lines(c)
    assert lines[0].startswith("MLP: its accuracy on the adversaries falls from 99.0 at round 0 to 10.0 at round 20;")
    # a target the adversaries leave alone is said to stay, and a rising one to rise
    up = fig7_curves_of({"MLP01": 99.0, "MLP": 99.5}, clean=99.0)
    assert cnn.curve_lines(up)[0].startswith("MLP01: its accuracy on the adversaries stays at 99.0")
    assert cnn.curve_lines(up)[1].startswith("MLP: its accuracy on the adversaries rises from 99.0")
    assert cnn.mlp01_beside_others(up)[0].endswith("less than MLP (99.5).")


def test_cnn_pair_reading_is_computed_from_the_ranking():
    from zerolib.experiments import cnn_comparison as cnn

    per_seed = pd.DataFrame({"a": [0, 6, 2] * 2, "b": [6, 8, 8] * 2, "seed": [0] * 3 + [1] * 3,
                             "validation_accuracy": [82, 80, 79, 81, 80, 79.0],
                             "test_accuracy": [81, 83, 75, 82, 83, 75.0]})
    ranked = cnn.rank_pairs(per_seed)
    assert list(zip(ranked.a, ranked.b)) == [(0, 6), (6, 8), (2, 8)]
    assert cnn.best_pair(ranked) == (0, 6) and cnn.best_pair(ranked, "test_accuracy_mean") == (6, 8)
    lines = cnn.pair_reading(ranked, "cifar10")
    assert lines == ["Best pair by MLP01's validation accuracy: **0 vs 6** (81.5 %, test 81.5 %), of 3 pairs.",
                     "Ranked by test accuracy, as the paper ranked, the best is another pair: 6 vs 8 "
                     "(test 83.0 %, validation 80.0 %).",
                     "The paper's pair, 6 vs 8, ranks 2 of 3 here.", "Fig. 7 uses 0 vs 6."]
    same = cnn.pair_reading(ranked[ranked.a != 6], "digits", classes=[3, 5])
    assert same == ["Best pair by MLP01's validation accuracy: **0 vs 6** (81.5 %, test 81.5 %), of 2 pairs.",
                    "Ranked by test accuracy, as the paper ranked, the best is the same pair.",
                    "Fig. 7 uses 3 vs 5 (fixed by the profile)."]


def test_cnn_section_reads_its_files(tmp_path):
    from zerolib.experiments import cnn_comparison as cnn

    fig7_curves_of({"MLP": 10.0, "MLP01": 60.0}).to_csv(tmp_path / f"{cnn.PER_SEED}.csv", index=False)
    assert cnn.section(tmp_path, "cifar10", {}) is None  # no pairs.csv
    pd.DataFrame({"a": [6, 0], "b": [8, 1], "validation_accuracy_mean": [90.0, 80.0],
                  "validation_accuracy_std": [1.0, 2.0], "test_accuracy_mean": [91.0, 81.0],
                  "test_accuracy_std": [0.5, 0.5]}).to_csv(tmp_path / f"{cnn.PAIRS}.csv", index=False)
    text = "\n".join(cnn.section(tmp_path, "cifar10", {}).lines)
    assert "The paper's pair, 6 vs 8, ranks 1 of 2 here." in text and "| 6 vs 8 | 90.0 ± 1.0 | 91.0 ± 0.5 |" in text
    assert "- After round 20, MLP01 keeps 60.0 % accuracy on the adversaries: more than MLP (10.0)." in text


def test_blackbox_multiclass_targets_are_the_clean_accuracy_fits(monkeypatch):
    """At paper scale both notebooks fit the 32-vote models on every row: blackbox's multiclass
    targets must key their rows as clean_accuracy does, so the cache trains them once."""
    from pathlib import Path

    from zerolib.experiments import blackbox

    seen = {}

    def capture(task, data, key, *rest):
        seen[task] = (key, len(data.y_train))
        return [pd.DataFrame()]

    monkeypatch.setattr(blackbox, "_task_curves", capture)
    blackbox.attack_curves("digits", {"multiclass": (None, 0), "binary": ([0, 1], 100)}, [0], seed=3, models={},
                           n_votes=4, substitutes=(None, None), attack={}, device="cpu", cache=None)
    assert seen["multiclass"][0] == suite.data_key("digits", 0, 3) == {
        "dataset": "digits", "n_train": None, "subsample_seed": 3, "classes": "all"}
    assert seen["binary"] == ({"dataset": "digits", "n_train": 100, "subsample_seed": 3, "classes": [0, 1]}, 100)
    notebook = (Path(__file__).parents[1] / "notebooks" / "clean_accuracy.py").read_text()
    assert "data_key = suite.data_key(dataset, n_train, seed)" in notebook


@pytest.mark.parametrize("profile", ["mnist", "fashion_mnist", "cifar10"])
def test_paper_scale_blackbox_multiclass_targets_are_clean_accuracys_models(profile):
    """The sharing above pays at paper scale only if the profile gives both notebooks the same
    rows, votes and 01-loss settings (and the executed notebook builds its key as its source)."""
    from pathlib import Path

    import yaml

    root = Path(__file__).parents[1]
    nb = yaml.safe_load((root / "params" / f"{profile}.yaml").read_text())["notebooks"]
    ca, bb = nb["clean_accuracy"], nb["blackbox"]
    assert (ca.get("n_train") or 0) == (bb.get("n_train_multiclass") or 0) == 0
    assert ca["n_votes"] == bb["n_votes"]
    for m in ("SCD01", "MLP01"):
        assert ca["models"][m] == bb["models"][m], m
    assert "suite.data_key(dataset, n_train, seed)" in (root / "notebooks" / "clean_accuracy.ipynb").read_text()
