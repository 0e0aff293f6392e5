"""zerolib: 01-loss models, convex baselines and adversarial attacks.

A toolkit for one question: do models trained on the 01 loss (and on other
non-standard losses and targets) resist adversarial examples that transfer
between ordinary convex models?

Submodules are imported lazily so that `import zerolib` stays cheap and a
notebook that needs only the data loaders does not pay for the rest.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "load_dataset": "zerolib.data",
    "discretize": "zerolib.data",
    "SCD01Classifier": "zerolib.models.scd",
    "MLP01Classifier": "zerolib.models.scd",
    "LinearSVMClassifier": "zerolib.models",
    "MLPClassifier": "zerolib.models",
    "MLP400Classifier": "zerolib.models",
    "make_model": "zerolib.models",
    "train": "zerolib.models",
    "predict": "zerolib.models",
    "ResultDir": "zerolib._io",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'zerolib' has no attribute {name!r}")
