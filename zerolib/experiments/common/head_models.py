"""Paper B's network trained with each of its three heads, through the model cache.

``O:SOFTMAX:CE``, ``O:SOFTMAX:MSE`` and ``R:TANH:MSE`` (the codebook of length ``code_length``
from ``code_seed``, the paper's secret). Shared by the loss-and-targets, Lipschitz and audit
experiments, so the same settings give the same cached models in all three.
"""

from __future__ import annotations

import pandas as pd

from zerolib.experiments.common.cache import ModelCache, _jsonable
from zerolib.experiments.common.summary import fmt, over_seeds
from zerolib.models.train import as_augmentations
from zerolib.losses import PAPER_B_VARIANTS as HEAD_MODELS

__all__ = ["HEAD_MODELS", "clean_accuracies", "fit_heads", "head_key", "model_line", "network_text"]


def _model_args(head: str, arch: dict, code_length: int, code_seed: int) -> dict:
    args = dict(arch)
    if head == "R:TANH:MSE":
        args.update(code_length=int(code_length), code_seed=int(code_seed))
    return args


def head_key(net: str, head: str, in_shape, n_classes: int, data_key: dict, seed: int, train: dict,
             arch: dict, code_length: int, code_seed: int) -> dict:
    """What identifies one trained head model (what a result computed from it is keyed by)."""
    return _jsonable({"net": net, "head": head, "in_shape": list(in_shape), "n_classes": int(n_classes),
                      "data": data_key, "seed": int(seed), "train": train,
                      "model": _model_args(head, arch, code_length, code_seed)})


def fit_heads(net: str, in_shape, n_classes: int, data_key: dict, X, y=None, *, seed: int, train: dict,
              arch: dict | None = None, code_length: int = 128, code_seed: int = 0, heads=HEAD_MODELS,
              device="auto", cache: ModelCache | None = None) -> dict:
    """``{head: network}``: ``net`` built with ``arch`` and trained with ``train`` (the
    settings of :func:`zerolib.models.train`) once per head, from the cache when it
    holds them. ``X`` may be a callable returning (X, y)."""
    cache = cache or ModelCache()
    arch = dict(arch or {})
    unknown = [h for h in heads if h not in HEAD_MODELS]
    if unknown:
        raise ValueError(f"unknown heads {unknown}; expected some of {list(HEAD_MODELS)}")
    return {h: cache.fit_net(net, in_shape, n_classes, data_key, X, y, seed=seed, train_settings=train, head=h,
                             model_args=_model_args(h, arch, code_length, code_seed), device=device)
            for h in heads}


def clean_accuracies(models: dict, x, y) -> pd.DataFrame:
    """Paper B's Table 4: test accuracy (%) of each model; columns model, accuracy."""
    from zerolib.models.interface import accuracy

    return pd.DataFrame([{"model": h, "accuracy": 100.0 * accuracy(m, x, y)} for h, m in models.items()])


def network_text(params: dict) -> str:
    """The network a run trained, from its parameters: name, architecture overrides, recipe."""
    arch = params.get("arch") or {}
    arch_text = f" ({', '.join(f'{k} {v}' for k, v in arch.items())})" if arch else ""
    train = params.get("train") or {}
    augment = as_augmentations(train.get("augment"))
    capped = f" of {train['steps_per_epoch']} steps" if train.get("steps_per_epoch") else ""  # a dry run's
    recipe = (f", {train['epochs']} epochs{capped} of {train.get('optimizer', 'sgd')}"
              + (f" ({train['schedule']})" if train.get("schedule") else "")
              + (f" with {'+'.join(augment)}" if augment else "")
              + (f", {train['precision']} forward pass" if train.get("precision", "fp32") != "fp32" else "")
              ) if "epochs" in train else ""
    rows = params.get("n_train") or "all"
    return f"network `{params.get('net', '?')}`{arch_text}{recipe} on {rows} training rows"


def model_line(params: dict, clean: pd.DataFrame) -> str:
    """The network and each head's clean accuracy (mean over seeds): what a paper-B verdict rests on."""
    s = over_seeds(clean, ["model"]).set_index("model")
    heads = [m for m in HEAD_MODELS if m in s.index]
    return (network_text(params) + "; clean accuracy " +
            ", ".join(f"{m} {fmt(s.loc[m, 'mean'], s.loc[m, 'std'])} %" for m in heads))
