"""The few torch helpers every part of zerolib shares: one device rule, one eval-mode
context, and how to find the device and dtype a module computes in.

- :func:`resolve_device`: ``"auto"`` (or None) is CUDA when available, else the CPU;
  ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device`` as given, and asking for
  CUDA where there is none is an error, never a silent fall-back to the CPU.
- :func:`eval_mode`: every submodule in eval mode for the duration, each one's own
  mode restored after (a model may mix train- and eval-mode submodules).
- :func:`module_device_dtype`: the device and floating dtype of a module's first
  floating parameter or buffer (None, None when it has neither).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["resolve_device", "eval_mode", "module_device_dtype"]


def resolve_device(device) -> torch.device:
    """The ``torch.device`` that ``device`` names; see the module docstring for the rule."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device; got {device!r}") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device; got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here (use 'cpu' or 'auto')")
    return dev


@contextmanager
def eval_mode(model):
    """Put every submodule of ``model`` in eval mode; restore each one's mode after.
    Anything that is not an ``nn.Module`` passes through untouched."""
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def module_device_dtype(model):
    """(device, dtype) of the first floating parameter or buffer of ``model``, else (None, None)."""
    if isinstance(model, nn.Module):
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                return t.device, t.dtype
    return None, None
