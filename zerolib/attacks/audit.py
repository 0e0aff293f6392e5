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
- :func:`fixed`: adversaries computed elsewhere (a substitute-model black box), per eps;
- :func:`noise`: the random baseline, uniform noise in the Linf ball (several draws).

:func:`audit` returns, per eps, each attack's accuracy and the **robust accuracy**:
the accuracy on the worst case over all attacks, image by image (an image counts
only if every attack failed on it, at this eps and at every smaller one: an adversary
within a smaller eps is within this one too), and the checks of Carlini et al. (2019)
as computed flags (see :func:`audit`). Each flag has a category: ``"broken model"``
(the model, not the attacks, is at fault: predictions collapse to one class under
noise, the raw worst case rises with eps, predictions are random) or ``"attack
strength"`` (the attacks may be too weak: noise beats them, an unbounded attack falls
short of near-100 % success, white-box weaker than transfer, decision-based stronger
than gradients, some images survive the largest eps). A number whose family carries
either kind of failed flag is not a robustness result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch

from zerolib.models.interface import predict

__all__ = ["AuditAttack", "bounded", "minimal", "fixed", "noise", "audit", "KINDS", "CATEGORIES",
           "UNBOUNDED_SUCCESS", "COLLAPSE_SHARE"]

KINDS = ("white-box", "score", "transfer", "black-box", "decision", "noise")
CATEGORIES = ("broken model", "attack strength")
UNBOUNDED_SUCCESS = 95.0
"""An unbounded (minimum-norm) attack must break at least this % of the correctly
classified rows at some size; less flags its strength."""
COLLAPSE_SHARE = 0.95
"""Predictions on noisy inputs collapse when one class takes at least this share of them
(while the clean predictions are spread: no class above ``COLLAPSE_CLEAN`` of them)."""
COLLAPSE_CLEAN = 0.8


@dataclass(frozen=True)
class AuditAttack:
    name: str
    kind: str
    correct: Callable  # (x, y, eps) -> bool tensor (N,): the model still right
    unbounded: bool = False  # a minimum-norm attack: correct(x, y, inf) is its success at any size
    labels: Callable | None = None  # (x, y, eps) -> predicted labels on its perturbed inputs (noise)

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

    return AuditAttack(name, kind, correct, unbounded=True)


def fixed(name: str, model, adversaries: dict, *, kind: str = "black-box", labels: Callable | None = None) -> AuditAttack:
    """Adversaries made elsewhere, ``{eps: x_adv}`` or ``{eps: [x_adv, ...]}`` (an image
    survives only if the model is right on every one of them); eps 0 is the clean input.
    ``labels``: the model's labels of a batch (default ``predict(model, .)``), e.g. a
    memo shared by the attacks that score the same adversaries."""
    labels = labels or (lambda t: predict(model, t))

    def correct(x, y, eps):
        ok = labels(x) == y
        if eps == 0:
            return ok
        if eps not in adversaries:
            raise KeyError(f"{name}: no adversaries for eps {eps} (has {sorted(adversaries)})")
        advs = adversaries[eps]
        for adv in (advs if isinstance(advs, (list, tuple)) else [advs]):
            ok = ok & (labels(adv) == y)  # the unperturbed image is always the attacker's option too
        return ok

    return AuditAttack(name, kind, correct)


def noise(name: str, model, *, draws: int = 5, seed: int = 0) -> AuditAttack:
    """The random baseline: ``draws`` draws of uniform noise in the Linf ball of radius
    eps (clipped to [0, 1]); an image survives only if the model is right on every draw.
    Its ``labels`` give the predictions on the first draw (the collapse check)."""
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    memo: dict = {}

    def noisy(x, eps, d):
        gen = torch.Generator().manual_seed(seed * 1000 + d)
        u = torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)
        return (x + (2 * u - 1) * eps).clamp(0, 1)

    def preds(x, eps):
        key = (id(x), float(eps))
        if key not in memo:
            memo[key] = [predict(model, noisy(x, eps, d)) for d in range(draws)]
        return memo[key]

    def correct(x, y, eps):
        ok = predict(model, x) == y
        for p in ([] if eps == 0 else preds(x, eps)):
            ok = ok & (p == y)
        return ok

    return AuditAttack(name, "noise", correct, labels=lambda x, y, eps: preds(x, eps)[0])


