"""Paper A's four models -- SVM, SCD01, MLP, MLP01 -- built from a profile's settings
and fitted through the model cache, as single runs and as vote ensembles.

``settings`` maps a model name to its estimator's keyword arguments (a profile
sets them; anything left out is the estimator's default). Seeds: run ``i`` of a
study uses ``random_state = seed + i`` for every model, so the seeds are
independent fits (different initialisations and, for votes, different bootstrap
draws).

What "single run" means here: the 01-loss models' single run is their first vote
(``take_votes([0])``, bitwise the model a one-vote fit trains); the convex models'
single run is one fit on all training rows, their votes are fits on bootstrap
samples. (Paper A's published scripts score the best of the 32 votes as the
single run; we take vote 0, which is what one run of the trainer gives.)
"""

from __future__ import annotations

from typing import Any, Mapping

from zerolib.papers.numbers import MODELS

from .cache import ModelCache

__all__ = ["MODEL_NAMES", "TARGET_NAMES", "data_key", "make_estimator", "model_key", "single_key", "pair_accuracies", "fit_model", "fit_single", "fit_models", "clean_accuracy", "one_vs_all_timing"]

MODEL_NAMES = MODELS  # paper A's four models
TARGET_NAMES = MODEL_NAMES + ("MLP400",)
"""The black-box targets: the four models and MLP400 (one shared 400-node layer, softmax)."""


def _classes():
    from zerolib.models.convex import LinearSVMClassifier, MLP400Classifier, MLPClassifier
    from zerolib.models.scd import MLP01Classifier, SCD01Classifier

    return {"SVM": LinearSVMClassifier, "SCD01": SCD01Classifier, "MLP": MLPClassifier, "MLP01": MLP01Classifier,
            "MLP400": MLP400Classifier}


def data_key(dataset: str, n_train: int | None, seed: int, classes=None) -> dict:
    """What the training rows of a fit are, as the cache keys it: ``n_train`` rows (0 or
    None: all) of ``classes`` (None: all of them) drawn with ``seed``. Notebooks that train on
    the same rows build the same key, so one notebook's fits are the next one's cache hits
    (``blackbox``'s multiclass targets are ``clean_accuracy``'s models when the rows agree)."""
    return {"dataset": dataset, "n_train": n_train or None, "subsample_seed": int(seed),
            "classes": "all" if classes is None else list(classes)}


def make_estimator(name: str, settings: Mapping[str, Mapping[str, Any]] | None, seed: int, n_votes: int,
                   device: str = "auto"):
    """An unfitted estimator of model ``name`` with ``settings[name]``."""
    classes = _classes()
    if name not in classes:
        raise ValueError(f"unknown model {name!r}; paper A's models are {list(classes)}")
    own = dict((settings or {}).get(name) or {})
    for fixed in ("n_votes", "random_state", "device"):
        if fixed in own:
            raise ValueError(f"settings for {name} must not set {fixed!r}: the study sets it")
    try:
        return classes[name](**own, n_votes=int(n_votes), random_state=int(seed), device=device)
    except TypeError as err:
        raise ValueError(f"settings for {name}: {err}") from err


def model_key(name, settings, seed, n_votes, data_key: dict, device="auto") -> dict:
    """The cache key of model ``name`` fitted by :func:`fit_model` with these arguments
    (what a result computed from the model is keyed by, e.g. a black-box run)."""
    from .cache import cache_key

    return cache_key(make_estimator(name, settings, seed, n_votes, device), data_key)


def single_key(name, settings, seed, n_votes, data_key: dict, device="auto") -> dict:
    """The key of what :func:`fit_single` returns (for a 01-loss model vote 0 of the
    ``n_votes`` ensemble, else a one-vote fit)."""
    if name in ("SCD01", "MLP01") and n_votes > 1:
        return dict(model_key(name, settings, seed, n_votes, data_key, device), votes=[0])
    return model_key(name, settings, seed, 1, data_key, device)


def fit_model(name, settings, seed, n_votes, data_key: dict, X, y=None, *, device="auto",
              cache: ModelCache | None = None):
    """Model ``name`` with ``n_votes`` votes fitted on (X, y), from the cache when it
    holds it. ``data_key`` describes the training rows (it is part of the cache key);
    ``X`` may be a callable returning (X, y)."""
    cache = cache or ModelCache()
    return cache.fit(make_estimator(name, settings, seed, n_votes, device), data_key, X, y)


def fit_single(name, settings, seed, n_votes, data_key: dict, X, y=None, *, device="auto",
               cache: ModelCache | None = None):
    """The single run of model ``name``: for a 01-loss model with ``n_votes > 1``, vote 0
    of the cached ``n_votes`` ensemble (the same model a one-vote fit trains, so the
    ensemble and its single run are trained once); otherwise a one-vote fit."""
    if name in ("SCD01", "MLP01") and n_votes > 1:
        return fit_model(name, settings, seed, n_votes, data_key, X, y, device=device, cache=cache).take_votes([0])
    return fit_model(name, settings, seed, 1, data_key, X, y, device=device, cache=cache)


def fit_models(names, settings, seed, n_votes, data_key: dict, X, y=None, *, device="auto",
               cache: ModelCache | None = None, single: bool = True):
    """``{name: model}`` for each name: the single run (``single=True``, see
    :func:`fit_single`) or the ``n_votes`` ensemble."""
    cache = cache or ModelCache()
    fit = fit_single if single else fit_model
    return {name: fit(name, settings, seed, n_votes, data_key, X, y, device=device, cache=cache) for name in names}


