"""scikit-learn's estimator checks on every trainer: the 01-loss models (SCD01,
MLP01) and the convex baselines (linear SVM, MLP, MLP400).

Reduced settings (3 votes so the vote path runs; few iterations, 5 hidden nodes for
MLP01; for the MLPs a larger step and 50 epochs on the checks' tiny blobs) keep the
~55 checks, most of which fit on tiny data, to a few seconds each; the defaults run
the same code.

Skipped checks, with the reason:
- check_array_api_input: skipped by scikit-learn itself unless SCIPY_ARRAY_API is
  set; the estimators take numpy arrays and torch tensors, not array-API arrays.
- checks about sample_weight / class_weight are not run by scikit-learn for
  estimators whose fit takes neither (ours do not).
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import check_estimator

from zerolib.models import LinearSVMClassifier, MLP400Classifier, MLPClassifier
from zerolib.models.scd import MLP01Classifier, SCD01Classifier

EXPECTED_SKIPS = {"check_array_api_input"}


@pytest.mark.parametrize(
    "est",
    [
        SCD01Classifier(n_votes=3, n_iter=30, device="cpu"),
        MLP01Classifier(n_votes=3, n_iter=30, hidden=5, device="cpu"),
        LinearSVMClassifier(n_votes=3, random_state=0, device="cpu"),
        MLPClassifier(n_votes=3, epochs=50, lr=0.1, random_state=0, device="cpu"),
        MLP400Classifier(hidden=20, n_votes=3, epochs=50, lr=0.1, random_state=0, device="cpu"),
    ],
    ids=["SCD01", "MLP01", "LinearSVM", "MLP", "MLP400"],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_check_estimator(est):
    results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], repr(r["exception"])) for r in results if r["status"] == "failed"]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed, failed
    assert skipped <= EXPECTED_SKIPS, skipped
    assert len(results) >= 50
