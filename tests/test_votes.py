"""The one vote-ensemble layer: all five trainers share the vote rule, ``as_module``,
``take_votes`` and safetensors + JSON save/load (``zerolib.models.votes``), and one device rule
(``zerolib.torchutil``)."""

import json

import numpy as np
import pytest
import torch

from zerolib import LinearSVMClassifier, MLP01Classifier, MLP400Classifier, MLPClassifier, SCD01Classifier
from zerolib.data import load_dataset
from zerolib.torchutil import resolve_device
from zerolib.models.votes import VoteClassifier, VoteModule, load

pytestmark = pytest.mark.usefixtures("one_thread")

ESTIMATORS = {
    "SVM": lambda: LinearSVMClassifier(C=0.1, n_votes=3, random_state=0, device="cpu"),
    "SCD01": lambda: SCD01Classifier(n_votes=3, n_iter=20, random_state=0, device="cpu"),
    "MLP": lambda: MLPClassifier(n_votes=3, epochs=5, random_state=0, device="cpu"),
    "MLP01": lambda: MLP01Classifier(n_votes=3, n_iter=20, hidden=6, random_state=0, device="cpu"),
    "MLP400": lambda: MLP400Classifier(hidden=16, n_votes=3, epochs=5, random_state=0, device="cpu"),
}


@pytest.fixture(scope="module", params=[[0, 1], [0, 1, 2]], ids=["binary", "3 classes"])
def data(request):
    return load_dataset("digits", classes=request.param, flatten=True)


def rule(counts, tiebreak):
    """The vote rule written out in numpy: most votes, ties to the larger tie-break."""
    return np.array([max(range(counts.shape[1]), key=lambda k: (counts[i, k], tiebreak[i, k]))
                     for i in range(len(counts))])


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_trainer_predicts_through_its_vote_module(name, data):
    est = ESTIMATORS[name]().fit(data.x_train, data.y_train)
    module = est.as_module(device="cpu", dtype=torch.float64)
    assert isinstance(module, VoteModule)
    assert next(module.buffers()).dtype == torch.float64
    x = data.x_test
    counts, tiebreak = (t.numpy() for t in module._counts_tiebreak(x))
    assert np.array_equal(est.predict(x), est.classes_[rule(counts, tiebreak)])
    assert np.array_equal(module.predict(x).numpy(), rule(counts, tiebreak))
    k = len(est.classes_)
    assert module(x).shape == (len(x), k)
    np.testing.assert_allclose(est.vote_fractions(x), (counts / 3)[:, 1] if k == 2 else counts / 3)
    # the first vote alone: its own counts, and a model of one vote
    first = est.take_votes([0])
    assert first.n_votes_ == 1 and est.n_votes_ == 3
    c1, t1 = (t.numpy() for t in first.as_module(dtype=torch.float64)._counts_tiebreak(x))
    assert c1.sum(1).max() <= (1 if (k == 2 or name == "MLP400") else k)
    assert np.array_equal(first.predict(x), first.classes_[rule(c1, t1)])
    with pytest.raises(ValueError, match="votes must be indices"):
        est.take_votes([3])


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_save_load_round_trip_for_every_trainer(name, data, tmp_path):
    est = ESTIMATORS[name]().fit(data.x_train, data.y_train)
    path = est.save(tmp_path / name)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
    back = load(path)
    assert type(back) is type(est) and back.get_params() == est.get_params()
    x = data.x_test
    assert np.array_equal(back.predict(x), est.predict(x))
    for name, value in est._arrays().items():
        assert np.array_equal(back._arrays()[name], value), name
    # the same weights; BLAS may sum in another order for another buffer alignment
    np.testing.assert_allclose(back.predict_proba(x), est.predict_proba(x), rtol=1e-12)
    assert back.fit_time_ == est.fit_time_ > 0
    # a folder with a damaged config is refused with a clear error, not half-loaded
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**cfg, "format": "something/else"}))
    with pytest.raises(ValueError, match="unknown model format"):
        load(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        VoteClassifier.load(path)


def test_one_device_rule():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == resolve_device(None)
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
        for make in ESTIMATORS.values():
            with pytest.raises(ValueError, match="CUDA is not available"):
                make().set_params(device="cuda").fit(np.random.rand(20, 4), np.arange(20) % 2)
