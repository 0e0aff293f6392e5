"""The robustness audit of every model family of both papers on one binary task.

Both papers leave the same question open: paper A's 01-loss models have no useful
gradient, so every gradient attack on them is a heuristic; paper B's MSE-on-softmax
and tanh-codebook heads may flatten or saturate the gradient (gradient masking). This
module runs every applicable attack on every family and scores each image by the
worst case (:mod:`zerolib.audit`):

- **white-box**: paper A's own attack on the family (``sign(w)`` for SVM and SCD01,
  the hidden-node heuristic for MLP01, FGSM for the differentiable models) and, on
  every differentiable family, PGD on the model's own loss and PGD on the margin of
  its scores (:class:`zerolib.losses.ScoreMargin`, which no head can saturate);
- **transfer**: every other family's white-box adversaries, scored on this one (one
  attack per source: an image survives only if all of the source's adversaries fail);
- **black-box**: a Papernot substitute (paper A's MLP substitute, Jacobian
  augmentation) trained on this family's labels, its FGSM adversaries;
- **decision**: HopSkipJump, L2 and Linf, on labels only, started from the nearest of
  the attacker's own (substitute seed) points that the model labels otherwise
  (:func:`label_only_starts`); each found adversary breaks
  its image at every eps at least its Linf size.

Paper A's attacks alone (the family's paper attack, transfer from paper A's four
models' paper attacks, and the substitute) give a second robust-accuracy curve, so
the gain of the audit over the paper's own evaluation is measured.

Every family is fitted on the same task (classes 0 vs 1), the paper A families
through :mod:`zerolib.suite`, the networks through the model cache.
"""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import suite
from .attacks import FGSM, PGD, HopSkipJump
from .audit import audit, fixed, minimal
from .blackbox import NetSubstitute, seed_and_attack_split, train_substitute
from .cache import ModelCache
from .loss_targets import HEAD_MODELS, fit_heads
from .losses import CrossEntropy, ScoreMargin
from .models.interface import predict
from .results import write_json
from .transfer import paper_attack

__all__ = ["FAMILIES", "ZERO_ONE", "PAPER_A_SOURCES", "fit_families", "white_box_attacks", "label_only_starts", "audit_families",
           "audit_seed"]

FAMILIES = ("SVM", "SCD01", "MLP", "MLP01", "MLP01 votes", "MLP400", "LeNet", "SimpleNet80") + HEAD_MODELS
ZERO_ONE = ("SCD01", "MLP01", "MLP01 votes")
"""The 01-loss families: no gradient, so no gradient-masking check applies to them."""
PAPER_A_SOURCES = ("SVM", "SCD01", "MLP", "MLP01")
"""The sources of paper A's white-box transfer (Table III)."""


def fit_families(data, data_key: dict, seed: int, *, models: dict, n_votes: int, net_data, net_key: dict,
                 nets: dict, heads: dict, device: str = "cpu", cache: ModelCache | None = None) -> dict:
    """``{family: fitted model}`` for one seed. ``data``/``data_key``: paper A's task;
    ``models``: paper A's settings (:func:`zerolib.suite.make_estimator`); ``n_votes``:
    the MLP01 ensemble's votes (the single runs are :func:`zerolib.suite.fit_single`'s,
    so the black-box notebook's cached models are these); ``net_data``/``net_key``: the networks' training rows;
    ``nets``: ``{"LeNet": {"name": "lenet", **train settings}, "SimpleNet80": ...}``;
    ``heads``: ``{"net", "train", "arch", "code_length", "code_seed"}`` of paper B's
    three DenseNet heads."""
    cache = cache or ModelCache()
    fit = dict(device=device, cache=cache)
    out = suite.fit_models(PAPER_A_SOURCES, models, seed, n_votes, data_key, data.x_train, data.y_train, **fit)
    out["MLP01 votes"] = suite.fit_model("MLP01", models, seed, n_votes, data_key, data.x_train, data.y_train, **fit)
    out["MLP400"] = suite.fit_model("MLP400", models, seed, 1, data_key, data.x_train, data.y_train, **fit)
    shape = tuple(net_data.x_train.shape[1:])
    for label in ("LeNet", "SimpleNet80"):
        spec = dict(nets[label])
        out[label] = cache.fit_net(spec.pop("name"), shape, 2, net_key, net_data.x_train, net_data.y_train,
                                   seed=seed, train_settings=spec, device=device)
    h = dict(heads)
    out.update(fit_heads(h["net"], shape, 2, net_key, net_data.x_train, net_data.y_train, seed=seed,
                         train=h["train"], arch=h.get("arch") or {}, code_length=h.get("code_length", 128),
                         code_seed=h.get("code_seed", 0), device=device, cache=cache))
    return {f: out[f] for f in FAMILIES}


