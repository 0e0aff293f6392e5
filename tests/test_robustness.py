"""The audit over model families (zerolib.robustness): a linear model's white-box row
against the box-constrained closed form, HopSkipJump never closer than the exact
distance to the hyperplane, the transfer matrix against the curves, the paper-A curve
never below the worst case, the margin loss, the final substitute against the attack's
own record, and a finished seed read back instead of recomputed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from zerolib import load_dataset
from zerolib.experiments.common.substitutes import NetSubstitute, seed_and_attack_split, substitute_attack, train_substitute
from zerolib.losses import CodewordMSE, Codebook, CrossEntropy, ScoreMargin
from zerolib.models import LinearSVMClassifier, predict
from zerolib.experiments import robustness_audit as experiment
from zerolib.experiments.robustness_audit import audit_families, audit_seed, failed_flags, reading
from zerolib.models.scd import SCD01Classifier

pytestmark = pytest.mark.usefixtures("one_thread")

EPS = [0.0, 0.05, 0.1, 0.3]
SETTINGS = dict(eps_values=EPS, eps_matrix=0.1, seed=3, n_audit=40, n_seed_points=20, pgd_steps=3,
                hsj={"max_queries": 150, "init_evals": 20, "max_evals": 40},
                substitute=NetSubstitute(epochs=3), rounds=2, cap=80, progress=False)


@pytest.fixture(scope="module")
def task():
    d = load_dataset("digits", classes=[0, 1], seed=0)
    fams = {"SVM": LinearSVMClassifier(random_state=0, device="cpu").fit(d.x_train, d.y_train),
            "SCD01": SCD01Classifier(n_votes=1, n_iter=30, random_state=0, device="cpu").fit(d.x_train, d.y_train)}
    return d, fams, audit_families(fams, d.x_test, d.y_test, **SETTINGS)


def _audited(d):
    _, a_idx = seed_and_attack_split(len(d.x_test), SETTINGS["n_seed_points"], SETTINGS["seed"],
                                     SETTINGS["n_audit"])
    return d.x_test[a_idx], d.y_test[a_idx].long()


def _linear(model):
    w = torch.as_tensor(np.asarray(model.coef_, dtype=np.float64)).reshape(-1)
    b = float(np.asarray(model.intercept_, dtype=np.float64).reshape(-1)[0])
    return w, b


def test_linear_white_box_row_is_the_box_constrained_closed_form(task):
    d, fams, r = task
    x, y = _audited(d)
    w, b = _linear(fams["SVM"])
    flat = x.flatten(1).double()
    s = (2 * y - 1).double()
    margin = s * (flat @ w + b)
    # the attacker lowers the margin by moving each pixel against s * w_i, as far as eps and the box allow
    room = torch.where((s[:, None] * w[None]) > 0, flat, 1 - flat)
    c = r["curves"]
    for eps in EPS:
        worst_margin = margin - (w.abs()[None] * room.clamp(max=eps)).sum(1)
        expected = 100.0 * float((worst_margin > 0).double().mean())
        got = c[(c.family == "SVM") & (c.attack == "sign(w)") & (c.eps == eps)].accuracy.item()
        assert got == pytest.approx(expected, abs=1e-9), eps


def test_chunked_white_box_attacks_keep_the_rows_in_order(task, monkeypatch):
    """The audit attacks its rows in chunks of ATTACK_BATCH (the memory of DenseNet-40's input
    gradients at paper scale): with chunks of 16, the 40 audited rows go through 3 chunks and
    come back in order, so the linear model's white-box row is still the closed form above,
    the same numbers as one chunk."""
    d, fams, r = task
    monkeypatch.setattr(experiment, "ATTACK_BATCH", 16)
    sizes, chunked = [], experiment.chunked

    def counting(run, x, t, batch_size):
        sizes.append((len(x), batch_size))
        return chunked(run, x, t, batch_size)

    monkeypatch.setattr(experiment, "chunked", counting)
    again = audit_families(fams, d.x_test, d.y_test, **{**SETTINGS, "square": {"n_queries": 5}})
    assert sizes and set(sizes) == {(SETTINGS["n_audit"], 16)}     # every attack on the 40 rows, 3 chunks
    assert "Square" in set(again["curves"].attack)                 # the Square attack went through chunks too

    def sign_w(curves):
        return curves[(curves.family == "SVM") & (curves.attack == "sign(w)")].set_index("eps").accuracy

    pd.testing.assert_series_equal(sign_w(again["curves"]), sign_w(r["curves"]))
    assert sign_w(r["curves"]).nunique() > 1   # the row moves with eps: a real comparison


def test_decision_distances_never_beat_the_exact_distance(task):
    d, fams, r = task
    x, y = _audited(d)
    w, b = _linear(fams["SVM"])
    exact = ((x.flatten(1).double() @ w + b).abs() / w.norm()).numpy()
    right = (predict(fams["SVM"], x) == y).numpy()
    med = r["distances"].set_index(["family", "attack"]).loc[("SVM", "HSJ L2"), "median"]
    assert med >= np.median(exact[right]) - 1e-6
    assert set(r["distances"].norm) == {"L2", "Linf"}


def test_transfer_matrix_matches_the_curves_and_worst_case_is_a_minimum(task):
    _, _, r = task
    c, m = r["curves"], r["transfer"].set_index(["source", "target"]).accuracy
    at = c[c.eps == 0.1].set_index(["family", "attack"]).accuracy
    assert m[("SVM", "SVM")] == pytest.approx(at[("SVM", "sign(w)")])
    assert m[("SVM", "SCD01")] == pytest.approx(at[("SCD01", "from SVM")])
    assert m[("SCD01", "SVM")] == pytest.approx(at[("SVM", "from SCD01")])
    for (fam, eps), g in c.groupby(["family", "eps"]):
        worst = g[g.attack == "worst case"].accuracy.item()
        single = g[~g.kind.isin(["all", "paper A"])].accuracy
        assert worst <= single.min() + 1e-9
        assert g[g.attack == "paper A's attacks"].accuracy.item() >= worst - 1e-9  # a subset of the attacks
    f = r["flags"]
    assert (f[f.check == "eps 0 gives the clean accuracy"].ok).all()
    assert not f[(f.family == "SCD01") & f.check.str.startswith("decision-based")].shape[0]  # 01 loss: no gradient check


def test_score_margin_is_the_largest_other_score_minus_the_true_one():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=g)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    loss = ScoreMargin(CrossEntropy()).losses(z, y)
    for i in range(6):
        other = max(float(z[i, j]) for j in range(4) if j != y[i])
        assert float(loss[i]) == pytest.approx(other - float(z[i, y[i]]))
    code = CodewordMSE(Codebook.from_seed(3, 16, 1))
    out = torch.randn(5, 16, generator=g)
    m = ScoreMargin(code)
    assert torch.equal(m.predict(out), code.predict(out))
    assert ((m.losses(out, m.predict(out)) <= 0)).all()  # the predicted class has the largest score


def test_train_substitute_is_the_attacks_last_round():
    d = load_dataset("digits", classes=[0, 1], seed=0)
    target = LinearSVMClassifier(random_state=0, device="cpu").fit(d.x_train, d.y_train)
    sub = NetSubstitute(epochs=2)
    x_seed, x_att, y_att = d.x_test[:20], d.x_test[20:80], d.y_test[20:80]
    rec = substitute_attack(target, sub, x_seed, x_att, y_att, n_classes=2, rounds=3, eps=0.2, cap=80, seed=5,
                            progress=False)
    model, queries = train_substitute(target, sub, x_seed, n_classes=2, rounds=3, cap=80, seed=5)
    adv = sub.adversaries(model, x_att, y_att, 0.2)
    assert 100 * float((predict(target, adv) == y_att).float().mean()) == pytest.approx(
        100 * rec.target_accuracy.iloc[-1])
    assert queries == 20 + 20 + 40  # seed points, then the set doubles 20 -> 40 -> 80 (the cap)


def test_a_finished_seed_is_read_back(task, tmp_path, monkeypatch):
    d, fams, _ = task
    small = dict(SETTINGS, eps_values=[0.0, 0.1], n_audit=10)
    first = audit_seed(fams, d.x_test, d.y_test, state_dir=tmp_path, **small)

    def boom(*a, **k):
        raise AssertionError("recomputed a finished seed")

    monkeypatch.setattr("zerolib.experiments.robustness_audit.audit_families", boom)
    again = audit_seed(fams, d.x_test, d.y_test, state_dir=tmp_path, **small)
    for k in first:
        pd.testing.assert_frame_equal(first[k].reset_index(drop=True), again[k].reset_index(drop=True),
                                      check_dtype=False)


def test_unknown_family_is_refused(task):
    d, fams, _ = task
    with pytest.raises(ValueError, match="unknown families"):
        audit_families({"ResNet": fams["SVM"]}, d.x_test, d.y_test, **SETTINGS)


def test_label_only_starts_are_the_nearest_other_labelled_pool_points():
    g = torch.Generator().manual_seed(0)
    pool, x = torch.rand(30, 1, 4, 4, generator=g), torch.rand(8, 1, 4, 4, generator=g)
    w = torch.randn(16, generator=g)

    class Sign(torch.nn.Module):
        def forward(self, z):
            s = z.flatten(1) @ w - float(pool.flatten(1).mean(0) @ w)
            return torch.stack([-s, s], 1)

    model = Sign()
    y = predict(model, x)
    from zerolib.experiments.robustness_audit import label_only_starts
    starts = label_only_starts(model, x, y, pool)
    labels = predict(model, pool)
    for i in range(len(x)):
        others = [j for j in range(len(pool)) if labels[j] != y[i]]
        j = min(others, key=lambda j: float((x[i] - pool[j]).double().norm()))
        assert torch.equal(starts[i], pool[j])


def _reading_frames(flag_ok):
    """Two families over two seeds at eps 0.3; MLP01 votes fails a broken-model check unless ``flag_ok``."""
    curves = [{"seed": s, "family": f, "eps": 0.3, "attack": a, "kind": "x", "accuracy": v + s}
              for s in range(2) for f, base in (("MLP01 votes", 60.0), ("MLP", 10.0))
              for a, v in (("worst case", base), ("paper A's attacks", base + 20), ("transfer alone", base + 10),
                           ("surrogate PGD" if f == "MLP01 votes" else "PGD", base + 5),
                           ("hidden-node" if f == "MLP01 votes" else "FGSM", base + 25))]
    flags = [{"seed": s, "family": f, "check": "predictions do not collapse to one class under uniform noise",
              "ok": flag_ok or f == "MLP", "category": "broken model", "detail": ""}
             for s in range(2) for f in ("MLP01 votes", "MLP")]
    flags += [{"seed": s, "family": "MLP", "check": "HSJ L2 median levelled off", "ok": False,
               "category": "query budget", "detail": ""} for s in range(2)]
    dist = [{"seed": s, "family": f, "attack": a, "median": 1.0, "success": 100.0}
            for s in range(2) for f in ("MLP01 votes", "MLP") for a in ("HSJ L2", "HSJ Linf")]
    return {"curves": pd.DataFrame(curves), "flags": pd.DataFrame(flags), "distances": pd.DataFrame(dist)}


def test_the_reading_never_reads_a_flagged_family_as_robust():
    bad = _reading_frames(flag_ok=False)
    assert list(failed_flags(bad["flags"])) == ["MLP01 votes"]  # a query-budget flag is not a robustness flag
    text = " ".join(reading(bad, 0.3))
    assert "MLP01 votes 60.5 ± 0.7 %" in text  # the number is computed from the curves
    assert "Not read as robustness" in text and "MLP01 votes: predictions do not collapse" in text
    assert "MLP01 votes vs MLP: not compared" not in text  # a flagged 01-loss model may only keep *less* ...
    assert "MLP01 votes 60.5 % vs MLP 10.5 %: not compared (MLP01 votes is flagged)" in text  # ... not more
    assert text.endswith("no failed broken-model or attack-strength check: MLP.")
    assert "surrogate PGD leaves 65.5 ± 0.7 %, paper A's own attack 85.5 ± 0.7 %" in text
    assert "stronger than paper A's" in text

    good = " ".join(reading(_reading_frames(flag_ok=True), 0.3))
    assert "Not read as robustness" not in good
    assert "MLP01 votes 60.5 % vs MLP 10.5 %: the 01-loss model keeps more" in good


def test_stack_seeds_tags_every_row_with_its_seed():
    by_seed = {7: {"curves": pd.DataFrame({"accuracy": [1.0, 2.0]})}, 9: {"curves": pd.DataFrame({"accuracy": [3.0]})}}
    stacked = experiment.stack_seeds(by_seed)
    assert list(stacked["curves"].accuracy) == [1.0, 2.0, 3.0] and list(stacked["curves"].seed) == [7, 7, 9]
    assert list(stacked["curves"].index) == [0, 1, 2]


def test_hsj_curve_and_transfer_matrix_tables():
    hc = pd.DataFrame([{"seed": s, "family": f, "queries": q, "median": m + s, "rows": 5, "success": 100.0}
                       for s in range(2) for f, m in (("MLP", 1.0), ("SVM", 2.0)) for q in (75, 150)])
    curve = experiment.hsj_curve_table(hc.assign(median=hc["median"] + hc.queries / 1e4 + 1e-5))
    assert list(curve.index) == ["SVM", "MLP"]  # the families' order, not the file's
    assert list(curve.columns) == [75, 150]
    assert curve.loc["MLP", 150] == 1.515  # mean of 1.01501 and 2.01501, to 3 decimals
    tr = pd.DataFrame([{"seed": s, "source": a, "target": b, "eps": 0.3, "accuracy": 10.0 * s + (a == b) * 50.0}
                       for s in range(2) for a in ("SVM", "MLP") for b in ("SVM", "MLP")])
    tm = experiment.transfer_matrix(tr)
    assert tm.shape == (len(experiment.FAMILIES), len(experiment.FAMILIES))
    assert tm.loc["SVM", "SVM"] == 55.0 and tm.loc["SVM", "MLP"] == 5.0 and tm.loc["MLP", "SVM"] == 5.0
    assert tm.loc["LeNet"].isna().all()


def test_the_tables_raise_no_pandas_warning():
    """Every table the notebook shows, with warnings as errors (a deprecated keyword fails here)."""
    import warnings

    frames = _reading_frames(flag_ok=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tables = [experiment.robust_table(frames["curves"]), experiment.adaptive_table(frames["curves"]),
                  experiment.comparison_at(frames["curves"], frames["distances"], 0.3),
                  experiment.distance_table(frames["distances"]), experiment.flag_table(frames["flags"])]
        lines = experiment.reading(frames, 0.3)
    assert [str(w.message) for w in caught] == []
    assert all(len(t) for t in tables) and lines


def test_section_reads_the_saved_tables_and_the_run_parameters(tmp_path):
    assert experiment.section(tmp_path, "digits", {}) is None
    frames = _reading_frames(flag_ok=False)
    frames["flags"] = frames["flags"].drop(columns="category")  # written before flags had categories
    for k, v in frames.items():
        v.to_csv(tmp_path / f"{experiment.PER_SEED[k]}.csv", index=False)
    assert experiment.section(tmp_path / "missing", "digits", {}) is None
    s = experiment.section(tmp_path, "digits", {"eps_matrix": 0.3, "classes": [3, 5], "n_audit": 40})
    text = "\n".join(s.lines)
    assert s.verdicts == []
    assert "robustness audit, classes 3 vs 5" in text and "mean ± sd over 2 seeds" in text
    assert "Settings: n_audit 40." in text and "At eps 0.3:" in text
    # without categories every failed check counts as attack strength, the MLP's HSJ flag too
    assert "- MLP: HSJ L2 median levelled off (attack strength, failed in 2/2 seeds)" in text
    assert "- **What each family keeps at eps 0.3" in text and "MLP01 votes 60.5 ± 0.7 %" in text
