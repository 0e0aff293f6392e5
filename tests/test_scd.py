"""SCD01 / MLP01: optimisation quality, determinism, API, save/load, bad input.

The threshold-search kernels are checked against brute force in test_scd_kernels.py
and scikit-learn's estimator checks run in test_scd_sklearn.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zerolib.models.exact import min01_line
from zerolib.models.scd import MLP01Classifier, SCD01Classifier, VoteModule, load

CPU = dict(device="cpu")


def outlier_set(seed: int, n: int = 40, n_out: int = 3):
    """Two overlapping Gaussian classes of n/2 points, n_out of each far on the wrong side.

    Equal class sizes make balanced accuracy equal to accuracy, so the trainer's
    objective is the plain 01 loss at every phase.
    """
    rng = np.random.default_rng(seed)
    h = n // 2
    X0 = rng.normal([-1.0, 0.0], 0.8, (h, 2))
    X1 = rng.normal([1.0, 0.5], 0.8, (h, 2))
    X0[:n_out] = rng.normal([4.0, 2.0], 0.5, (n_out, 2))
    X1[:n_out] = rng.normal([-4.0, -2.0], 0.5, (n_out, 2))
    return np.vstack([X0, X1]), np.r_[np.zeros(h, int), np.ones(h, int)]


def xor_set(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    lab = np.array([0, 0, 1, 1])
    k = rng.integers(0, 4, n)
    return centers[k] + rng.normal(0, 0.12, (n, 2)), lab[k]


@pytest.fixture(scope="module")
def small():
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 30, n_informative=10, n_classes=3, random_state=0)
    return X.astype(np.float32), y


# ----------------------------------------------------------------------------- quality


def test_scd01_reaches_exact_minimum_on_2d_sets_with_outliers():
    """Over 40 seeds (1 and 2 threads, AMD EPYC) the best vote came within one error
    of the exact minimum on 40 and the 8-vote majority on 37: a majority of good
    votes can still err where they disagree. The bounds below leave that spread
    room on 20 seeds (expected 20 and 18.5)."""
    hits, best_hits, rows = 0, 0, []
    for seed in range(20):
        X, y = outlier_set(seed)
        exact = min01_line(X, y)
        est = SCD01Classifier(n_votes=8, n_iter=200, random_state=seed, **CPU).fit(X, y)
        err = int((est.predict(X) != y).sum())
        W, b = est.coef_[0], est.intercept_[0]
        vote_err = ((X @ W.T + b > 0) != y[:, None]).sum(0)
        # the trainer's own record of each vote's training accuracy is the real one
        np.testing.assert_allclose(est.train_accuracy_[0], 1 - vote_err / len(y))
        assert vote_err.min() >= exact.errors, "a line beat the exact minimum: solver or predictions wrong"
        hits += err <= exact.errors + 1
        best_hits += vote_err.min() <= exact.errors + 1
        rows.append((seed, exact.errors, err, sorted(vote_err.tolist())))
    assert best_hits >= 18, rows
    assert hits >= 15, rows


def test_mlp01_fits_xor_that_no_line_separates():
    X, y = xor_set()
    exact = min01_line(X, y)
    assert exact.errors >= 0.2 * len(y)  # no line does better than 80 %
    est = MLP01Classifier(n_votes=4, n_iter=150, hidden=20, random_state=0, **CPU).fit(X, y)
    assert est.score(X, y) >= 0.95
    Xt, yt = xor_set(1)
    assert est.score(Xt, yt) >= 0.9


def test_balanced_phase_keeps_the_minority_class():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (950, 2)), rng.normal(1.5, 1, (50, 2))])
    y = np.r_[np.zeros(950, int), np.ones(50, int)]
    for E in (SCD01Classifier, MLP01Classifier):
        est = E(n_votes=4, n_iter=100, random_state=0, **CPU).fit(X, y)
        recall = (est.predict(X[y == 1]) == 1).mean()
        assert recall >= 0.5, (E.__name__, recall)


def test_digits_one_vs_all_close_to_linear_svm():
    from sklearn.svm import LinearSVC

    from zerolib.data import load_dataset

    ds = load_dataset("digits", seed=0, flatten=True)
    Xtr, ytr, Xte, yte = (t.numpy() for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))
    svm = LinearSVC(C=1.0).fit(Xtr, ytr).score(Xte, yte)
    est = SCD01Classifier(n_votes=32, n_iter=25, random_state=0, **CPU).fit(Xtr, ytr)
    assert est.coef_.shape == (10, 32, 64)
    acc = est.score(Xte, yte)
    assert acc >= svm - 0.05, (acc, svm)


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
@pytest.mark.parametrize("multiclass", [False, True])
def test_batched_votes_equal_votes_trained_one_at_a_time(small, E, multiclass):
    X, y = small
    y = y if multiclass else y % 2
    kw = dict(n_votes=4, n_iter=30, random_state=5, **CPU)
    if E is MLP01Classifier:
        kw["hidden"] = 6
    est = E(**kw).fit(X, y)
    for v in range(4):
        one = E(**kw)._fit(X, y, votes=[v])
        alone = est.take_votes([v])  # the single run that is vote v of the ensemble
        for name in est._vote_arrays:
            a = getattr(est, name)[:, v]
            b = getattr(one, name)[:, 0]
            assert np.array_equal(a, b), (name, v)
            assert np.array_equal(getattr(alone, name), getattr(one, name)), (name, v)
        assert alone.n_votes_ == 1 and np.array_equal(alone.predict(X), one.predict(X))


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
def test_same_seed_same_model_different_seeds_different_votes(small, E):
    X, y = small
    kw = dict(n_votes=3, n_iter=20, **CPU)
    a = E(random_state=1, **kw).fit(X, y)
    b = E(random_state=1, **kw).fit(X, y)
    c = E(random_state=2, **kw).fit(X, y)
    for name in a._vote_arrays:
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.coef_, c.coef_)
    # votes of one fit are different models (independent streams)
    for p in range(a.coef_.shape[0]):
        for v in range(1, 3):
            assert not np.array_equal(a.coef_[p, 0], a.coef_[p, v])
    assert np.array_equal(a.predict(X), b.predict(X))


def test_tensor_input_any_shape_equals_flat_numpy():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data[:400] / 16).astype(np.float32)
    y = d.target[:400] % 2
    flat = SCD01Classifier(n_votes=2, n_iter=15, random_state=0, **CPU).fit(X, y)
    img = torch.from_numpy(X).reshape(-1, 1, 8, 8)
    est = SCD01Classifier(n_votes=2, n_iter=15, random_state=0, **CPU).fit(img, torch.from_numpy(y))
    assert est.input_shape_ == (1, 8, 8)
    assert np.array_equal(est.coef_, flat.coef_)
    assert np.array_equal(est.predict(img), flat.predict(X))
    X4 = X.reshape(-1, 1, 8, 8)
    assert np.array_equal(est.predict(X4), flat.predict(X))


# ----------------------------------------------------------------------------- API


def vote_rule(outputs: np.ndarray) -> np.ndarray:
    """Independent confidences (n, K) from pre-threshold outputs (n, P, V):
    votes + sigmoid(mean output), binary classes_[0] taking the rest and -mean."""
    counts, mean = (outputs > 0).sum(2).astype(float), outputs.astype(np.float64).mean(2)
    if outputs.shape[1] == 1:
        counts = np.c_[outputs.shape[2] - counts, counts]
        mean = np.c_[-mean, mean]
    return counts + 1 / (1 + np.exp(-mean))


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
def test_predict_proba_and_decision_agree_with_predict(small, E):
    X, y = small
    est = E(n_votes=4, n_iter=20, random_state=0, **CPU).fit(X, y)  # 3 classes: one-vs-all
    frac = est.vote_fractions(X)
    assert frac.shape == (len(X), 3)
    assert set(np.unique(frac * 4)) <= {0, 1, 2, 3, 4}
    proba, pred = est.predict_proba(X), est.predict(X)
    assert np.allclose(proba.sum(1), 1)
    assert np.array_equal(est.classes_[proba.argmax(1)], pred)
    assert np.array_equal(est.classes_[est.decision_function(X).argmax(1)], pred)
    # the most votes always win; the tie-break never outweighs a vote
    assert np.all(frac[np.arange(len(X)), np.searchsorted(est.classes_, pred)] == frac.max(1))
    yb = np.where(y % 2 == 1, "b", "a")
    est = E(n_votes=4, n_iter=20, random_state=0, **CPU).fit(X, yb)
    f, proba, pred = est.vote_fractions(X), est.predict_proba(X), est.predict(X)
    assert np.allclose(proba.sum(1), 1)
    assert np.array_equal(est.classes_[proba.argmax(1)], pred)
    assert np.array_equal(np.where(est.decision_function(X) > 0, "b", "a"), pred)
    assert np.all(pred[f > 0.5] == "b") and np.all(pred[f < 0.5] == "a")


def test_tied_binary_votes_go_to_the_larger_mean_margin():
    X = np.array([[2.0, -1.0], [1.0, -3.0], [-1.0, 3.0], [-2.0, 0.5], [3.0, 1.0], [-1.0, -1.0]])
    est = SCD01Classifier(n_votes=2, n_iter=2, random_state=0, **CPU).fit(X, np.array([0, 1, 0, 1, 0, 1]) + 3)
    est.coef_ = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)  # votes on x0 > 0 and on x1 > 0
    est.intercept_ = np.zeros((1, 2), dtype=np.float32)
    margins = (X @ est.coef_[0].T + est.intercept_[0])[:, None, :]
    conf = vote_rule(margins)
    assert np.array_equal(est.vote_fractions(X), [0.5, 0.5, 0.5, 0.5, 1.0, 0.0])  # four ties
    assert np.array_equal(est.predict(X), [4, 3, 4, 3, 4, 3])  # ties: sign of x0 + x1
    assert np.array_equal(est.predict(X), est.classes_[conf.argmax(1)])
    np.testing.assert_allclose(est.predict_proba(X), conf / 3)
    np.testing.assert_allclose(est.decision_function(X), (conf[:, 1] - conf[:, 0]) / 3)
    mod = est.as_module()
    xt = torch.from_numpy(X).float()
    assert np.array_equal(mod.predict(xt).numpy(), conf.argmax(1))
    assert np.array_equal(mod.counts(xt).numpy(), [[1, 1]] * 4 + [[0, 2], [2, 0]])  # plain counts


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
def test_single_vote_one_vs_all_is_argmax_of_outputs(E):
    from zerolib.data import load_dataset

    ds = load_dataset("digits", seed=0, flatten=True)
    X, y = ds.x_train.numpy()[:600], ds.y_train.numpy()[:600]
    est = E(n_votes=1, n_iter=20, random_state=0, **CPU).fit(X, y)
    if E is SCD01Classifier:
        out = X @ est.coef_[:, 0].T + est.intercept_[:, 0]  # (n, 10)
    else:
        h = (np.einsum("nd,pdh->nph", X, est.hidden_coef_[:, 0]) + est.hidden_intercept_[:, 0]) > 0
        out = (h * est.coef_[:, 0]).sum(-1) + est.intercept_[:, 0]
    n_yes = (out > 0).sum(1)
    assert (n_yes != 1).sum() >= 10  # ties (several or no classes claim a point) do occur
    pred = est.predict(X)
    assert np.array_equal(pred, est.classes_[out.argmax(1)])
    assert np.array_equal(est.classes_[est.predict_proba(X).argmax(1)], pred)
    conf = vote_rule(out[:, :, None])
    np.testing.assert_allclose(est.predict_proba(X), conf / conf.sum(1, keepdims=True), rtol=1e-5)
    assert np.array_equal(est.classes_[est.as_module().predict(torch.from_numpy(X)).numpy()], pred)


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
def test_as_module_counts_votes_on_weights_in_input_order(small, E):
    X, y = small
    est = E(n_votes=5, n_iter=20, random_state=0, **CPU).fit(X, y)
    mod = est.as_module()
    assert isinstance(mod, VoteModule)
    xt = torch.from_numpy(X)
    counts = mod.counts(xt)
    assert counts.shape == (len(X), 3)
    assert torch.allclose(counts / 5, torch.from_numpy(est.vote_fractions(X)).float())
    assert np.array_equal(est.classes_[mod.predict(xt).numpy()], est.predict(X))
    # per-vote weights, recomputed by hand in the input's feature order
    if E is SCD01Classifier:
        s = X @ est.coef_[1].T + est.intercept_[1]
    else:
        h = (np.einsum("nd,vdh->nvh", X, est.hidden_coef_[1]) + est.hidden_intercept_[1]) > 0
        s = (h * est.coef_[1]).sum(-1) + est.intercept_[1]
    assert np.array_equal((s > 0).sum(1), counts[:, 1].numpy().astype(int))
    # binary: [votes for classes_[0], votes for classes_[1]]
    est = E(n_votes=5, n_iter=20, random_state=0, **CPU).fit(X, y % 2)
    c = est.as_module().counts(xt)
    assert c.shape == (len(X), 2) and torch.all(c.sum(1) == 5)
    if E is SCD01Classifier:
        assert est.coef_.shape == (1, 5, X.shape[1])
        assert np.allclose(np.linalg.norm(est.coef_, axis=-1), 1, atol=1e-5)
    else:
        assert est.hidden_coef_.shape == (1, 5, X.shape[1], 20)
        assert np.allclose(np.linalg.norm(est.hidden_coef_, axis=2), 1, atol=1e-5)


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
def test_best_iterate_is_kept_on_training_data(small, E):
    X, y = small
    est = E(n_votes=3, n_iter=40, random_state=0, **CPU).fit(X, y % 2)
    assert est.history_.shape == (40, 2)
    # the recorded training accuracy of each kept vote is that of its weights
    assert (est.best_iter_ >= 0).all() and (est.best_iter_ < 40).all()
    acc = est.train_accuracy_[0]
    mod = est.as_module()
    votes = (mod.votes(torch.from_numpy(X))[:, 0, :] > 0).numpy()
    np.testing.assert_allclose((votes == (y % 2 == 1)[:, None]).mean(0), acc, atol=1.5 / len(y))


# ----------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
@pytest.mark.parametrize("labels", ["int", "str"])
def test_save_load_round_trip(tmp_path, small, E, labels):
    X, y = small
    y = y if labels == "int" else np.array(["cat", "dog", "emu"])[y]
    est = E(n_votes=3, n_iter=15, random_state=0, **CPU).fit(X, y)
    path = est.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["class"] == E.__name__ and cfg["params"]["n_votes"] == 3
    back = load(path)
    assert type(back) is E
    assert back.get_params() == est.get_params()
    assert np.array_equal(back.classes_, est.classes_)
    assert np.array_equal(back.predict(X), est.predict(X))
    assert np.array_equal(back.predict_proba(X), est.predict_proba(X))
    assert np.array_equal(back.decision_function(X), est.decision_function(X))
    for name in est._vote_arrays + est._other_arrays:
        assert np.array_equal(getattr(back, name), getattr(est, name))
    assert np.array_equal(E.load(path).predict(X), est.predict(X))
    other = SCD01Classifier if E is MLP01Classifier else MLP01Classifier
    with pytest.raises(ValueError, match="holds a"):
        other.load(path)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "param, value, word",
    [
        ("n_votes", 0, "n_votes"),
        ("n_votes", 2.5, "n_votes"),
        ("n_iter", 0, "n_iter"),
        ("batch_fraction", 0.0, "batch_fraction"),
        ("batch_fraction", 1.5, "batch_fraction"),
        ("n_candidates", 0, "n_candidates"),
        ("step", 0.0, "step"),
        ("step", -0.1, "step"),
        ("window", -1, "window"),
        ("balanced_fraction", 1.5, "balanced_fraction"),
        ("device", "tpu", "device"),
    ],
)
def test_bad_parameters_raise(small, param, value, word):
    X, y = small
    with pytest.raises(ValueError, match=word):
        SCD01Classifier(**{param: value}).fit(X, y)


@pytest.mark.parametrize(
    "param, value", [("hidden", 0), ("step_hidden", 0.0), ("step_output", -1.0), ("n_votes", -3)]
)
def test_bad_mlp_parameters_raise(small, param, value):
    X, y = small
    with pytest.raises(ValueError, match=param):
        MLP01Classifier(**{param: value}).fit(X, y)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_bad_data_raises(small, as_tensor):
    X, y = small
    conv = torch.from_numpy if as_tensor else (lambda a: a)
    est = SCD01Classifier(n_votes=1, n_iter=2, **CPU)
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[3, 4] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            est.fit(conv(Xb), y)
    with pytest.raises(ValueError, match="one class"):
        est.fit(conv(X), np.zeros(len(X), int))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(conv(X), y[:-1])
    with pytest.raises(ValueError):
        est.fit(conv(X[:, 0]), y)  # 1D X
    est.fit(conv(X), y)
    with pytest.raises(ValueError, match="features"):
        est.predict(conv(X[:, :5]))
    with pytest.raises(ValueError, match="NaN|infinity"):
        Xb = X.copy()
        Xb[0, 0] = np.nan
        est.predict(conv(Xb))


def test_unfitted_model_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SCD01Classifier().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        MLP01Classifier().as_module()


# ----------------------------------------------------------------------------- CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("E", [SCD01Classifier, MLP01Classifier])
def test_cuda_same_seed_same_model_and_close_to_cpu(small, E):
    X, y = small
    kw = dict(n_votes=4, n_iter=30, random_state=3)
    a = E(device="cuda", **kw).fit(X, y)
    b = E(device="cuda", **kw).fit(torch.from_numpy(X).cuda(), torch.from_numpy(y))
    for name in a._vote_arrays:
        assert np.array_equal(getattr(a, name), getattr(b, name))
    c = E(device="cpu", **kw).fit(X, y)
    # same random draws; only matmul rounding differs between devices
    assert abs(a.score(X, y) - c.score(X, y)) <= 0.1
    mod = a.as_module().cuda()
    xc = torch.from_numpy(X).cuda()
    assert mod(xc).is_cuda
    assert np.array_equal(a.classes_[mod.predict(xc).cpu().numpy()], a.predict(X))
    assert np.array_equal(a.predict(xc), a.predict(X))
