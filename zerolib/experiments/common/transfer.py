"""White-box transfer (paper A, Table III): adversaries made on one model, scored on others.

- :func:`paper_attack`: the attack paper A uses on each of its binary models --
  ``sign(w)`` for the linear ones (SVM, SCD01), FGSM on the loss for the MLP (and
  any differentiable torch model), the hidden-node heuristic for MLP01.
- :func:`transfer_table`: accuracy (%) of every target on the clean test points
  and on every source's adversaries: rows ``clean`` and each source, columns the
  targets. Each source's adversaries are made once and scored on every target;
  the table equals the one assembled from :func:`transfer_cell` one cell at a time.
- :func:`eps_sweep`: the same table for each eps of a list, in long form.

Models are fitted binary zerolib estimators (labels 0/1) or torch modules; inputs
are (N, ...) float tensors in [0, 1] and labels (N,) integers 0/1.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import pandas as pd
import torch

from zerolib.attacks import FGSM, MLP01HiddenNodeAttack, SignAttack
from zerolib.models.interface import accuracy
from zerolib.papers.numbers import MODELS

from .markdown import num
from .summary import fmt, over_seeds

__all__ = ["paper_attack", "adversaries", "transfer_cell", "transfer_table", "eps_sweep"]


def paper_attack(model, eps: float, seed: int = 0):
    """Paper A's white-box attack on ``model`` at Linf distortion ``eps``: an
    ``Attack`` called as ``attack(x, y)``."""
    from zerolib.models.convex import LinearSVMClassifier, MLPClassifier
    from zerolib.models.scd import MLP01Classifier, SCD01Classifier

    weight_attack = isinstance(model, (LinearSVMClassifier, SCD01Classifier, MLP01Classifier))
    if weight_attack and len(model.classes_) != 2:
        raise ValueError("paper A's white-box attacks are for binary models (classes 0 vs 1)")
    if isinstance(model, (LinearSVMClassifier, SCD01Classifier)):
        return SignAttack(model.coef_, eps)
    if isinstance(model, MLP01Classifier):
        return MLP01HiddenNodeAttack.from_estimator(model, eps, seed)
    if isinstance(model, MLPClassifier):
        return FGSM(model.as_module(), eps)
    if isinstance(model, torch.nn.Module):
        return FGSM(model, eps)
    raise TypeError(f"no paper A attack for a {type(model).__name__}")


def _check(x, y):
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise ValueError("x must be a float tensor (N, ...) in [0, 1]")
    y = torch.as_tensor(y).long()
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},), got {tuple(y.shape)}")
    return x, y


def adversaries(attack: Callable, x, y) -> torch.Tensor:
    """``attack(x, y)`` for one source."""
    x, y = _check(x, y)
    return attack(x, y)


def transfer_cell(attack: Callable | None, target, x, y) -> float:
    """Accuracy (%) of ``target`` on ``attack``'s adversaries of (x, y); clean with None."""
    x, y = _check(x, y)
    x_eval = x if attack is None else attack(x, y)
    return 100.0 * accuracy(target, x_eval, y)


def transfer_table(attacks: Mapping[str, Callable], targets: Mapping[str, object], x, y) -> pd.DataFrame:
    """Rows ``clean`` and each source of ``attacks``, columns the ``targets``: accuracy (%)."""
    x, y = _check(x, y)
    if not targets:
        raise ValueError("transfer_table needs at least one target")
    sets = {"clean": x}
    for name, attack in attacks.items():
        if name == "clean":
            raise ValueError("'clean' is the name of the clean row; give the source another name")
        sets[name] = adversaries(attack, x, y)
    table = pd.DataFrame({t: {s: 100.0 * accuracy(m, xs, y) for s, xs in sets.items()}
                          for t, m in targets.items()})
    table.index.name = "source"
    return table.loc[list(sets)]


def eps_sweep(sources: Mapping[str, object], targets: Mapping[str, object], x, y,
              eps_values: Sequence[float], seed: int = 0) -> pd.DataFrame:
    """For each eps, each source's :func:`paper_attack` scored on every target.
    Long form: columns ``eps``, ``source``, ``target``, ``accuracy`` (%); eps = 0 is
    the clean accuracy."""
    rows = []
    for eps in eps_values:
        attacks = {name: paper_attack(model, float(eps), seed) for name, model in sources.items()}
        table = transfer_table(attacks, targets, x, y).drop(index="clean")
        for source, row in table.iterrows():
            rows += [{"eps": float(eps), "source": source, "target": t, "accuracy": float(a)} for t, a in row.items()]
    return pd.DataFrame(rows, columns=["eps", "source", "target", "accuracy"])


def transfer_cells(long: pd.DataFrame, paper_of: Callable, models=MODELS) -> pd.DataFrame:
    """A transfer table for the report (rows clean and the sources, columns the targets): each
    cell ours as mean ± sd over seeds, then ``paper_of(source, target)`` and ours minus it."""
    s = over_seeds(long, ["source", "target"]).set_index(["source", "target"])
    sources = ["clean"] + list(models)
    cells = []
    for src in sources:
        row = []
        for t in models:
            ours = s.loc[(src, t)] if (src, t) in s.index else None
            p = paper_of(src, t)
            text = fmt(ours["mean"], ours["std"]) if ours is not None else ""
            if p is not None and ours is not None:
                text += f" ({num(p)}; {num(ours['mean'] - p, signed=True)})"
            row.append(text)
        cells.append(row)
    return pd.DataFrame(cells, index=pd.Index(sources, name="source \\ target"), columns=list(models))
