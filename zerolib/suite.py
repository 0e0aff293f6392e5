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

from .cache import ModelCache

__all__ = ["MODEL_NAMES", "make_estimator", "fit_model", "fit_single", "fit_models", "clean_accuracy", "one_vs_all_timing"]

MODEL_NAMES = ("SVM", "SCD01", "MLP", "MLP01")


def _classes():
    from .models.convex import LinearSVMClassifier, MLPClassifier
    from .scd import MLP01Classifier, SCD01Classifier

    return {"SVM": LinearSVMClassifier, "SCD01": SCD01Classifier, "MLP": MLPClassifier, "MLP01": MLP01Classifier}


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
    from .models.interface import accuracy

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

    from .torchutil import resolve_device

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
