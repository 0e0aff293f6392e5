"""A robustness audit: every applicable attack on one model, the worst case per image,
and the checks that tell real robustness from gradient masking.

Each attack is a :class:`AuditAttack`: a name, a kind (``"white-box"``,
``"transfer"``, ``"black-box"``, ``"decision"``) and a function ``correct(x, y, eps)``
giving, per image, whether the model still labels it ``y`` under that attack with a
perturbation of size at most ``eps`` in the threat model's norm. Builders:

- :func:`bounded`: an attack with an ``eps`` budget (FGSM, PGD, paper A's sign
  attacks, ...) run against the model itself, or generated on a ``source`` model and
  scored on the model (transfer);
- :func:`minimal`: an attack that returns the closest adversary it finds (HopSkipJump,
  CW-L2, DeepFool), run once; an image is broken at ``eps`` when its adversary is
  misclassified and no farther than ``eps``;
- :func:`fixed`: adversaries computed elsewhere (a substitute-model black box), per eps.

:func:`audit` returns, per eps, each attack's accuracy and the **robust accuracy**:
the accuracy on the worst case over all attacks, image by image (an image counts
only if every attack failed on it), and the checks of Carlini et al. (2019) as
computed flags (see :func:`audit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch

from .models.interface import predict

__all__ = ["AuditAttack", "bounded", "minimal", "fixed", "audit", "KINDS"]

KINDS = ("white-box", "transfer", "black-box", "decision")


@dataclass(frozen=True)
class AuditAttack:
    name: str
    kind: str
    correct: Callable  # (x, y, eps) -> bool tensor (N,): the model still right

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


def _norm(delta: torch.Tensor, norm: str) -> torch.Tensor:
    d = delta.flatten(1)
    if norm == "Linf":
        return d.abs().amax(1)
    if norm == "L2":
        return d.norm(dim=1)
    raise ValueError(f"norm must be 'Linf' or 'L2', got {norm!r}")


def bounded(name: str, model, make_attack: Callable, *, source=None, kind: str | None = None) -> AuditAttack:
    """``make_attack(attacked_model, eps)`` -> an ``atk(x, y)``; with ``source`` the
    adversaries are made on ``source`` and scored on ``model`` (kind "transfer")."""
    src = model if source is None else source

    def correct(x, y, eps):
        if eps == 0:
            return predict(model, x) == y
        return predict(model, make_attack(src, eps)(x, y)) == y

    return AuditAttack(name, kind or ("white-box" if source is None else "transfer"), correct)


def minimal(name: str, model, attack: Callable, *, norm: str = "Linf", kind: str = "decision") -> AuditAttack:
    """``attack(x, y)`` -> the closest adversaries it finds (run once per batch, kept):
    an image is broken at eps when its adversary is misclassified and within eps."""
    memo: dict = {}

    def correct(x, y, eps):
        if memo.get("x") is not x or memo.get("y") is not y:  # a new batch: run the attack on it once
            adv = attack(x, y)
            memo.update(x=x, y=y, fooled=predict(model, adv) != y, size=_norm(adv - x, norm))
        fooled, size = memo["fooled"], memo["size"]
        return predict(model, x).eq(y) & ~(fooled & (size <= eps + 1e-12))

    return AuditAttack(name, kind, correct)


def fixed(name: str, model, adversaries: dict, *, kind: str = "black-box") -> AuditAttack:
    """Adversaries made elsewhere, ``{eps: x_adv}`` or ``{eps: [x_adv, ...]}`` (an image
    survives only if the model is right on every one of them); eps 0 is the clean input."""

    def correct(x, y, eps):
        ok = predict(model, x) == y
        if eps == 0:
            return ok
        if eps not in adversaries:
            raise KeyError(f"{name}: no adversaries for eps {eps} (has {sorted(adversaries)})")
        advs = adversaries[eps]
        for adv in (advs if isinstance(advs, (list, tuple)) else [advs]):
            ok = ok & (predict(model, adv) == y)  # the unperturbed image is always the attacker's option too
        return ok

    return AuditAttack(name, kind, correct)


def audit(model, x, y, attacks: list[AuditAttack], eps_values, *, differentiable: bool,
          repeats: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, flags) of ``model`` on (x, y) under ``attacks`` at ``eps_values``.

    curves: a row per (eps, attack) with the attack's kind and accuracy (%), plus a row
    per eps with attack "worst case" (kind "all"): the robust accuracy.

    flags, each computed from the curves (``ok`` True when the check passes):
    - eps 0 gives the clean accuracy (every attack, and the worst case);
    - robust accuracy is non-increasing in eps;
    - the largest eps reaches 0 % robust accuracy;
    - white-box attacks are at least as strong as transfer and black-box ones (per eps,
      the best white-box accuracy at most the best transfer / black-box one);
    - on a differentiable model, the decision-based attack is not stronger than the
      gradient attacks (else gradient masking is suspected);
    - the model's predictions are identical over ``repeats`` calls (no randomness).
    """
    y = torch.as_tensor(y).long()
    eps_values = sorted(float(e) for e in eps_values)
    if not attacks:
        raise ValueError("audit needs at least one attack")
    if len({a.name for a in attacks}) != len(attacks):
        raise ValueError("attack names must be unique")
    rows, worst = [], {}
    for eps in eps_values:
        alive = torch.ones(len(y), dtype=torch.bool)
        for a in attacks:
            ok = torch.as_tensor(a.correct(x, y, eps)).bool().cpu()
            alive &= ok
            rows.append({"eps": eps, "attack": a.name, "kind": a.kind, "accuracy": 100.0 * float(ok.double().mean())})
        worst[eps] = 100.0 * float(alive.double().mean())
        rows.append({"eps": eps, "attack": "worst case", "kind": "all", "accuracy": worst[eps]})
    curves = pd.DataFrame(rows)
    clean = 100.0 * float((predict(model, x) == y).double().mean())
    flags = []

    def flag(name, ok, detail):
        flags.append({"check": name, "ok": bool(ok), "detail": detail})

    at0 = curves[curves.eps == 0]
    if len(at0):
        flag("eps 0 gives the clean accuracy", bool((at0.accuracy - clean).abs().max() < 1e-9),
             f"clean {clean:.1f} %, at eps 0: {sorted(set(at0.accuracy.round(1)))}")
    seq = [worst[e] for e in eps_values]
    flag("robust accuracy non-increasing in eps", all(b <= a + 1e-9 for a, b in zip(seq, seq[1:])),
         ", ".join(f"{e:g}: {v:.1f}" for e, v in zip(eps_values, seq)))
    flag("the largest eps reaches 0 %", seq[-1] == 0.0, f"eps {eps_values[-1]:g}: {seq[-1]:.1f} %")
    best = curves[curves.attack != "worst case"].groupby(["eps", "kind"]).accuracy.min().unstack()
    if "white-box" in best:
        others = [k for k in ("transfer", "black-box") if k in best]
        if others:
            gap = (best["white-box"] - best[others].min(axis=1)).max()
            flag("white-box at least as strong as transfer and black-box", gap <= 1e-9,
                 f"largest excess of white-box over the others: {gap:+.1f} points")
    if differentiable and "white-box" in best and "decision" in best:
        gap = (best["white-box"] - best["decision"]).max()
        flag("decision-based not stronger than the gradient attacks (no gradient masking suspected)", gap <= 1e-9,
             f"largest excess of white-box accuracy over decision-based: {gap:+.1f} points")
    preds = [predict(model, x) for _ in range(max(2, repeats))]
    flag("identical predictions on repeated calls", all(torch.equal(preds[0], p) for p in preds[1:]),
         f"{len(preds)} calls")
    return curves, pd.DataFrame(flags)
