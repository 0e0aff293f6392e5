"""The exact 01-loss line solver against an independent brute force."""

import numpy as np
import pytest

from zerolib.models.exact import ExactLine, count_errors, min01_line


def arc_brute_force(X, y):
    """Minimum 01 loss by sweeping directions: one direction per arc between the
    critical angles (normals of point pairs), where the projection order is fixed,
    and every threshold between distinct projections."""
    n = len(X)
    crit = []
    for a in range(n):
        for b in range(a + 1, n):
            d = X[b] - X[a]
            if np.any(d != 0):
                th = np.arctan2(d[1], d[0]) + np.pi / 2
                crit += [th % (2 * np.pi), (th + np.pi) % (2 * np.pi)]
    crit = np.unique(crit) if crit else np.array([0.0])
    mids = (crit + np.r_[crit[1:], crit[0] + 2 * np.pi]) / 2
    return sweep(X, y, mids)


def sweep(X, y, angles):
    """Minimum errors over lines with normals at `angles` and all thresholds."""
    best = min(int(y.sum()), len(y) - int(y.sum()))
    for th in angles:
        p = X @ np.array([np.cos(th), np.sin(th)])
        ps = np.unique(p)
        for c in (ps[:-1] + ps[1:]) / 2:
            best = min(best, int(np.sum((p > c) != (y == 1))))
    return best


def random_set(rng, n, integer=False):
    X = rng.normal(size=(n, 2))
    if integer:  # ties, duplicates and collinear triples
        X = np.round(X)
    return X, rng.integers(0, 2, n)


@pytest.mark.parametrize("integer", [False, True])
def test_matches_brute_force_on_random_sets(integer):
    rng = np.random.default_rng(1 + integer)
    for _ in range(120):
        X, y = random_set(rng, int(rng.integers(1, 13)), integer)
        r = min01_line(X, y)
        assert r.errors == arc_brute_force(X, y)
        assert count_errors(r.w, r.b, X, y) == r.errors  # realised with the strict rule
        assert np.all(X @ r.w + r.b != 0)  # no training point on the line


def test_never_worse_than_a_dense_angle_sweep():
    rng = np.random.default_rng(7)
    angles = np.linspace(0, 2 * np.pi, 3600, endpoint=False)
    for _ in range(25):
        X, y = random_set(rng, int(rng.integers(3, 13)))
        assert min01_line(X, y).errors <= sweep(X, y, angles)


def test_separable_set_has_zero_errors():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(15, 2)) + [4, 0], rng.normal(size=(15, 2)) - [4, 0]]
    y = np.r_[np.ones(15), np.zeros(15)].astype(int)
    r = min01_line(X, y)
    assert r.errors == 0
    assert r.w[0] > 0.9  # roughly the vertical line through the gap, pointing to class 1


def test_xor_needs_one_error():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 0, 1, 1])
    assert min01_line(X, y).errors == 1


def test_degenerate_sets():
    assert min01_line(np.zeros((1, 2)), np.array([1])).errors == 0
    same = np.zeros((4, 2))
    assert min01_line(same, np.array([0, 1, 1, 1])).errors == 1  # identical points
    line = np.c_[np.arange(6.0), np.zeros(6)]  # collinear: a 1D threshold
    assert min01_line(line, np.array([0, 0, 1, 1, 0, 1])).errors == 1
    r = min01_line(line, np.array([1, 1, 1, 0, 0, 0]))
    assert r.errors == 0 and count_errors(r.w, r.b, line, [1, 1, 1, 0, 0, 0]) == 0


def test_result_type_and_fields():
    r = min01_line(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0, 1]))
    assert isinstance(r, ExactLine)
    assert r.w.shape == (2,) and isinstance(r.b, float) and isinstance(r.errors, int)
    with pytest.raises(Exception):
        r.errors = 3  # frozen


def test_bad_labels_and_shapes():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"-1"):
        min01_line(X, np.array([-1, 1, 1]))
    with pytest.raises(ValueError, match="labels"):
        min01_line(X, np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="shape"):
        min01_line(np.zeros((3, 3)), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="shape"):
        min01_line(X, np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        min01_line(np.array([[0.0, np.nan], [1, 1]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="empty"):
        min01_line(np.zeros((0, 2)), np.zeros(0, int))


def test_count_errors():
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    y = np.array([0, 1, 1])
    assert count_errors([1.0, 0.0], 0.0, X, y) == 1  # the point on the line is class 0
    assert count_errors([1.0, 0.0], 0.5, X, y) == 0


def test_sixty_points_is_fast():
    import time

    X, y = random_set(np.random.default_rng(3), 60)
    t = time.perf_counter()
    r = min01_line(X, y)
    assert time.perf_counter() - t < 2.0
    assert count_errors(r.w, r.b, X, y) == r.errors