def white_box_attacks(name: str, model, *, steps: int, seed: int) -> dict:
    """``{attack name: (make(eps) -> atk, is paper A's attack)}`` for family ``name``."""
    if name in ("SVM", "SCD01"):
        return {"sign(w)": (lambda eps: paper_attack(model, eps), True)}
    if name in ("MLP01", "MLP01 votes"):
        return {"hidden-node": (lambda eps: paper_attack(model, eps, seed), True)}
    if isinstance(model, torch.nn.Module):
        module, loss = model, getattr(model, "loss", None) or CrossEntropy()
    else:  # MLP, MLP400: their softmax network
        module, loss = model.as_module(), CrossEntropy()
    margin = ScoreMargin(loss)

    def pgd(lossfn):
        return lambda eps: PGD(module, eps, alpha=2.5 * eps / steps, steps=steps, loss=lossfn, seed=seed)

    return {"FGSM": (lambda eps: FGSM(module, eps, loss=loss), True), "PGD": (pgd(loss), False),
            "PGD margin": (pgd(margin), False)}


def label_only_starts(model, x, y, pool) -> torch.Tensor:
    """Per row of ``x``, the nearest (L2) point of the attacker's own ``pool`` that
    ``model`` labels otherwise than ``y``: HopSkipJump's start (foolbox's dataset
    initialisation), which uniform noise may not provide (a network can give noise
    the row's own label). A row without one gets itself (the attack then fails on it)."""
    labels = predict(model, pool)
    d = torch.cdist(x.flatten(1).double(), pool.flatten(1).double())
    d = d.masked_fill(labels[None, :] == y[:, None], float("inf"))
    best = d.argmin(1)
    starts = pool[best].clone()
    none = torch.isinf(d.min(1).values)
    starts[none] = x[none]
    return starts


def _distances(family: str, hsj: dict, model, x, y) -> list[dict]:
    rows = []
    right = (predict(model, x) == y).numpy()
    for name, atk in hsj.items():
        found = np.where(atk.success.cpu().numpy(), atk.norms.cpu().numpy(), np.inf)[right]
        rows.append({"family": family, "attack": name, "norm": atk.norm,
                     "median": float(np.median(found)) if len(found) else float("nan"),
                     "success": 100.0 * float(np.isfinite(found).mean()) if len(found) else float("nan"),
                     "queries": float(atk.queries.float()[torch.as_tensor(right)].mean()) if len(found) else 0.0})
    return rows


