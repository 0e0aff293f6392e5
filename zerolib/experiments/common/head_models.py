"""Paper B's network trained with each of its three heads, through the model cache.

``O:SOFTMAX:CE``, ``O:SOFTMAX:MSE`` and ``R:TANH:MSE`` (the codebook of length ``code_length``
from ``code_seed``, the paper's secret). Shared by the loss-and-targets, Lipschitz and audit
experiments, so the same settings give the same cached models in all three.
"""

from __future__ import annotations

from zerolib.experiments.common.cache import ModelCache, _jsonable
from zerolib.losses import PAPER_B_VARIANTS as HEAD_MODELS

__all__ = ["HEAD_MODELS", "fit_heads", "head_key"]


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
