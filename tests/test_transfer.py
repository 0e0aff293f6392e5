"""The transfer table (paper A, Table III) and the model suite behind it, on digits 0 vs 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from zerolib import load_dataset
from zerolib.experiments.common import model_suite as suite
from zerolib.attacks import FGSM, MLP01HiddenNodeAttack, SignAttack
from zerolib.experiments.common.cache import ModelCache, cache_key
from zerolib.models import accuracy
from zerolib.experiments.common.transfer import eps_sweep, paper_attack, transfer_cell, transfer_table

pytestmark = pytest.mark.usefixtures("one_thread")

SETTINGS = {"SVM": {"C": 0.1}, "SCD01": {"n_iter": 60}, "MLP": {"epochs": 40}, "MLP01": {"n_iter": 60}}


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", classes=[0, 1])


@pytest.fixture(scope="module")
def models(data, tmp_path_factory, one_thread):
    cache = ModelCache(tmp_path_factory.mktemp("models"))
    return suite.fit_models(suite.MODEL_NAMES, SETTINGS, 0, 1, {"dataset": "digits", "classes": [0, 1]},
                            data.x_train, data.y_train, device="cpu", cache=cache)


def test_paper_attack_picks_each_models_attack(models):
    kinds = {name: type(paper_attack(m, 0.1)) for name, m in models.items()}
    assert kinds == {"SVM": SignAttack, "SCD01": SignAttack, "MLP": FGSM, "MLP01": MLP01HiddenNodeAttack}


@pytest.mark.parametrize("name", ["SVM", "SCD01"])
def test_linear_model_under_its_own_sign_attack_at_large_eps_is_always_wrong(models, data, name):
    # eps = 1 moves every pixel to the far end: w.x' is then the extreme value of w.x over
    # the unit cube on the wrong side, so a linear model misclassifies every point
    model = models[name]
    table = transfer_table({name: paper_attack(model, 1.0)}, {name: model}, data.x_test, data.y_test)
    assert table.loc[name, name] == 0.0
    assert table.loc["clean", name] > 95


def test_a_target_equal_to_the_source_gives_the_diagonal(models, data):
    attacks = {n: paper_attack(m, 0.2) for n, m in models.items()}
    twins = {f"{n} again": m for n, m in models.items()}
    table = transfer_table(attacks, {**models, **twins}, data.x_test, data.y_test)
    for n in models:
        assert table.loc[n, f"{n} again"] == table.loc[n, n]
    assert list(table.index) == ["clean"] + list(models)


def test_one_call_equals_cell_by_cell(models, data):
    attacks = {n: paper_attack(m, 0.2, seed=3) for n, m in models.items()}
    table = transfer_table(attacks, models, data.x_test, data.y_test)
    for s in ["clean"] + list(models):
        for t, target in models.items():
            cell = transfer_cell(None if s == "clean" else paper_attack(models[s], 0.2, seed=3), target,
                                 data.x_test, data.y_test)
            assert cell == table.loc[s, t]


def test_clean_row_is_plain_accuracy(models, data):
    table = transfer_table({}, models, data.x_test, data.y_test)
    for n, m in models.items():
        assert table.loc["clean", n] == pytest.approx(100 * accuracy(m, data.x_test, data.y_test))


def test_eps_sweep_at_zero_is_clean_and_matches_the_table(models, data):
    sweep = eps_sweep(models, models, data.x_test, data.y_test, [0.0, 0.2], seed=0)
    assert set(sweep.columns) == {"eps", "source", "target", "accuracy"}
    clean = transfer_table({}, models, data.x_test, data.y_test).loc["clean"]
    at0 = sweep[sweep.eps == 0.0]
    for r in at0.itertuples():
        assert r.accuracy == clean[r.target]
    table = transfer_table({n: paper_attack(m, 0.2, seed=0) for n, m in models.items()}, models,
                           data.x_test, data.y_test)
    for r in sweep[sweep.eps == 0.2].itertuples():
        assert r.accuracy == table.loc[r.source, r.target]


def test_the_clean_row_name_is_reserved_and_labels_checked(models, data):
    with pytest.raises(ValueError, match="clean"):
        transfer_table({"clean": paper_attack(models["SVM"], 0.1)}, models, data.x_test, data.y_test)
    with pytest.raises(ValueError, match="shape"):
        transfer_table({}, models, data.x_test, data.y_test[:-1])
    with pytest.raises(ValueError, match="target"):
        transfer_table({}, {}, data.x_test, data.y_test)


def test_paper_attacks_refuse_multiclass_models():
    d = load_dataset("digits", classes=[0, 1, 2], flatten=True)
    m = suite.make_estimator("SCD01", SETTINGS, 0, 1, "cpu").fit(d.x_train, d.y_train)
    with pytest.raises(ValueError, match="binary"):
        paper_attack(m, 0.1)


# ------------------------------------------------------------------ the suite
def test_single_01_loss_run_is_vote_zero_of_the_ensemble(data, tmp_path):
    cache = ModelCache(tmp_path)
    key = {"dataset": "digits", "classes": [0, 1]}
    single = suite.fit_models(["SCD01"], SETTINGS, 5, 4, key, data.x_train, data.y_train, device="cpu",
                              cache=cache)["SCD01"]
    alone = suite.make_estimator("SCD01", SETTINGS, 5, 1, "cpu").fit(data.x_train, data.y_train)
    np.testing.assert_array_equal(single.coef_, alone.coef_)
    np.testing.assert_array_equal(single.intercept_, alone.intercept_)


def test_make_estimator_rejects_what_the_study_sets():
    with pytest.raises(ValueError, match="n_votes"):
        suite.make_estimator("SVM", {"SVM": {"n_votes": 3}}, 0, 1)
    with pytest.raises(ValueError, match="unknown model"):
        suite.make_estimator("CNN", {}, 0, 1)
    with pytest.raises(ValueError, match="settings for MLP"):
        suite.make_estimator("MLP", {"MLP": {"epoch": 3}}, 0, 1)


def test_clean_accuracy_long_form(tmp_path):
    d = load_dataset("digits", classes=[0, 1, 2], flatten=True)
    long = suite.clean_accuracy(d, {"dataset": "digits", "classes": [0, 1, 2]}, SETTINGS, 3, [0, 1],
                                device="cpu", cache=ModelCache(tmp_path), progress=False)
    assert len(long) == 2 * 4 * 2 and set(long.kind) == {"single", "votes"}
    assert long.accuracy.between(0, 100).all()
    # the SCD01 ensemble's score is the cached model's own score
    m = ModelCache(tmp_path).get(cache_key(suite.make_estimator("SCD01", SETTINGS, 1, 3, "cpu"),
                                           {"dataset": "digits", "classes": [0, 1, 2]}))
    assert m is not None
    row = long[(long.seed == 1) & (long.model == "SCD01") & (long.kind == "votes")].accuracy.item()
    assert row == pytest.approx(100 * m.score(d.x_test, d.y_test))
