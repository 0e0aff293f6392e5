"""The model cache: a complete entry is reused, anything else is retrained, never loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zerolib import SCD01Classifier, load_dataset
from zerolib.experiments.common.cache import ModelCache, cache_key, cache_root

pytestmark = pytest.mark.usefixtures("one_thread")

KEY = {"dataset": "digits", "classes": [0, 1]}


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", classes=[0, 1], flatten=True)


class CountingSCD(SCD01Classifier):
    fits = 0

    def fit(self, X, y):
        CountingSCD.fits += 1
        return super().fit(X, y)


def est(seed=0, n_iter=20):
    return CountingSCD(n_votes=2, n_iter=n_iter, random_state=seed, device="cpu")


def test_second_fit_is_a_hit_with_the_same_model(tmp_path, data):
    cache = ModelCache(tmp_path)
    CountingSCD.fits = 0
    a = cache.fit(est(), KEY, data.x_train, data.y_train)
    b = cache.fit(est(), KEY, lambda: pytest.fail("a hit must not load the data"))
    assert CountingSCD.fits == 1 and (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(data.x_test), b.predict(data.x_test))
    assert b.fit_time_ == a.fit_time_  # the original fit's time travels with the model


@pytest.mark.parametrize("change", ["seed", "params", "data"])
def test_a_different_key_is_a_miss(tmp_path, data, change):
    cache = ModelCache(tmp_path)
    cache.fit(est(), KEY, data.x_train, data.y_train)
    other = {"seed": (est(seed=1), KEY), "params": (est(n_iter=21), KEY),
             "data": (est(), dict(KEY, n_train=100))}[change]
    assert cache_key(*other) != cache_key(est(), KEY)
    cache.fit(*other, data.x_train, data.y_train)
    assert cache.misses == 2 and len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 2


def test_device_and_verbosity_are_not_part_of_the_key():
    a = SCD01Classifier(n_iter=5, random_state=0, device="cpu")
    b = SCD01Classifier(n_iter=5, random_state=0, device="auto", verbose=True)
    assert cache_key(a, KEY) == cache_key(b, KEY)


@pytest.mark.parametrize("damage", ["no_complete", "bad_weights", "bad_config", "other_key"])
def test_damaged_entries_are_retrained(tmp_path, data, damage):
    cache = ModelCache(tmp_path)
    first = cache.fit(est(), KEY, data.x_train, data.y_train)
    folder = cache.path(cache_key(est(), KEY))
    if damage == "no_complete":
        (folder / "COMPLETE").unlink()
    elif damage == "bad_weights":
        (folder / "weights.safetensors").write_bytes(b"not a safetensors file")
    elif damage == "bad_config":
        (folder / "config.json").write_text("{")
    else:
        (folder / "key.json").write_text(json.dumps({"class": "x"}))
    assert cache.get(cache_key(est(), KEY)) is None
    CountingSCD.fits = 0
    again = cache.fit(est(), KEY, data.x_train, data.y_train)
    assert CountingSCD.fits == 1
    np.testing.assert_array_equal(first.coef_, again.coef_)  # same seed, same model
    assert cache.get(cache_key(est(), KEY)) is not None  # and the entry is whole again


def test_no_pickle_in_an_entry(tmp_path, data):
    cache = ModelCache(tmp_path)
    cache.fit(est(), KEY, data.x_train, data.y_train)
    names = {p.name for p in next(p for p in tmp_path.iterdir() if not p.name.startswith(".")).iterdir()}
    assert names == {"weights.safetensors", "config.json", "key.json", "COMPLETE"}


def test_root_is_one_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("ZEROLIB_MODELS", str(tmp_path / "m"))
    assert cache_root() == tmp_path / "m"
    monkeypatch.delenv("ZEROLIB_MODELS")
    monkeypatch.setenv("ZEROLIB_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c" / "models"


def test_cache_key_names_the_resolved_device(monkeypatch):
    """A CPU and a CUDA fit of one seed draw different random numbers, so their keys differ;
    "auto" is keyed by the device it resolves to, never by the word."""
    import torch

    from zerolib.experiments.common import cache as cache_module

    data = {"dataset": "digits"}
    on_cpu = cache_module.cache_key(SCD01Classifier(n_iter=5, device="cpu"), data)
    assert on_cpu["params"]["device"] == "cpu"
    monkeypatch.setattr(cache_module, "resolve_device", lambda device: torch.device("cuda"))
    on_cuda = cache_module.cache_key(SCD01Classifier(n_iter=5, device="auto"), data)
    assert on_cuda["params"]["device"] == "cuda" and on_cuda != on_cpu
