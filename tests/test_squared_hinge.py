"""The batched squared-hinge SVM solver against liblinear (scikit-learn's LinearSVC
minimises the same objective) and against its own invariants: zero weights leave
rows out, integer weights are duplicated rows, a batch equals its problems alone."""

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

from zerolib.models.squared_hinge import fit_squared_hinge

pytestmark = pytest.mark.usefixtures("one_thread")


def objective(X, y, w, c, C, r=None):
    """LinearSVC's primal: (|w|^2 + c^2)/2 + C sum r_i max(0, 1 - y_i (w.x_i + c))^2."""
    r = np.ones(len(y)) if r is None else r
    z = X @ w + c
    return 0.5 * (w @ w + c * c) + C * np.sum(r * np.maximum(0, 1 - y * z) ** 2)


def problem(seed, n=300, d=20, noise=0.3):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d)
    w = rng.randn(d)
    y = np.where(X @ w - np.median(X @ w) + noise * rng.randn(n) > 0, 1.0, -1.0)
    return X, y


def solve(X, Y, R, C, **kw):
    W, c, n_iter, conv = fit_squared_hinge(torch.as_tensor(X), torch.as_tensor(Y), torch.as_tensor(R),
                                           torch.as_tensor(C, dtype=torch.float64), **kw)
    return W.numpy(), c.numpy(), n_iter.numpy(), conv.numpy()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_objective_at_most_liblinears(seed, C):
    X, y = problem(seed)
    ref = LinearSVC(C=C, dual=False, tol=1e-10, max_iter=10000).fit(X, y)
    W, c, _, conv = solve(X, y[None], np.ones((1, len(y))), [C], tol=1e-8)
    assert conv.all()
    ours = objective(X, y, W[0], c[0], C)
    theirs = objective(X, y, ref.coef_[0], ref.intercept_[0], C)
    # both are the same strongly convex minimum; ours may only be lower (never worse by more
    # than a relative 1e-7, far above float64 noise and far below any real difference)
    assert ours <= theirs * (1 + 1e-7)
    np.testing.assert_allclose(W[0], ref.coef_[0], rtol=0, atol=1e-3 * np.abs(ref.coef_).max())


def test_gradient_is_zero_at_the_solution():
    X, y = problem(7)
    C = 3.0
    W, c, _, _ = solve(X, y[None], np.ones((1, len(y))), [C], tol=1e-10)
    w, b = W[0], c[0]
    viol = np.maximum(0, 1 - y * (X @ w + b))
    grad_w = w - 2 * C * X.T @ (viol * y)
    grad_c = b - 2 * C * np.sum(viol * y)
    g0 = np.sqrt(np.sum((2 * C * X.T @ y) ** 2) + (2 * C * y.sum()) ** 2)  # |grad f(0)|
    assert np.sqrt(grad_w @ grad_w + grad_c ** 2) <= 1e-8 * g0


def test_zero_weight_rows_are_left_out_and_integer_weights_duplicate_rows():
    X, y = problem(1)
    rng = np.random.RandomState(0)
    r = rng.randint(0, 3, size=len(y)).astype(float)  # 0, 1 or 2 copies of each row
    rows = np.repeat(np.arange(len(y)), r.astype(int))
    W, c, _, _ = solve(X, y[None], r[None], [0.5], tol=1e-10)
    W2, c2, _, _ = solve(X[rows], y[rows][None], np.ones((1, len(rows))), [0.5], tol=1e-10)
    np.testing.assert_allclose(W[0], W2[0], atol=1e-7)
    np.testing.assert_allclose(c[0], c2[0], atol=1e-7)


def test_a_batch_equals_its_problems_alone():
    X, y = problem(2)
    y2 = -y[::-1].copy()
    Y = np.stack([y, y2, y])
    R = np.stack([np.ones(len(y)), np.ones(len(y)), (np.arange(len(y)) % 2).astype(float)])
    Cs = [0.1, 10.0, 1.0]
    W, c, _, _ = solve(X, Y, R, Cs, tol=1e-10)
    for b in range(3):
        Wb, cb, _, _ = solve(X, Y[b:b + 1], R[b:b + 1], [Cs[b]], tol=1e-10)
        np.testing.assert_allclose(W[b], Wb[0], atol=1e-7)
        np.testing.assert_allclose(c[b], cb[0], atol=1e-7)


@pytest.mark.parametrize("bad, match", [
    (dict(Y=np.zeros((1, 300))), "labels must be -1 or \\+1"),
    (dict(R=-np.ones((1, 300))), "weights >= 0"),
    (dict(C=[0.0]), "C > 0"),
    (dict(Y=np.ones((1, 299))), "shapes"),
])
def test_bad_inputs_raise(bad, match):
    X, y = problem(0)
    args = dict(Y=y[None], R=np.ones((1, len(y))), C=[1.0])
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        solve(X, args["Y"], args["R"], args["C"])