def audit(model, x, y, attacks: list[AuditAttack], eps_values, *, differentiable: bool,
          repeats: int = 2, collapse_max_eps: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, flags) of ``model`` on (x, y) under ``attacks`` at ``eps_values``.

    curves: a row per (eps, attack) with the attack's kind and accuracy (%), plus a row
    per eps with attack "worst case" (kind "all"): the robust accuracy, an image counted
    only if every attack failed on it at this eps and at every smaller one.

    flags, each computed from the curves (``ok`` True when the check passes), with a
    ``category`` (see the module docstring):
    - eps 0 gives the clean accuracy (every attack, and the worst case);
    - the raw worst case (this eps alone) is non-increasing in eps (broken model);
    - predictions do not collapse to one class under noise (a :func:`noise` attack's
      first draw, at every eps up to ``collapse_max_eps``; broken model);
    - the largest eps reaches 0 % robust accuracy;
    - random noise is no stronger than the best attack at any eps;
    - every unbounded attack breaks at least ``UNBOUNDED_SUCCESS`` % of the correctly
      classified rows at some size;
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
    curves, worst, raw = _worst_case(x, y, attacks, eps_values)
    clean_pred = predict(model, x)
    flags = _model_flags(curves, raw, attacks, x, y, clean_pred, eps_values, collapse_max_eps)
    flags += _strength_flags(curves, worst, attacks, x, y, clean_pred, eps_values, differentiable)
    preds = [predict(model, x) for _ in range(max(2, repeats))]
    flags.append(_flag("identical predictions on repeated calls", all(torch.equal(preds[0], p) for p in preds[1:]),
                       f"{len(preds)} calls", "broken model"))
    return curves, pd.DataFrame(flags)


def _flag(name: str, ok, detail: str, category: str) -> dict:
    return {"check": name, "ok": bool(ok), "detail": detail, "category": category}


def _worst_case(x, y, attacks, eps_values):
    """Every attack's accuracy at every eps, and the worst case per image: ``raw`` at this eps
    alone, ``worst`` carried over every smaller eps (an image broken once stays broken)."""
    rows, worst, raw = [], {}, {}
    alive = torch.ones(len(y), dtype=torch.bool)
    for eps in eps_values:
        here = torch.ones(len(y), dtype=torch.bool)
        for a in attacks:
            ok = torch.as_tensor(a.correct(x, y, eps)).bool().cpu()
            here &= ok
            rows.append({"eps": eps, "attack": a.name, "kind": a.kind, "accuracy": 100.0 * float(ok.double().mean())})
        alive &= here
        raw[eps] = 100.0 * float(here.double().mean())
        worst[eps] = 100.0 * float(alive.double().mean())
        rows.append({"eps": eps, "attack": "worst case", "kind": "all", "accuracy": worst[eps]})
    return pd.DataFrame(rows), worst, raw


def _model_flags(curves, raw, attacks, x, y, clean_pred, eps_values, collapse_max_eps) -> list[dict]:
    """The checks that the model, not the attack, is sound: eps 0 gives the clean accuracy,
    the raw worst case never rises with eps, predictions do not collapse under noise."""
    clean = 100.0 * float((clean_pred == y).double().mean())
    flags = []
    at0 = curves[curves.eps == 0]
    if len(at0):
        flags.append(_flag("eps 0 gives the clean accuracy", bool((at0.accuracy - clean).abs().max() < 1e-9),
                           f"clean {clean:.1f} %, at eps 0: {sorted(set(at0.accuracy.round(1)))}", "broken model"))
    seq = [raw[e] for e in eps_values]
    flags.append(_flag("robust accuracy non-increasing in eps", all(b <= a + 1e-9 for a, b in zip(seq, seq[1:])),
                       "worst case at each eps alone: " + ", ".join(f"{e:g}: {v:.1f}" for e, v in zip(eps_values, seq)),
                       "broken model"))
    top = eps_values[-1] if collapse_max_eps is None else collapse_max_eps
    for a in (a for a in attacks if a.labels is not None):
        flags.append(_flag(*_collapse(a, x, y, clean_pred, [e for e in eps_values if 0 < e <= top]), "broken model"))
    return flags