def audit_families(families: dict, x_test, y_test, *, eps_values, eps_matrix: float, seed: int,
                   n_audit: int | None, n_seed_points: int, pgd_steps: int = 20, hsj: dict | None = None,
                   substitute: NetSubstitute | None = None, rounds: int = 6, cap: int = 400, lam: float = 0.1,
                   progress: bool = True) -> dict[str, pd.DataFrame]:
    """The audit of every family on the same test rows (one seed).

    The test set is split as the black box splits it (:func:`seed_and_attack_split`):
    ``n_seed_points`` rows are the substitute's starting points, ``n_audit`` others
    are audited. Returns frames (each with a ``family`` column):

    - ``curves``: (eps, attack, kind, accuracy) with the "worst case" rows and the
      rows "paper A's attacks" (kind "paper A"), per family;
    - ``flags``: :func:`zerolib.audit.audit`'s checks, per family;
    - ``distances``: HopSkipJump's median distance (L2 run: L2, Linf run: Linf) over
      the correctly classified rows (a failed image counts as infinitely far), its
      success rate and mean queries;
    - ``transfer``: (source, target, accuracy) at ``eps_matrix``: the target on the
      source's white-box adversaries (worst over the source's attacks, per image);
      the diagonal is the white-box worst case.
    """
    eps_values = sorted({float(e) for e in eps_values} | {0.0, float(eps_matrix)})
    bounded_eps = [e for e in eps_values if e > 0]
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}; expected some of {list(FAMILIES)}")
    s_idx, a_idx = seed_and_attack_split(len(x_test), n_seed_points, seed, n_audit)
    x, y = x_test[a_idx], torch.as_tensor(y_test)[a_idx].long()
    x_seed = x_test[s_idx]
    substitute = substitute or NetSubstitute()
    hsj = dict(hsj or {})

    # every family's white-box adversaries, made once: scored on itself and on every other family
    wb, paper_names, adv = {}, {}, {}
    bar = tqdm(families.items(), desc="white-box adversaries", disable=not progress)
    for fam, model in bar:
        wb[fam] = white_box_attacks(fam, model, steps=pgd_steps, seed=seed)
        paper_names[fam] = [a for a, (_, is_paper) in wb[fam].items() if is_paper]
        adv[fam] = {a: {e: make(e)(x, y) for e in bounded_eps} for a, (make, _) in wb[fam].items()}

    curves, flags, dists, sub_queries = [], [], [], {}
    for fam, model in tqdm(families.items(), desc="audit", disable=not progress):
        own = [fixed(a, model, adv[fam][a], kind="white-box") for a in wb[fam]]
        transfer = [fixed(f"from {src}", model, {e: [adv[src][a][e] for a in adv[src]] for e in bounded_eps},
                          kind="transfer") for src in families if src != fam]
        sub, sub_queries[fam] = train_substitute(model, substitute, x_seed, n_classes=2, rounds=rounds, lam=lam,
                                                 cap=cap, seed=seed)
        black = fixed("substitute", model, {e: substitute.adversaries(sub, x, y, e) for e in bounded_eps})
        decision = {f"HSJ {n}": HopSkipJump(model, n, seed=seed, **hsj) for n in ("L2", "Linf")}
        starts = label_only_starts(model, x, y, x_seed)
        label_only = [minimal(name, model, partial(atk, x_init=starts), norm="Linf") for name, atk in decision.items()]
        c, f = audit(model, x, y, own + transfer + [black] + label_only, eps_values,
                     differentiable=fam not in ZERO_ONE)
        paper = [fixed(a, model, adv[fam][a], kind="white-box") for a in paper_names[fam]]
        paper += [fixed(f"from {src}", model, {e: [adv[src][a][e] for a in paper_names[src]] for e in bounded_eps},
                        kind="transfer") for src in PAPER_A_SOURCES if src in families and src != fam]
        pc, _ = audit(model, x, y, paper + [black], eps_values, differentiable=fam not in ZERO_ONE)
        pc = pc[pc.attack == "worst case"].assign(attack="paper A's attacks", kind="paper A")
        curves.append(pd.concat([c, pc], ignore_index=True).assign(family=fam))
        flags.append(f.assign(family=fam))
        dists += _distances(fam, decision, model, x, y)

    matrix = []
    for src in families:
        for tgt, model in families.items():
            ok = predict(model, x) == y
            for a in adv[src]:
                ok &= predict(model, adv[src][a][float(eps_matrix)]) == y
            matrix.append({"source": src, "target": tgt, "eps": float(eps_matrix),
                           "accuracy": 100.0 * float(ok.double().mean())})
    dist = pd.DataFrame(dists)
    dist["substitute_queries"] = dist.family.map(sub_queries)
    return {"curves": pd.concat(curves, ignore_index=True), "flags": pd.concat(flags, ignore_index=True),
            "distances": dist, "transfer": pd.DataFrame(matrix)}


def audit_seed(families: dict, x_test, y_test, *, state_dir=None, **settings) -> dict[str, pd.DataFrame]:
    """:func:`audit_families` for one seed, kept in ``state_dir`` (one JSON file,
    written atomically when the seed is done) so a rerun reads it instead of redoing it."""
    path = None if state_dir is None else state_dir / "audit.json"
    if path is not None and path.exists():
        return {k: pd.DataFrame(v["data"], columns=v["columns"]) for k, v in json.loads(path.read_text()).items()}
    frames = audit_families(families, x_test, y_test, **settings)
    if path is not None:
        write_json(path, {k: {"columns": list(v.columns), "data": v.values.tolist()} for k, v in frames.items()})
    return frames
