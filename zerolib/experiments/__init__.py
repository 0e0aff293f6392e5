"""The experiments: one module per notebook, each owning its computation, the files it writes,
its tables beside the papers, its claims' verdicts and its reading (`EXPERIMENTS` lists them in
the report's order). The shared machinery is in `common`; the interactive widgets in `widgets`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# every experiment, in the report's order; each module's name is its notebook's
EXPERIMENTS = ("toy_outliers", "clean_accuracy", "whitebox_transfer", "blackbox", "discretization",
               "cnn_comparison", "loss_targets", "lipschitz", "robustness_audit")


def experiment(name: str) -> ModuleType:
    """The module of experiment ``name`` (imported on first use, so the registry stays cheap)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; the experiments are {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{name}")
