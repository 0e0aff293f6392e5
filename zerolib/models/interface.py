"""One prediction interface for every model family, for attacks and evaluation.

``predict(model, x)`` takes a float tensor (N, ...) with values in [0, 1] and
returns class labels (N,) as a long tensor on ``x``'s device, computed in
batches, without gradients:

- a ``torch.nn.Module`` runs on its own device and dtype, in eval mode (each submodule's
  mode is restored afterwards): its ``predict(x)`` if it has one (a ``HeadNet``:
  argmax or nearest codeword; a vote view from ``as_module()``: the majority
  vote), else the argmax of its outputs;
- anything else with ``predict`` (the scikit-learn-API estimators, 01-loss ones
  included) gets the batch flattened to a numpy array (N, D); its labels must be
  integers (fit it on the datasets' 0..k-1 labels).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from zerolib.torchutil import eval_mode, module_device_dtype

__all__ = ["predict", "accuracy"]


def predict(model, x, batch_size: int = 1024, *, check_values: bool = True) -> torch.Tensor:
    """Labels (N,) of ``model`` on ``x`` (N, ...) in [0, 1]; see the module docstring.
    ``check_values=False`` skips the pass over the values (finite, in [0, 1]) for callers that
    built ``x`` themselves by clipping (the label-only attacks' millions of queries)."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim < 2:
        raise ValueError("x must be a float tensor of shape (N, ...) with values in [0, 1]")
    if check_values and x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x))  # one pass; NaN propagates to both
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi > 1:
            raise ValueError("x must hold finite values in [0, 1]")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not isinstance(model, nn.Module) and not callable(getattr(model, "predict", None)):
        raise ValueError(f"model must be a torch.nn.Module or have a predict method, got {type(model).__name__}")

    out = []
    if isinstance(model, nn.Module):
        device, dtype = module_device_dtype(model)
        device, dtype = device or x.device, dtype or x.dtype
        with eval_mode(model), torch.no_grad():
            for xb in x.split(batch_size):
                xb = xb.to(device=device, dtype=dtype)
                labels = model.predict(xb) if callable(getattr(model, "predict", None)) else model(xb).argmax(1)
                out.append(torch.as_tensor(labels).to(x.device))
    else:
        for xb in x.split(batch_size):
            labels = np.asarray(model.predict(xb.reshape(len(xb), -1).detach().cpu().numpy()))
            if not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(f"the model predicts {labels.dtype} labels; fit it on integer labels 0..k-1")
            out.append(torch.from_numpy(labels.astype(np.int64)).to(x.device))
    if not out:
        return torch.zeros(0, dtype=torch.long, device=x.device)
    return torch.cat(out).long()


def accuracy(model, x, y, batch_size: int = 1024) -> float:
    """Fraction of rows of ``x`` that ``model`` labels as ``y``."""
    y = torch.as_tensor(y)
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) to match x, got {tuple(y.shape)}")
    pred = predict(model, x, batch_size)
    return float((pred.cpu() == y.cpu().long()).float().mean()) if len(y) else float("nan")
