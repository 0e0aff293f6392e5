"""Bad input gets a clear error naming the problem: empty data, absurd sizes, unbatched images,
labels outside the model's classes, classes with no rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zerolib import load_dataset
from zerolib.attacks import PGD, HopSkipJump
from zerolib.data import _check_every_class
from zerolib.models import LinearSVMClassifier, MLPClassifier, make_model, predict
from zerolib.models.scd import MLP01Classifier, SCD01Classifier


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", classes=[0, 1], seed=0)


@pytest.mark.parametrize("cls", [SCD01Classifier, MLP01Classifier, LinearSVMClassifier, MLPClassifier])
def test_fit_on_an_empty_tensor_is_a_clear_error(cls):
    with pytest.raises(ValueError, match="at least 1 sample"):
        cls().fit(torch.zeros(0, 64), torch.zeros(0))


def test_a_fit_that_cannot_fit_in_memory_is_refused_before_it_starts(digits):
    with pytest.raises(ValueError, match=r"n_votes=1000000000 .* needs at least .* GiB"):
        SCD01Classifier(n_votes=10**9, n_iter=1).fit(digits.x_train, digits.y_train)


def test_an_unbatched_image_says_to_add_the_batch_dimension(digits):
    net = make_model("lenet", (1, 8, 8), 2, seed=0)
    with pytest.raises(ValueError, match=r"add a batch dimension"):
        net(digits.x_test[0])
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        predict(net, digits.x_test[:2, :, :4])
    assert predict(net, digits.x_test[:3]).shape == (3,)
    mlp = make_model("substitute_mlp", (1, 8, 8), 2, seed=0)
    assert mlp(digits.x_test[:3].flatten(1)).shape == (3, 2)  # the MLP takes flat rows too


def test_label_only_attacks_check_labels_against_the_models_classes(digits):
    scd = SCD01Classifier(n_votes=1, n_iter=3, random_state=0).fit(digits.x_train, digits.y_train)
    y = digits.y_test[:3].clone()
    y[0] = 12
    for model in (scd, scd.as_module(), make_model("lenet", (1, 8, 8), 2, seed=0)):
        with pytest.raises(ValueError, match="labels < 2"):
            HopSkipJump(model, "L2", max_queries=20)(digits.x_test[:3], y)


def test_attacks_refuse_an_empty_batch(digits):
    net = make_model("lenet", (1, 8, 8), 2, seed=0)
    for atk in (PGD(net, 0.1), HopSkipJump(net, "L2")):
        with pytest.raises(ValueError, match="empty batch"):
            atk(digits.x_test[:0], digits.y_test[:0])


def test_a_class_without_rows_is_named():
    with pytest.warns(UserWarning, match=r"no image of class 0 after subsampling \(ask for more rows\)"):
        d = load_dataset("digits", classes=[0, 1], n_test=1, seed=0)
    assert len(d.x_test) == 1
    with pytest.raises(ValueError, match="test rows hold no image of class b"):
        _check_every_class(np.array([0, 0, 2]), ["a", "b", "c"], "test", "toy", error=True)
