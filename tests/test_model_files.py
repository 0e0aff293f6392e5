"""Model files are checked on load: a tampered weight file or config is a clear error naming the
file and the fault, and a cache entry that fails its check is retrained with a warning naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from zerolib import load_dataset
from zerolib.experiments.common.cache import CacheEntryWarning, ModelCache
from zerolib.models.scd import SCD01Classifier
from zerolib.models.votes import load


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = load_dataset("digits", seed=0)
    model = SCD01Classifier(n_votes=2, n_iter=5, random_state=0, device="cpu").fit(d.x_train, d.y_train)
    return model, d


def _copy(model, tmp_path: Path, weights=None, config=None) -> Path:
    folder = model.save(tmp_path / "m")
    if weights is not None:
        t = load_file(str(folder / "weights.safetensors"))
        weights(t)
        save_file(t, str(folder / "weights.safetensors"))
    if config is not None:
        cfg = json.loads((folder / "config.json").read_text())
        config(cfg)
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.mark.parametrize("fault, message", [
    (lambda t: t.__setitem__("coef_", torch.full_like(t["coef_"], float("nan"))), "coef_ holds NaN"),
    (lambda t: t.__setitem__("coef_", t["coef_"].to(torch.int64)), "coef_ has dtype int64"),
    (lambda t: t.update(coef_=t["coef_"][:3].contiguous(), intercept_=t["intercept_"][:3].contiguous(),
                        best_iter_=t["best_iter_"][:3].contiguous(), train_accuracy_=t["train_accuracy_"][:3].contiguous()),
     "first axis must be the 10 class problem"),
    (lambda t: t.__setitem__("coef_", t["coef_"][:, :, :10].contiguous()), "features"),
])
def test_tampered_weights_are_refused_by_name(saved, tmp_path, fault, message):
    model, _ = saved
    folder = _copy(model, tmp_path, weights=fault)
    with pytest.raises(ValueError, match=message) as err:
        load(folder)
    assert str(folder) in str(err.value)


def test_tampered_configs_are_refused_by_name(saved, tmp_path):
    model, _ = saved
    folder = _copy(model, tmp_path, config=lambda c: c["fitted"].update(predict="boom"))
    with pytest.raises(ValueError, match=r"'fitted' names \['predict'\]"):
        load(folder)
    folder = _copy(model, tmp_path, config=lambda c: c.pop("n_features_in"))
    with pytest.raises(ValueError, match=r"config.json lacks \['n_features_in'\]"):
        load(folder)
    folder = _copy(model, tmp_path, config=lambda c: c["params"].update(bogus=1))
    with pytest.raises(ValueError, match=r"unknown parameters \['bogus'\]"):
        load(folder)
    folder = _copy(model, tmp_path)
    (folder / "weights.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load(folder)


@pytest.mark.parametrize("tamper", ["intercept", "truncate"])
def test_a_cache_entry_that_fails_its_check_is_retrained_with_a_warning(saved, tmp_path, tamper):
    model, d = saved
    cache = ModelCache(tmp_path / "cache")
    est = SCD01Classifier(n_votes=2, n_iter=5, random_state=0, device="cpu")
    data = {"dataset": "digits"}
    first = cache.fit(est, data, d.x_train, d.y_train)
    folder = next(p for p in (tmp_path / "cache").iterdir() if p.name.startswith("SCD01"))
    weights = folder / "weights.safetensors"
    if tamper == "intercept":  # still a valid file: only the recorded digest tells
        t = load_file(str(weights))
        t["intercept_"] = torch.full_like(t["intercept_"], 1e6)
        save_file(t, str(weights))
    else:
        weights.write_bytes(weights.read_bytes()[:100])
    with pytest.warns(CacheEntryWarning, match=str(folder.name)):
        again = ModelCache(tmp_path / "cache").fit(est, data, d.x_train, d.y_train)
    assert np.array_equal(again.coef_, first.coef_) and np.array_equal(again.intercept_, first.intercept_)
    assert np.array_equal(again.predict(d.x_test), first.predict(d.x_test))
