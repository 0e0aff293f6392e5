"""The convex baselines (their scikit-learn checks are in test_sklearn_api.py): one-vs-all and vote shapes, the vote rule
against an independent numpy computation, the SVM's cross-validation, the MLP's
architecture and learning, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

from zerolib.data import load_dataset
from zerolib.models import (DEFAULT_CS, LinearSVMClassifier, MLP400Classifier, MLPClassifier, VoteLinear,
                            accuracy)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def digits01():
    return load_dataset("digits", classes=[0, 1])


# ------------------------------------------------------- independent vote rule
def vote_rule(margins: np.ndarray) -> np.ndarray:
    """Class indices from one-vs-all vote margins (N, P, V), written independently:
    most positive votes wins; a tie goes to the larger mean margin."""
    n, p, v = margins.shape
    pos = (margins > 0).sum(2)
    mean = margins.mean(2)
    if p == 1:
        return np.where(pos[:, 0] * 2 > v, 1, np.where(pos[:, 0] * 2 < v, 0, (mean[:, 0] > 0).astype(int)))
    out = np.empty(n, dtype=int)
    for i in range(n):
        best = max(range(p), key=lambda c: (pos[i, c], mean[i, c]))
        out[i] = best
    return out


def numpy_mlp_margins(coefs, intercepts, X):
    W1, W2 = coefs
    b1, b2 = intercepts
    hidden = 1 / (1 + np.exp(-(np.einsum("nd,pvdh->npvh", X, W1) + b1)))
    return np.einsum("npvh,pvho->npvo", hidden, W2) + b2  # (N, P, V, O)


@pytest.mark.parametrize("classes", [[0, 1], None])
def test_svm_votes_shapes_and_majority(digits, classes):
    d = load_dataset("digits", classes=classes) if classes else digits
    k = len(d.classes)
    svm = LinearSVMClassifier(C=0.01, n_votes=4, random_state=0, device="cpu").fit(d.x_train, d.y_train)
    p = 1 if k == 2 else k
    D = d.x_train[0].numel()
    assert svm.coef_.shape == (p, 4, D) and svm.intercept_.shape == (p, 4)
    assert svm.predict_proba(d.x_test).shape == (len(d.x_test), k)
    np.testing.assert_allclose(svm.predict_proba(d.x_test).sum(1), 1)
    X = d.x_test.reshape(len(d.x_test), -1).numpy().astype(np.float64)
    margins = np.einsum("nd,pvd->npv", X, svm.coef_) + svm.intercept_
    np.testing.assert_array_equal(svm.predict(d.x_test), svm.classes_[vote_rule(margins)])
    # votes are really different fits (bootstrap), not copies
    assert not np.allclose(svm.coef_[:, 0], svm.coef_[:, 1])


def test_vote_rule_ties_by_hand():
    # two votes in 1-D: w = +1 and w = -1 with biases; a row where they disagree is a tie
    w = torch.tensor([[[1.0], [-1.0]]])  # (P=1, V=2, D=1)
    b = torch.tensor([[0.0, 0.5]])
    m = VoteLinear(w, b, n_classes=2)
    x = torch.tensor([[0.2], [2.0], [-2.0]])
    # x=0.2: margins (0.2, 0.3): both positive -> class 1
    # x=2.0: margins (2.0, -1.5): tie, mean +0.25 -> class 1; x=-2: (-2, 2.5): tie, mean +0.25 -> class 1
    assert m.counts(x).tolist() == [[0, 2], [1, 1], [1, 1]]
    assert m.predict(x).tolist() == [1, 1, 1]
    m2 = VoteLinear(w, torch.tensor([[0.0, -0.5]]), n_classes=2)  # ties now have mean -0.25
    assert m2.predict(torch.tensor([[2.0], [-2.0]])).tolist() == [0, 0]
    # 3 classes, one vote each: no vote for anyone -> largest margin wins; two votes tied -> larger margin
    w3 = torch.tensor([[[1.0]], [[2.0]], [[-1.0]]])  # (P=3, V=1, D=1)
    m3 = VoteLinear(w3, torch.tensor([[-5.0], [-5.0], [-5.0]]), n_classes=3)
    assert m3.predict(torch.tensor([[1.0], [4.0], [-1.0]])).tolist() == [1, 1, 2]


@pytest.mark.parametrize("classes", [[0, 1], [0, 1, 2]])
def test_mlp_votes_match_numpy(classes):
    d = load_dataset("digits", classes=classes)
    m = MLPClassifier(epochs=5, n_votes=4, random_state=0, device="cpu").fit(d.x_train, d.y_train)
    k, p = len(classes), (1 if len(classes) == 2 else len(classes))
    D = d.x_train[0].numel()
    assert [a.shape for a in m.coefs_] == [(p, 4, D, 20), (p, 4, 20, 1)]
    assert [a.shape for a in m.intercepts_] == [(p, 4, 20), (p, 4, 1)]
    X = d.x_test.reshape(len(d.x_test), -1).numpy().astype(np.float64)
    margins = numpy_mlp_margins(m.coefs_, m.intercepts_, X)[..., 0]
    np.testing.assert_array_equal(m.predict(d.x_test), m.classes_[vote_rule(margins)])
    module = m.as_module(device="cpu")
    assert module(d.x_test).shape == (len(d.x_test), max(k, 2))
    assert module.votes(d.x_test).shape == (len(d.x_test), p, 4)
    np.testing.assert_array_equal(module.predict(d.x_test).numpy(), vote_rule(margins))


def test_mlp400_softmax_votes(digits):
    m = MLP400Classifier(hidden=30, epochs=3, n_votes=3, random_state=0, device="cpu").fit(
        digits.x_train, digits.y_train)
    D = digits.x_train[0].numel()
    assert [a.shape for a in m.coefs_] == [(1, 3, D, 30), (1, 3, 30, 10)]
    X = digits.x_test.reshape(len(digits.x_test), -1).numpy().astype(np.float64)
    logits = numpy_mlp_margins(m.coefs_, m.intercepts_, X)[:, 0]  # (N, V, K)
    counts = np.stack([(logits.argmax(2) == c).sum(1) for c in range(10)], 1)
    logp = logits - np.log(np.exp(logits).sum(2, keepdims=True))
    mean = logp.mean(1)
    expected = [max(range(10), key=lambda c: (counts[i, c], mean[i, c])) for i in range(len(X))]
    np.testing.assert_array_equal(m.predict(digits.x_test), expected)


# --------------------------------------------------------------- architecture
def test_mlp_architecture_parameter_counts(digits):
    D = 64
    m = MLPClassifier(epochs=1, random_state=0, device="cpu").fit(digits.x_train, digits.y_train)
    per_net = D * 20 + 20 + 20 * 1 + 1  # 20 sigmoid hidden nodes, one logistic output
    assert sum(a.size for a in m.coefs_ + m.intercepts_) == 10 * per_net  # one net per class
    m400 = MLP400Classifier(epochs=1, random_state=0, device="cpu").fit(digits.x_train, digits.y_train)
    assert sum(a.size for a in m400.coefs_ + m400.intercepts_) == D * 400 + 400 + 400 * 10 + 10  # shared, softmax
    assert (m.batch_size, m.lr, m.momentum, m.hidden) == (200, 0.01, 0.9, 20)


def test_mlp_learns_digits_0_vs_1(digits01):
    m = MLPClassifier(epochs=60, random_state=0, device="cpu").fit(digits01.x_train, digits01.y_train)
    assert m.score(digits01.x_test, digits01.y_test) > 0.95
    assert m.loss_curve_[-1] < m.loss_curve_[0]


def test_mlp_module_is_differentiable(digits01):
    m = MLPClassifier(epochs=20, random_state=0, device="cpu").fit(digits01.x_train, digits01.y_train)
    module = m.as_module(device="cpu")
    x = digits01.x_test[:8].clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(module(x), digits01.y_test[:8])
    (grad,) = torch.autograd.grad(loss, x)
    assert grad.shape == x.shape and grad.abs().sum() > 0
    # for one vote, argmax of the scores is the estimator's prediction
    assert module(digits01.x_test).argmax(1).tolist() == m.predict(digits01.x_test).tolist()


def test_same_seed_same_model_and_torch_input(digits01):
    X, y = digits01.x_train, digits01.y_train
    a = MLPClassifier(epochs=3, n_votes=2, random_state=3, device="cpu").fit(X, y)
    b = MLPClassifier(epochs=3, n_votes=2, random_state=3, device="cpu").fit(X.reshape(len(X), -1).numpy(), y.numpy())
    c = MLPClassifier(epochs=3, n_votes=2, random_state=4, device="cpu").fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.allclose(a.coefs_[0], c.coefs_[0])
    s1 = LinearSVMClassifier(n_votes=2, random_state=3).fit(X, y)
    s2 = LinearSVMClassifier(n_votes=2, random_state=3).fit(X, y)
    np.testing.assert_array_equal(s1.coef_, s2.coef_)


def test_labels_of_any_kind(digits01):
    names = np.array(["zero", "one"])[digits01.y_train.numpy()]
    svm = LinearSVMClassifier(random_state=0).fit(digits01.x_train, names)
    assert set(svm.predict(digits01.x_test)) <= {"zero", "one"}
    assert list(svm.classes_) == ["one", "zero"]  # sorted; the positive class is classes_[1]


# ---------------------------------------------------------- SVM's C by CV
def test_svm_cv_uses_only_training_rows(monkeypatch, digits):
    import zerolib.models.convex as convex

    X_train = digits.x_train.reshape(len(digits.x_train), -1).numpy().astype(np.float64)
    train_rows = {r.tobytes() for r in X_train}
    test_rows = {r.tobytes() for r in digits.x_test.reshape(len(digits.x_test), -1).numpy().astype(np.float64)}
    seen = []
    original = convex.fit_squared_hinge

    def spy(X, Y, R, C, **kwargs):
        seen.append((X.numpy().copy(), R.numpy().copy(), C.numpy().copy()))
        return original(X, Y, R, C, **kwargs)

    monkeypatch.setattr(convex, "fit_squared_hinge", spy)
    svm = LinearSVMClassifier(cv=3, cv_max_samples=600, cv_patience=None, cv_extend=0, random_state=0).fit(
        digits.x_train, digits.y_train)
    assert len(seen) == len(DEFAULT_CS) + 1  # one batch per C (every fold x class problem), then the fit
    for X, R, _ in seen:
        rows = {r.tobytes() for r in X}
        assert rows <= train_rows and not rows & (test_rows - train_rows)
    for X, R, C in seen[:-1]:
        assert len(X) < 600  # the search ran on the capped subsample
        folds = R.reshape(3, 10, -1)  # (fold, class problem, row): 0/1 weights, one fold's rows held out
        assert set(np.unique(folds)) == {0.0, 1.0}
        assert (folds == folds[:, :1]).all()  # every class problem of a fold holds out the same rows
        assert (folds[:, 0].sum(0) == 2).all()  # each row is held out in exactly one of the 3 folds
    assert sorted(float(C[0]) for _, _, C in seen[:-1]) == sorted(DEFAULT_CS)
    assert svm.C_ in DEFAULT_CS and set(svm.cv_scores_) == set(DEFAULT_CS)
    assert svm.cv_scores_[svm.C_] == max(svm.cv_scores_.values())
    seen.clear()
    fixed = LinearSVMClassifier(C=0.5, random_state=0).fit(digits.x_train, digits.y_train)
    assert fixed.C_ == 0.5 and fixed.cv_scores_ == {} and len(seen) == 1


def test_svm_c_search_stops_once_accuracy_falls(digits):
    full = LinearSVMClassifier(cv_patience=None, cv_extend=0, cv_max_samples=600, random_state=0).fit(
        digits.x_train, digits.y_train)
    early = LinearSVMClassifier(cv_patience=1, cv_extend=0, cv_max_samples=600, random_state=0).fit(
        digits.x_train, digits.y_train)
    tried = sorted(early.cv_scores_)
    assert tried == sorted(DEFAULT_CS)[:len(tried)]  # a prefix of the ascending grid
    for c in tried:  # the same folds, so the same scores
        assert early.cv_scores_[c] == full.cv_scores_[c]
    scores = [full.cv_scores_[c] for c in sorted(DEFAULT_CS)]
    first_fall = next((i for i in range(1, len(scores)) if scores[i] < max(scores[:i])), None)
    assert len(tried) == (len(scores) if first_fall is None else first_fall + 1)
    assert early.C_ == max(tried, key=lambda c: (early.cv_scores_[c], -c))


def test_svm_c_search_goes_below_the_grid_while_its_smallest_c_is_best(digits):
    grid = (100.0, 1000.0)  # far above what digits needs: the smallest is best, the search goes lower
    svm = LinearSVMClassifier(Cs=grid, cv_patience=None, cv_extend=2, cv_max_samples=600, random_state=0).fit(
        digits.x_train, digits.y_train)
    below = sorted((c for c in svm.cv_scores_ if c < min(grid)), reverse=True)
    assert below and below == [100.0 / 10 ** k for k in range(1, len(below) + 1)]  # decades, in order
    for k, c in enumerate(below):  # each step was taken only while the smallest C so far was best
        tried = {c2: s for c2, s in svm.cv_scores_.items() if c2 > c}
        assert tried[min(tried)] == max(tried.values())
    best = max(svm.cv_scores_.values())
    assert svm.C_ == min(c for c, s in svm.cv_scores_.items() if s == best)
    none = LinearSVMClassifier(Cs=grid, cv_patience=None, cv_extend=0, cv_max_samples=600, random_state=0).fit(
        digits.x_train, digits.y_train)
    assert set(none.cv_scores_) == set(grid)


def test_svm_matches_liblinear_on_a_fixed_c(digits01):
    X = digits01.x_train.reshape(len(digits01.x_train), -1).numpy().astype(np.float64)
    y = digits01.y_train.numpy()
    ours = LinearSVMClassifier(C=0.1, tol=1e-8, random_state=0).fit(X, y)
    ref = LinearSVC(C=0.1, dual=False, tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.coef_[0, 0], ref.coef_[0], atol=1e-4 * np.abs(ref.coef_).max())
    Xt = digits01.x_test.reshape(len(digits01.x_test), -1).numpy().astype(np.float64)
    assert (ours.predict(Xt) == ref.predict(Xt)).mean() >= 0.99


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("make", [LinearSVMClassifier, MLPClassifier])
def test_bad_inputs_raise(make, digits01):
    X, y = digits01.x_train.clone(), digits01.y_train
    with pytest.raises(ValueError, match="NaN"):
        X[0, 0, 0, 0] = float("nan")
        make().fit(X, y)
    X = digits01.x_train
    with pytest.raises(ValueError, match="one class"):
        make().fit(X, torch.zeros_like(y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make().fit(X, y[:-1])
    with pytest.raises(ValueError, match="n_votes"):
        make(n_votes=0).fit(X, y)
    fitted = make(random_state=0, **({"epochs": 1} if make is MLPClassifier else {})).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :, :4])


@pytest.mark.parametrize("make, kwargs, name", [
    (LinearSVMClassifier, {"C": 0}, "C"), (LinearSVMClassifier, {"Cs": ()}, "Cs"),
    (LinearSVMClassifier, {"cv": 0}, "cv"), (LinearSVMClassifier, {"cv_extend": -1}, "cv_extend"), (MLPClassifier, {"epochs": 0}, "epochs"),
    (MLPClassifier, {"lr": -1.0}, "lr"), (MLPClassifier, {"momentum": 1.0}, "momentum"),
    (MLPClassifier, {"multiclass": "ovo"}, "multiclass"), (MLPClassifier, {"device": "gpu9"}, "device"),
])
def test_bad_parameters_raise(make, kwargs, name, digits01):
    with pytest.raises(ValueError, match=name):
        make(**kwargs).fit(digits01.x_train, digits01.y_train)


def test_predict_interface_on_estimators(digits):
    svm = LinearSVMClassifier(n_votes=3, random_state=0).fit(digits.x_train, digits.y_train)
    assert accuracy(svm, digits.x_test, digits.y_test) == pytest.approx(svm.score(digits.x_test, digits.y_test))
    assert accuracy(svm.as_module("cpu"), digits.x_test, digits.y_test) == pytest.approx(
        svm.score(digits.x_test, digits.y_test))


def test_vote_fractions_are_plain_fractions(digits01, digits):
    svm = LinearSVMClassifier(C=0.01, n_votes=5, random_state=0).fit(digits01.x_train, digits01.y_train)
    X = digits01.x_test.reshape(len(digits01.x_test), -1).numpy().astype(np.float64)
    margins = np.einsum("nd,pvd->npv", X, svm.coef_) + svm.intercept_
    np.testing.assert_allclose(svm.vote_fractions(digits01.x_test), (margins[:, 0] > 0).mean(1))
    m = MLPClassifier(epochs=2, n_votes=4, random_state=0).fit(digits.x_train, digits.y_train)
    f = m.vote_fractions(digits.x_test)
    assert f.shape == (len(digits.x_test), 10) and set(np.unique(f * 4)) <= {0, 1, 2, 3, 4}