def _accuracy_pct(model, x, y) -> float:
    from zerolib.models.interface import accuracy

    return 100.0 * accuracy(model, x, y)


def clean_accuracy(data, data_key: dict, settings, n_votes: int, seeds, *, names=MODEL_NAMES,
                   device="auto", cache: ModelCache | None = None, progress: bool = True):
    """Table I: test accuracy (%) of every model as a single run and with ``n_votes``
    votes, for each seed. ``data`` has ``x_train``, ``y_train``, ``x_test``, ``y_test``.
    Long form: columns seed, model, kind ("single" | "votes"), accuracy."""
    import pandas as pd
    from tqdm.auto import tqdm

    cache = cache or ModelCache()
    rows = []
    for seed in tqdm(list(seeds), desc="seeds", disable=not progress):
        for name in names:
            votes = fit_model(name, settings, seed, n_votes, data_key, data.x_train, data.y_train,
                              device=device, cache=cache)
            single = fit_single(name, settings, seed, n_votes, data_key, data.x_train, data.y_train,
                                device=device, cache=cache)
            for kind, model in (("single", single), ("votes", votes)):
                rows.append({"seed": int(seed), "model": name, "kind": kind,
                             "accuracy": _accuracy_pct(model, data.x_test, data.y_test)})
    return pd.DataFrame(rows, columns=["seed", "model", "kind", "accuracy"])


def one_vs_all_timing(data, data_key: dict, settings, seeds, *, positive: int = 0, names=MODEL_NAMES,
                      device="auto", cache: ModelCache | None = None, progress: bool = True):
    """Table II: seconds of one run (one vote) of each model on class ``positive``
    against all the others, as measured inside ``fit`` (``fit_time_``, kept with a
    cached model). Long form: columns seed, model, seconds, device."""
    import pandas as pd
    from tqdm.auto import tqdm

    from zerolib.torchutil import resolve_device

    cache = cache or ModelCache()
    y_bin = (data.y_train == positive).long()
    key = dict(data_key, task=f"class {positive} vs all")
    rows = []
    for seed in tqdm(list(seeds), desc="timing seeds", disable=not progress):
        for name in names:
            model = fit_model(name, settings, seed, 1, key, data.x_train, y_bin, device=device, cache=cache)
            rows.append({"seed": int(seed), "model": name, "seconds": float(model.fit_time_),
                         "device": str(resolve_device(device))})
    return pd.DataFrame(rows, columns=["seed", "model", "seconds", "device"])


def pair_accuracies(data, name, settings, seed, *, pairs=None, n_per_class: int | None = None,
                    validation_fraction: float = 0.25, data_key: dict | None = None, device="auto",
                    cache: ModelCache | None = None, progress: bool = True):
    """Model ``name`` (one run) on every class pair of ``data`` (or ``pairs``): fitted on
    a seeded stratified part of the pair's training rows (at most ``n_per_class`` per
    class), scored on the held-out rest (``validation_accuracy``, what a pair is chosen
    by, so the choice never sees test data) and on the test rows (``test_accuracy``,
    reported only). Columns: a, b, n_fit, validation_accuracy, test_accuracy (%)."""
    import itertools

    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from tqdm.auto import tqdm

    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    cache = cache or ModelCache()
    k = int(data.y_train.max()) + 1
    pairs = [tuple(p) for p in (pairs if pairs is not None else itertools.combinations(range(k), 2))]
    rows = []
    for a, b in tqdm(pairs, desc=f"{name} on class pairs", disable=not progress):
        if not (0 <= a < k and 0 <= b < k and a != b):
            raise ValueError(f"class pair {(a, b)} is not two different classes of 0..{k - 1}")
        rng = np.random.default_rng([int(seed), int(a), int(b)])
        idx = []
        for c in (a, b):
            rows_c = np.flatnonzero(data.y_train.numpy() == c)
            if n_per_class is not None and len(rows_c) > n_per_class:
                rows_c = np.sort(rng.choice(rows_c, n_per_class, replace=False))
            idx.append(rows_c)
        idx = np.concatenate(idx)
        y = (data.y_train[idx] == b).long()
        fit_idx, val_idx = train_test_split(np.arange(len(idx)), test_size=validation_fraction,
                                            stratify=y.numpy(), random_state=int(seed))
        key = dict(data_key or {}, pair=[int(a), int(b)], n_per_class=n_per_class,
                   validation_fraction=validation_fraction, split_seed=int(seed))
        x_pair = data.x_train[idx]
        model = fit_single(name, settings, seed, 1, key, x_pair[fit_idx], y[fit_idx], device=device, cache=cache)
        test = (data.y_test == a) | (data.y_test == b)
        rows.append({"a": int(a), "b": int(b), "n_fit": len(fit_idx),
                     "validation_accuracy": _accuracy_pct(model, x_pair[val_idx], y[val_idx]),
                     "test_accuracy": _accuracy_pct(model, data.x_test[test], (data.y_test[test] == b).long())})
    return pd.DataFrame(rows, columns=["a", "b", "n_fit", "validation_accuracy", "test_accuracy"])
