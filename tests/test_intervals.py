"""The claims' 95 % interval (zerolib.papers.intervals) covers a known truth at close to its
nominal rate on simulated studies shaped like ours."""

from __future__ import annotations

import numpy as np
import pytest

from zerolib.papers.intervals import interval, row_variance


def _study(rng, k: int, n: int, truth: float, seed_sd: float):
    """One simulated study: a population of rows, each right for a model with probability
    pi + delta (pi ~ Beta(0.14, 0.06): most rows easy or hard for every model, as for trained
    models; mean 0.7), a seed's model shifting it by delta ~ N(0, seed_sd); ``n`` test rows drawn
    once and shared by the ``k`` seeds. Returns each seed's accuracy (%) on the test rows."""
    pi = rng.beta(0.14, 0.06, size=n)
    deltas = rng.normal(0.0, seed_sd, size=k)
    return [100.0 * float((rng.random(n) < np.clip(pi + d, 0, 1)).mean()) for d in deltas]


@pytest.mark.parametrize("k, n", [(3, 200), (5, 200), (3, 2000)])
def test_interval_covers_the_truth_at_about_95_percent(k, n):
    """2000 simulated studies (the design of ``_study``): the interval holds the population's
    accuracy 70 % in 93 to 98.5 % of them. The tolerance: the binomial error of 2000 studies
    (0.5 points) plus the model's stated lean to the wide side (it counts the rows' noise that
    differs between seeds twice)."""
    rng = np.random.default_rng(12345 + k + n)
    truth = 100.0 * 0.14 / (0.14 + 0.06)
    hits = 0
    studies = 2000
    for i in range(studies):
        acc = _study(rng, k, n, truth / 100.0, seed_sd=0.02)
        v = row_variance(lambda c: c["acc"], [{"acc": a} for a in acc], n, draws=200, seed=i)
        lo, hi = interval(acc, v)
        hits += lo <= truth <= hi
    assert 0.93 <= hits / studies <= 0.985, hits / studies


def test_seeds_only_is_students_t_and_rows_only_is_normal():
    from scipy import stats

    q = [60.0, 64.0, 62.0, 61.0]
    lo, hi = interval(q)
    half = stats.t.ppf(0.975, 3) * np.std(q, ddof=1) / 2
    assert (lo, hi) == pytest.approx((61.75 - half, 61.75 + half))
    lo, hi = interval([50.0, 50.0, 50.0], v_row=4.0)   # no seed spread: the rows alone, normal
    assert (lo, hi) == pytest.approx((50 - 1.959964 * 2, 50 + 1.959964 * 2), rel=1e-6)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="finite"):
        interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="n_rows"):
        row_variance(lambda c: c["a"], [{"a": 1.0}], -5)
