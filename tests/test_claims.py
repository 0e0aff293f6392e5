"""Verdicts of paper A's claims, the spread over seeds, and the report built from them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from zerolib.papers import numbers as paper
from zerolib.papers.claims import (FAILS, HOLDS, TABLE_I_CLAIMS, TABLE_III_CLAIMS, UNCLEAR, Claim, judge, judge_all,
                            table_i_cells, table_iii_cells)
from zerolib.study.report import write_report
from zerolib.experiments.common.summary import fmt, long_form, over_seeds, wide

ABOVE = Claim("q above 10", "here", lambda c: c["q"], 10.0, +1)
BELOW = Claim("q below 10", "here", lambda c: c["q"], 10.0, -1)


@pytest.mark.parametrize("values, above, below", [
    ([12, 13, 14], HOLDS, FAILS),       # mean 13, 95 % interval 13 ± 4.30 * 1 / sqrt(3) = [10.5, 15.5]
    ([7, 7.5, 8], FAILS, HOLDS),        # 7.5 ± 4.30 * 0.5 / sqrt(3) = [6.3, 8.7]: the whole interval below
    ([7, 8, 9], UNCLEAR, UNCLEAR),      # [5.5, 10.5] contains 10
    ([9, 10, 12], UNCLEAR, UNCLEAR),
    ([11], HOLDS, FAILS),               # one seed and no test rows: nothing to spread, the mean decides
])
def test_verdict_rule(values, above, below):
    cells = [{"q": v} for v in values]
    assert judge(ABOVE, cells).verdict == above
    assert judge(BELOW, cells).verdict == below
    v = judge(ABOVE, cells)
    assert v.mean == pytest.approx(np.mean(values))
    assert v.std == pytest.approx(np.std(values, ddof=1) if len(values) > 1 else 0.0)
    if len(values) > 1:  # Student's t over the seeds when no test rows are counted
        from scipy import stats
        half = stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
        assert (v.lo, v.hi) == pytest.approx((np.mean(values) - half, np.mean(values) + half))


def test_test_rows_widen_the_interval_to_the_binomial_one():
    """One seed, q one accuracy cell of 13 % on n rows: the interval is the normal one for a
    binomial proportion, 13 ± 1.96 sqrt(13 * 87 / n) (within the parametric bootstrap's error)."""
    for n in (100, 2000):
        v = judge(ABOVE, [{"q": 13.0}], n_rows=n)
        half = 1.96 * np.sqrt(13 * 87 / n)
        assert (v.hi - v.lo) / 2 == pytest.approx(half, rel=0.15)
        assert v.n_rows == n
    assert judge(ABOVE, [{"q": 13.0}], n_rows=100).verdict == UNCLEAR   # 13 ± 6.6 contains 10
    assert judge(ABOVE, [{"q": 13.0}], n_rows=2000).verdict == HOLDS    # 13 ± 1.5 does not
    not_rows = Claim("a bound above 10", "here", lambda c: c["q"], 10.0, +1, over_rows=False)
    assert judge(not_rows, [{"q": 13.0}], n_rows=100).n_rows is None


def test_missing_cells_raise():
    with pytest.raises(ValueError, match="missing"):
        judge(ABOVE, [])


def test_paper_claims_on_the_papers_own_tables():
    # computed by hand from study.md: MNIST SCD01 gains 90.8 - 83.7 = 7.1, MLP01 96 - 91.2 = 4.8
    v = judge(TABLE_I_CLAIMS[0], [paper.table_i_cells("mnist")], paper.table_i_cells("mnist"))
    assert v.paper == pytest.approx(4.8) and v.paper_verdict == HOLDS
    # CIFAR10: SVM votes - single = 0.3, MLP = -2.8: the larger gain 0.3 < 1
    v = judge(TABLE_I_CLAIMS[1], [paper.table_i_cells("cifar10")], paper.table_i_cells("cifar10"))
    assert v.paper == pytest.approx(0.3) and v.paper_verdict == HOLDS
    # CIFAR10 Table III: SVM -> MLP 0.5 and MLP -> SVM 0: max 0.5 < 5
    v = judge(TABLE_III_CLAIMS[4], [paper.table_iii_cells("cifar10")], paper.table_iii_cells("cifar10"))
    assert v.paper == pytest.approx(0.5) and v.paper_verdict == HOLDS
    # MNIST: the same quantity is max(40.4, 25.5) = 40.4: the paper's MNIST does not meet it
    v = judge(TABLE_III_CLAIMS[4], [paper.table_iii_cells("mnist")], paper.table_iii_cells("mnist"))
    assert v.paper == pytest.approx(40.4) and v.paper_verdict == FAILS
    # CIFAR10 transfer gap: mean(41.3, 70.1, 43.5, 63.7) - mean(0.5, 0) = 54.65 - 0.25
    v = judge(TABLE_III_CLAIMS[2], [paper.table_iii_cells("cifar10")], paper.table_iii_cells("cifar10"))
    assert v.paper == pytest.approx(54.4)


def test_every_claim_has_the_cells_it_needs_in_the_paper_tables():
    for ds in paper.TABLE_I:
        assert len(judge_all(TABLE_I_CLAIMS, [paper.table_i_cells(ds)])) == len(TABLE_I_CLAIMS)
    for ds in paper.TABLE_III:
        assert len(judge_all(TABLE_III_CLAIMS, [paper.table_iii_cells(ds)])) == len(TABLE_III_CLAIMS)


def test_over_seeds_against_numpy():
    rng = np.random.RandomState(0)
    long = pd.DataFrame([{"seed": s, "a": a, "b": b, "accuracy": rng.rand()}
                         for s in range(4) for a in "xy" for b in "uv"])
    out = over_seeds(long, ["a", "b"])
    for r in out.itertuples():
        vals = long[(long.a == r.a) & (long.b == r.b)].accuracy.values
        assert r.mean == pytest.approx(vals.mean()) and r.std == pytest.approx(vals.std(ddof=1))
        assert (r.min, r.max, r.n) == (vals.min(), vals.max(), 4)
    with pytest.raises(ValueError, match="repeat"):
        over_seeds(pd.concat([long, long.iloc[:1]]), ["a", "b"])
    with pytest.raises(ValueError, match="seed"):
        over_seeds(long.drop(columns="seed"), ["a", "b"])


def test_long_form_round_trip_and_format():
    table = pd.DataFrame({"SVM": [100.0, 3.0], "MLP": [99.0, 40.0]}, index=["clean", "SVM"])
    long = long_form(table, seed=7)
    assert set(long.columns) == {"seed", "source", "target", "accuracy"} and (long.seed == 7).all()
    back = long.pivot(index="source", columns="target", values="accuracy").loc[table.index, table.columns]
    pd.testing.assert_frame_equal(back, table, check_names=False)
    assert fmt(1.234, 0.05) == "1.2 ± 0.1" and fmt(2.0, float("nan")) == "2.0"
    s = over_seeds(pd.concat([long, long_form(table + 2, seed=8)]), ["source", "target"])
    w = wide(s, "source", "target")
    assert w.loc["SVM", "MLP"] == "41.0 ± 1.4"


# ---------------------------------------------------------------- report
def fake_profile(root, name="mnist-cpu", dataset="mnist"):
    """A profile folder as the notebooks leave it: run records and per-seed tables built
    from the paper's own numbers plus a seed-dependent offset."""
    prof = root / name
    rows1 = [{"seed": s, "model": m, "kind": k, "accuracy": v + s}
             for s in range(3) for (m, k), v in paper.table_i_cells(dataset).items()]
    rows3 = [{"seed": s, "source": a, "target": b, "accuracy": v + 0.5 * s}
             for s in range(3) for (a, b), v in paper.table_iii_cells(dataset).items()]
    for nb, table, rows in (("clean_accuracy", "table1_per_seed", rows1),
                            ("whitebox_transfer", "table3_per_seed", rows3)):
        (prof / nb).mkdir(parents=True)
        pd.DataFrame(rows).to_csv(prof / nb / f"{table}.csv", index=False)
        (prof / nb / "run.json").write_text(json.dumps({
            "notebook": nb, "status": "ok", "seconds": 600, "started": "2026-12-02T00:00:00",
            "git": {"commit": "abc123", "dirty": False}, "device": {"cpu_count": 2},
            "parameters": {"dataset": dataset, "n_seeds": 3, "eps": 0.3}}))
    return prof


def test_report_puts_ours_beside_the_paper_and_recomputes_verdicts(tmp_path):
    fake_profile(tmp_path)
    text = write_report(tmp_path).read_text()
    assert "## Profile `mnist-cpu` (mnist)" in text
    # SVM single: ours 91.7 + (0, 1, 2) -> 92.7 ± 1.0 beside the paper's 91.7, +1.0
    assert "| SVM | 92.7 ± 1.0 | 91.7 | +1.0 |" in text
    # Table III cell SVM -> SCD01: 8.1 + (0, .5, 1) -> 8.6 ± 0.5 (paper 8.1; +0.5)
    assert "8.6 ± 0.5 (8.1; +0.5)" in text
    # every claim appears with a verdict in the summary
    for c in TABLE_I_CLAIMS + TABLE_III_CLAIMS:
        assert c.text in text
    assert "abc123" in text and "10.0 min" in text


def test_report_with_nothing_run(tmp_path):
    assert "No profile has finished" in write_report(tmp_path).read_text()


def test_report_shows_the_audit_worst_case_beside_paper_a_and_the_flags(tmp_path):
    prof = tmp_path / "cifar10-cpu" / "robustness_audit"
    prof.mkdir(parents=True)
    curves = [{"seed": s, "family": f, "eps": e, "attack": a, "kind": k, "accuracy": v + 2 * s}
              for s in range(2) for f in ("SVM", "MLP01")
              for e, a, k, v in ((0.0, "worst case", "all", 90.0), (0.0625, "worst case", "all", 20.0),
                                 (0.0625, "paper A's attacks", "paper A", 50.0),
                                 (0.0625, "transfer alone", "transfer alone", 40.0),
                                 (0.0625, "FGSM" if f == "SVM" else "hidden-node", "white-box", 60.0),
                                 (0.0625, "surrogate PGD", "white-box", 25.0))
              if not (f == "SVM" and a == "surrogate PGD")]
    flags = [{"seed": s, "family": f, "check": "the largest eps reaches 0 %", "ok": s == 0 or f == "SVM",
              "category": "attack strength"} for s in range(2) for f in ("SVM", "MLP01")]
    dist = [{"seed": s, "family": f, "attack": a, "norm": a[4:], "median": 1.0 + s, "success": 100.0,
             "queries": 500.0} for s in range(2) for f in ("SVM", "MLP01") for a in ("HSJ L2", "HSJ Linf")]
    for name, rows in (("curves", curves), ("flags", flags), ("distances", dist)):
        pd.DataFrame(rows).to_csv(prof / f"{name}_per_seed.csv", index=False)
    (prof / "run.json").write_text(json.dumps({
        "notebook": "robustness_audit", "status": "ok", "seconds": 60, "started": "2026-12-03",
        "git": {"commit": "abc"}, "device": {"cpu_count": 2},
        "parameters": {"dataset": "cifar10", "n_seeds": 2, "eps_matrix": 0.0625}}))
    text = write_report(tmp_path).read_text()
    # worst case over seeds: 20 + (0, 2) -> 21.0 ± 1.4; paper A alone 51.0 ± 1.4; transfer alone 41.0 ± 1.4;
    # medians 1.5 ± 0.7
    assert "| SVM | 91.0 ± 1.4 | 21.0 ± 1.4 |" in text
    assert "| MLP01 | 51.0 ± 1.4 | 41.0 ± 1.4 | 21.0 ± 1.4 | 1.500 ± 0.707 | 1.500 ± 0.707 |" in text
    assert "| MLP01: surrogate PGD |  | 26.0 ± 1.4 |" in text  # the adaptive attack's own curve
    assert "| MLP01 | 1/2 |" in text and "| SVM | 2/2 |" in text
    # the flagged family is named as not read as robustness; the reading names its flag, not a gain
    assert "- MLP01: the largest eps reaches 0 % (attack strength, failed in 1/2 seeds)" in text
    assert "no failed broken-model or attack-strength check: SVM." in text
    assert "MLP01 21.0 % vs MLP" not in text


def test_findings_page_puts_real_datasets_first_and_names_the_reductions_where_verdicts_differ():
    from zerolib.study.report import findings

    def frame(profile, dataset, verdict, paper_verdict, reductions):
        return pd.DataFrame([{"claim": "q above 10", "where": "A, Table I", "verdict": verdict, "mean": 12.0,
                              "std": 1.0, "lo": 10.5, "hi": 13.5, "n_seeds": 3, "n_rows": 2000, "paper": 15.0,
                              "paper_verdict": paper_verdict, "experiment": "clean_accuracy", "profile": profile,
                              "dataset": dataset, "setting": "n_votes 8", "reductions": reductions}])

    verdicts = pd.concat([frame("mnist-cpu", "mnist", "holds", "holds", "n_votes: paper 32 votes"),
                          frame("cifar10-cpu", "cifar10", "unclear", "holds", "n_votes: paper 32 votes"),
                          frame("quick", "digits", "does not hold", None, "")], ignore_index=True)
    lines = "\n".join(findings(verdicts)).splitlines()
    table = [line for line in lines if line.startswith("| A, Table I")]
    assert len(table) == 1 and "digits" not in "\n".join(lines)           # quick leaves the headline
    row = table[0]
    assert "**holds** 12.0 [10.5, 13.5] (n 3 seeds x 2000 rows); paper: holds" in row
    assert "cifar10: n_votes: paper 32 votes" in row and "mnist: n_votes" not in row   # only where they differ
    assert "- clean_accuracy, mnist: n_votes 8" in lines