def _strength_flags(curves, worst, attacks, x, y, clean_pred, eps_values, differentiable) -> list[dict]:
    """The checks that the attacks are strong enough to be believed (Carlini et al. 2019)."""
    flags = [_flag("the largest eps reaches 0 %", worst[eps_values[-1]] == 0.0,
                   f"eps {eps_values[-1]:g}: {worst[eps_values[-1]]:.1f} %", "attack strength")]
    per = curves[curves.attack != "worst case"]
    if (per.kind == "noise").any() and (per.kind != "noise").any():
        gap = (per[per.kind != "noise"].groupby("eps").accuracy.min()
               - per[per.kind == "noise"].groupby("eps").accuracy.min()).max()
        flags.append(_flag("random noise no stronger than the best attack", gap <= 1e-9,
                           f"largest excess of the best attack's accuracy over noise's: {gap:+.1f} points",
                           "attack strength"))
    right = clean_pred == y
    for a in (a for a in attacks if a.unbounded):
        still = torch.as_tensor(a.correct(x, y, float("inf"))).bool().cpu() & right.cpu()
        rate = 100.0 * (1 - float(still.sum()) / max(int(right.sum()), 1))
        flags.append(_flag(f"{a.name} breaks at least {UNBOUNDED_SUCCESS:g} % of the correct rows",
                           rate >= UNBOUNDED_SUCCESS, f"success {rate:.1f} % of {int(right.sum())} correctly "
                           "classified rows", "attack strength"))
    best = per.groupby(["eps", "kind"]).accuracy.min().unstack()
    if "white-box" in best:
        others = [k for k in ("transfer", "black-box") if k in best]
        if others:
            gap = (best["white-box"] - best[others].min(axis=1)).max()
            flags.append(_flag("white-box at least as strong as transfer and black-box", gap <= 1e-9,
                               f"largest excess of white-box over the others: {gap:+.1f} points", "attack strength"))
    if differentiable and "white-box" in best and "decision" in best:
        gap = (best["white-box"] - best["decision"]).max()
        flags.append(_flag("decision-based not stronger than the gradient attacks (no gradient masking suspected)",
                           gap <= 1e-9, f"largest excess of white-box accuracy over decision-based: {gap:+.1f} "
                           "points", "attack strength"))
    return flags


def _collapse(attack: AuditAttack, x, y, clean_pred, eps_values) -> tuple[str, bool, str]:
    """(check, ok, detail): does one class take ``COLLAPSE_SHARE`` of the predictions on
    ``attack``'s perturbed inputs at some eps, while the clean predictions are spread?"""
    clean_share = float(torch.bincount(clean_pred.cpu()).max()) / max(len(clean_pred), 1)
    worst_eps, worst_share = None, 0.0
    for eps in eps_values:
        p = torch.as_tensor(attack.labels(x, y, eps)).cpu()
        share = float(torch.bincount(p).max()) / max(len(p), 1)
        if share > worst_share:
            worst_eps, worst_share = eps, share
    ok = not (worst_share >= COLLAPSE_SHARE and clean_share <= COLLAPSE_CLEAN)
    detail = (f"largest share of one class under {attack.name}: {100 * worst_share:.0f} % at eps {worst_eps:g} "
              f"(clean: {100 * clean_share:.0f} %)" if worst_eps is not None else "no eps checked")
    return f"predictions do not collapse to one class under {attack.name}", ok, detail
