"""Input and parameter checks, in one place for every layer: each returns the value in the
form the caller needs, or raises an error that names the parameter and what is wrong with it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch

__all__ = ["require", "check_nonneg", "check_positive", "check_real", "check_int", "check_x", "check_y"]


def require(condition: bool, message: str) -> None:
    """A ValueError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ValueError(message)


def _as_real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        else:
            raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_nonneg(name: str, value) -> float:
    """``value`` as a float, or a ValueError if it is not a finite number >= 0."""
    value = _as_real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_positive(name: str, value) -> float:
    """``value`` as a float, or a ValueError if it is not a finite number > 0."""
    value = _as_real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int, or a ValueError if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_x(x) -> torch.Tensor:
    """The input batch as a tensor, or a ValueError naming what is wrong."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"x must be a batch of shape (N, ...), got shape {tuple(x.shape)}")
    if x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))  # one pass; NaN propagates, inf is out of range
        if math.isnan(lo) or math.isnan(hi):
            raise ValueError("x contains NaN")
        if lo < 0 or hi > 1:
            raise ValueError(f"x must lie in [0, 1], got values in [{lo:g}, {hi:g}]")
    return x


def check_y(y, n: int, n_classes: int | None = None) -> torch.Tensor:
    """Labels as a long tensor of shape (n,), or a ValueError naming what is wrong."""
    if isinstance(y, (np.ndarray, list, tuple)):
        y = torch.as_tensor(np.asarray(y))
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of labels, got {type(y).__name__}")
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match x, got {tuple(y.shape)}")
    if n and int(y.min()) < 0:
        raise ValueError(f"y must hold labels >= 0, got {int(y.min())}")
    if n and n_classes is not None and int(y.max()) >= n_classes:
        raise ValueError(f"y must hold labels < {n_classes} (the number of classes), got {int(y.max())}")
    return y.long()


def check_real(name: str, value, low: float = -math.inf, high: float = math.inf, *, low_open: bool = False,
               high_open: bool = False) -> float:
    """``value`` as a float, or a ValueError if it is not a finite number in the interval
    from ``low`` to ``high`` (each end closed unless ``low_open`` / ``high_open``)."""
    value = _as_real(name, value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value:g}")
    return value
