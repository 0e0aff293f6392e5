"""The robustness audit of every model family of both papers on one binary task.

Both papers leave the same question open: paper A's 01-loss models have no useful
gradient, so every gradient attack on them is a heuristic; paper B's MSE-on-softmax
and tanh-codebook heads may flatten or saturate the gradient (gradient masking). This
module runs every applicable attack on every family and scores each image by the
worst case (:mod:`zerolib.attacks.audit`):

- **white-box**: paper A's own attack on the family (``sign(w)`` for SVM and SCD01,
  the hidden-node heuristic for MLP01, FGSM for the differentiable models); on the
  01-loss families (single runs and vote ensembles) the adaptive
  :class:`~zerolib.attacks.SurrogatePGD` (PGD on a margin through a tempered-sigmoid
  and a straight-through stand-in, every iterate judged by the real model); on every
  differentiable family PGD on the model's own loss and PGD on the margin of its
  scores (:class:`zerolib.losses.ScoreMargin`), and on the codebook head PGD on the
  margin of the pre-tanh distances to the codewords (the attacker knows the codebook),
  which tanh cannot saturate;
- **score-based**: the Square attack (Linf) on the family's scores (the vote
  ensembles' vote counts with their tie-break), a gradient-free second opinion;
- **noise**: uniform noise in the ball, several draws: the baseline no attack may
  lose to, and the input of the collapse check;
- **transfer**: every other family's white-box adversaries, scored on this one (one
  attack per source: an image survives only if all of the source's adversaries fail);
- **black-box**: a Papernot substitute (paper A's MLP substitute, Jacobian
  augmentation) trained on this family's labels, its FGSM adversaries;
- **decision**: HopSkipJump, L2 and Linf, on labels only, started from the nearest of
  the attacker's own (substitute seed) points that the model labels otherwise
  (:func:`label_only_starts`); each found adversary breaks
  its image at every eps at least its Linf size.

Paper A's attacks alone (the family's paper attack, transfer from paper A's four
models' paper attacks, and the substitute) give a second robust-accuracy curve, and
transfer alone (every other family's white-box adversaries) a third, so the gain of
the audit over the paper's own evaluation and over the transfer experiments is measured.
HopSkipJump's median L2 distance is also measured against its query budget on a subset
(``distance_vs_queries``), to show whether the budget reached its plateau.

Every family is fitted on the same task (classes 0 vs 1), the paper A families
through :mod:`zerolib.experiments.common.model_suite`, the networks through the model cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from zerolib._io import write_json
from zerolib.attacks import FGSM, PGD, HopSkipJump, Square, SurrogatePGD
from zerolib.attacks.audit import CATEGORIES, AuditAttack, audit, fixed, minimal, noise
from zerolib.losses import CodewordMSE, CrossEntropy, ScoreMargin
from zerolib.models.interface import predict

from .common import model_suite as suite
from .common.attack_grid import ATTACK_BATCH, chunk_seed, chunked
from .common.cache import ModelCache
from .common.head_models import HEAD_MODELS, fit_heads
from .common.markdown import Section, figures, md_table
from .common.substitutes import NetSubstitute, seed_and_attack_split, train_substitute
from .common.summary import over_seeds, wide
from .common.transfer import paper_attack

__all__ = ["NOTEBOOK", "FRAMES", "PER_SEED", "ROBUST", "PAPER_A_VS_WORST", "ADAPTIVE", "FLAGS", "DISTANCES",
           "HSJ_CURVE", "TRANSFER_MATRIX", "READING", "FAMILIES", "ZERO_ONE", "PAPER_A_SOURCES", "fit_families",
           "white_box_attacks", "score_module", "label_only_starts", "distance_vs_queries", "audit_families",
           "audit_seed", "stack_seeds", "robust_table", "adaptive_table", "comparison_at", "distance_table",
           "flag_table", "failed_flags", "hsj_curve_table", "transfer_matrix", "reading", "load_frames", "section"]

NOTEBOOK = "robustness_audit"
FRAMES = ("curves", "flags", "distances", "hsj_curve", "transfer")
"""The frames one seed's audit returns (:func:`audit_families`)."""
PER_SEED = {k: f"{k}_per_seed" for k in FRAMES}
"""The file each frame is saved to, every seed's rows together with a ``seed`` column."""
ROBUST, PAPER_A_VS_WORST, ADAPTIVE = "robust_accuracy", "paper_a_vs_worst", "adaptive"
FLAGS, DISTANCES, HSJ_CURVE, TRANSFER_MATRIX = "flags", "distances", "hsj_distance_vs_queries", "transfer_matrix"
READING = "reading"
FIGURES = (f"{ROBUST}.png", f"{HSJ_CURVE}.png", f"{TRANSFER_MATRIX}.png")

FAMILIES = ("SVM", "SCD01", "SCD01 votes", "MLP", "MLP01", "MLP01 votes", "MLP400", "LeNet",
            "SimpleNet80") + HEAD_MODELS
ZERO_ONE = ("SCD01", "SCD01 votes", "MLP01", "MLP01 votes")
"""The 01-loss families: no gradient, so no gradient-masking check applies to them."""
PAPER_A_SOURCES = suite.MODEL_NAMES
"""The sources of paper A's white-box transfer (Table III)."""


def fit_families(data, data_key: dict, seed: int, *, models: dict, n_votes: int, net_data, net_key: dict,
                 nets: dict, heads: dict, device: str = "cpu", cache: ModelCache | None = None) -> dict:
    """``{family: fitted model}`` for one seed. ``data``/``data_key``: paper A's task;
    ``models``: paper A's settings (:func:`zerolib.experiments.common.model_suite.make_estimator`); ``n_votes``:
    the SCD01 and MLP01 ensembles' votes (the single runs are
    :func:`zerolib.experiments.common.model_suite.fit_single`'s,
    so the black-box notebook's cached models are these); ``net_data``/``net_key``: the networks' training rows;
    ``nets``: ``{"LeNet": {"name": "lenet", **train settings}, "SimpleNet80": ...}``;
    ``heads``: ``{"net", "train", "arch", "code_length", "code_seed"}`` of paper B's
    three DenseNet heads."""
    cache = cache or ModelCache()
    fit = dict(device=device, cache=cache)
    out = suite.fit_models(PAPER_A_SOURCES, models, seed, n_votes, data_key, data.x_train, data.y_train, **fit)
    for name in ("SCD01", "MLP01"):
        out[f"{name} votes"] = suite.fit_model(name, models, seed, n_votes, data_key, data.x_train, data.y_train, **fit)
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


def white_box_attacks(name: str, model, *, steps: int, seed: int, surrogate: dict | None = None) -> dict:
    """``{attack name: (make(eps) -> atk, is paper A's attack)}`` for family ``name``;
    ``surrogate``: :class:`~zerolib.attacks.SurrogatePGD`'s settings on the 01-loss families."""
    if name == "SVM":
        return {"sign(w)": (lambda eps: paper_attack(model, eps), True)}
    if name in ZERO_ONE:
        paper = "sign(w)" if name.startswith("SCD01") else "hidden-node"
        adaptive = dict(surrogate or {})
        return {paper: (lambda eps: paper_attack(model, eps, seed), True),
                "surrogate PGD": (lambda eps: SurrogatePGD(model, eps, seed=seed, **adaptive), False)}
    module, loss = score_module(model)
    margin = ScoreMargin(loss)

    def pgd(lossfn):
        return lambda eps: PGD(module, eps, alpha=2.5 * eps / steps, steps=steps, loss=lossfn, seed=seed)

    out = {"FGSM": (lambda eps: FGSM(module, eps, loss=loss), True), "PGD": (pgd(loss), False),
           "PGD margin": (pgd(margin), False)}
    if isinstance(loss, CodewordMSE):
        out["PGD pre-tanh margin"] = (pgd(ScoreMargin(loss, pre_activation=True)), False)
    return out


def score_module(model):
    """(module, loss adapter) whose ``loss.scores(module(x))`` are ``model``'s per-class
    scores: a network with its head, or an estimator's vote view (cross-entropy on its
    per-class scores; the Square attack reads the vote counts with their tie-break)."""
    if isinstance(model, torch.nn.Module):
        return model, getattr(model, "loss", None) or CrossEntropy()
    return model.as_module(), CrossEntropy()


def judge(model) -> torch.nn.Module:
    """The module that predicts exactly as ``model``: a network itself, an estimator's
    vote view in float64 (what its ``predict`` computes, built once instead of per call)."""
    if isinstance(model, torch.nn.Module):
        return model
    return model.as_module(dtype=torch.float64)


class LabelMemo:
    """A model's labels of the batches it has seen, by object: the audit scores each
    adversary batch on one model several times (its own curve, paper A's, transfer alone,
    the matrix), and predicts it once. Holds a reference to each batch so ids stay unique."""

    def __init__(self, model):
        self.model, self.seen = model, {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        hit = self.seen.get(id(x))
        if hit is None or hit[0] is not x:
            hit = self.seen[id(x)] = (x, predict(self.model, x))
        return hit[1]


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


def distance_vs_queries(family: str, model, x, y, starts, *, budgets, seed: int, hsj: dict) -> list[dict]:
    """HopSkipJump L2's median distance over the correctly classified rows of ``x``
    after at most each of ``budgets`` queries (one run to the largest, recorded on the way)."""
    budgets = sorted({int(b) for b in budgets})
    settings = {k: v for k, v in hsj.items() if k != "max_queries"}
    atk = HopSkipJump(model, "L2", seed=seed, max_queries=budgets[-1], record_at=budgets, **settings)
    atk(x, y, x_init=starts)
    right = (predict(model, x) == y).cpu()
    rows = []
    for b in budgets:
        found = atk.trace[b][right].numpy()
        rows.append({"family": family, "queries": b, "rows": int(right.sum()),
                     "median": float(np.median(found)) if len(found) else float("nan"),
                     "success": 100.0 * float(np.isfinite(found).mean()) if len(found) else float("nan")})
    return rows


LEVELLED = 0.10
"""HopSkipJump's median L2 has levelled off when doubling its budget improved it by at most this fraction.
Its flag's category is "query budget": where it fails, the label-only *distances* are upper bounds
still falling (the reading says so); the robust accuracies rest on every attack, not on that median."""


def _levelled_off(rows: list[dict]) -> dict:
    """The flag on :func:`distance_vs_queries`'s last two budgets."""
    a, b = rows[-2], rows[-1]
    gain = (a["median"] - b["median"]) / a["median"] if np.isfinite(a["median"]) and a["median"] > 0 else float("nan")
    ok = bool(np.isfinite(b["median"]) and np.isfinite(gain) and gain <= LEVELLED)
    return {"check": f"HSJ L2 median levelled off (at most {100 * LEVELLED:g} % closer from {a['queries']} "
                     f"to {b['queries']} queries)", "ok": ok,
            "detail": f"median L2 {a['median']:.3f} -> {b['median']:.3f} on {b['rows']} rows", "category": "query budget"}


@dataclass
class _Setup:
    """What every family's audit of one seed shares: the audited rows and the substitute's
    seed points, the eps grid, the attacks' settings, and (filled by
    :func:`_white_box_adversaries`) every family's white-box adversaries, judges and label memos."""

    families: dict
    x: torch.Tensor
    y: torch.Tensor
    x_seed: torch.Tensor
    eps_values: list
    eps_matrix: float
    seed: int
    hsj: dict
    square: dict | None
    noise_draws: int
    hsj_budgets: tuple
    hsj_rows: int
    substitute: NetSubstitute
    rounds: int
    cap: int
    lam: float
    wb: dict = field(default_factory=dict)
    paper_names: dict = field(default_factory=dict)
    adv: dict = field(default_factory=dict)
    judges: dict = field(default_factory=dict)
    memos: dict = field(default_factory=dict)

    @property
    def bounded_eps(self) -> list[float]:
        return [e for e in self.eps_values if e > 0]


@dataclass
class _FamilyAudit:
    """One family's share of the seed's frames (see :func:`audit_families`)."""

    curves: pd.DataFrame
    flags: pd.DataFrame
    distances: list[dict]
    hsj_curve: list[dict]
    substitute_queries: int


def _setup(families: dict, x_test, y_test, *, eps_values, eps_matrix: float, seed: int, n_audit: int | None,
           n_seed_points: int, substitute: NetSubstitute | None, hsj: dict | None, **settings) -> _Setup:
    """The seed's shared state: the eps grid (with 0 and ``eps_matrix``), the test set split as
    the black box splits it (:func:`seed_and_attack_split`), the default substitute."""
    eps_values = sorted({float(e) for e in eps_values} | {0.0, float(eps_matrix)})
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}; expected some of {list(FAMILIES)}")
    s_idx, a_idx = seed_and_attack_split(len(x_test), n_seed_points, seed, n_audit)
    return _Setup(families=families, x=x_test[a_idx], y=torch.as_tensor(y_test)[a_idx].long(), x_seed=x_test[s_idx],
                  eps_values=eps_values, eps_matrix=eps_matrix, seed=seed, substitute=substitute or NetSubstitute(),
                  hsj=dict(hsj or {}), **settings)


def _white_box_adversaries(s: _Setup, *, pgd_steps: int, surrogate: dict | None, progress: bool) -> None:
    """Every family's white-box adversaries, made once (scored on itself and on every other
    family), then each family's judge and label memo. The rows are attacked in chunks of
    ``ATTACK_BATCH``, chunk i seeded as paper B's grids seed theirs (``chunk_seed``), so the
    memory is a chunk's (an input gradient of DenseNet-40 holds about 20 MB an image: the
    paper-scale audit's 1000 rows at once would need 20 GB) and an audit of at most
    ``ATTACK_BATCH`` rows is one chunk with the audit's seed."""
    for fam, model in tqdm(s.families.items(), desc="white-box adversaries", disable=not progress):
        built: dict[int, dict] = {}  # chunk i's attacks, built once for all its attacks and eps

        def chunk_attacks(i, fam=fam, model=model, built=built):
            if i not in built:
                built[i] = white_box_attacks(fam, model, steps=pgd_steps, seed=chunk_seed(s.seed, i),
                                             surrogate=surrogate)
            return built[i]

        s.wb[fam] = chunk_attacks(0)
        s.paper_names[fam] = [a for a, (_, is_paper) in s.wb[fam].items() if is_paper]
        s.adv[fam] = {a: {e: chunked(lambda xc, yc, i, a=a, e=e: chunk_attacks(i)[a][0](e)(xc, yc), s.x, s.y,
                                     ATTACK_BATCH)
                          for e in s.bounded_eps} for a in s.wb[fam]}
    s.judges = {fam: judge(model) for fam, model in s.families.items()}
    s.memos = {fam: LabelMemo(j) for fam, j in s.judges.items()}


def _from_source(s: _Setup, fam: str, src: str, attacks, labels) -> AuditAttack:
    """Source ``src``'s adversaries of ``attacks`` scored on ``fam`` (all must fail for an image to survive)."""
    return fixed(f"from {src}", s.judges[fam], {e: [s.adv[src][a][e] for a in attacks] for e in s.bounded_eps},
                 kind="transfer", labels=labels)


def _substitute_attack(s: _Setup, model, labels) -> tuple[AuditAttack, int]:
    """A Papernot substitute trained on ``model``'s labels, its FGSM adversaries; and its label queries."""
    sub, queries = train_substitute(model, s.substitute, s.x_seed, n_classes=2, rounds=s.rounds, lam=s.lam,
                                    cap=s.cap, seed=s.seed)
    black = fixed("substitute", model, {e: s.substitute.adversaries(sub, s.x, s.y, e) for e in s.bounded_eps},
                  labels=labels)
    return black, queries


def _score_and_noise_attacks(s: _Setup, fitted, model, labels) -> list[AuditAttack]:
    """The Square attack on ``fitted``'s scores (unless disabled) and the uniform-noise baseline."""
    extra = []
    if s.square is not None:
        _, loss = score_module(fitted)
        def square(e):  # in chunks, as the white-box attacks
            return chunked(lambda xc, yc, i: Square(model, e, loss=loss, seed=chunk_seed(s.seed, i), **s.square)(xc, yc),
                           s.x, s.y, ATTACK_BATCH)

        extra.append(fixed("Square", model, {e: square(e) for e in s.bounded_eps}, kind="score", labels=labels))
    if s.noise_draws:
        extra.append(noise("uniform noise", model, draws=s.noise_draws, seed=s.seed))
    return extra


def _label_only_attacks(s: _Setup, model) -> tuple[dict, torch.Tensor, list[AuditAttack]]:
    """HopSkipJump L2 and Linf (the attack objects, read back for the distances), their
    starts from the attacker's own points, and the audit's minimal-adversary attacks."""
    decision = {f"HSJ {n}": HopSkipJump(model, n, seed=s.seed, **s.hsj) for n in ("L2", "Linf")}
    starts = label_only_starts(model, s.x, s.y, s.x_seed)
    label_only = [minimal(name, model, partial(atk, x_init=starts), norm="Linf") for name, atk in decision.items()]
    return decision, starts, label_only


def _audit_family(s: _Setup, fam: str, fitted) -> _FamilyAudit:
    """Every attack on family ``fam``: its curves (worst case, paper A's attacks alone,
    transfer alone), its flags, HopSkipJump's distances and its distance-against-queries rows."""
    model, labels = s.judges[fam], s.memos[fam]
    differentiable = fam not in ZERO_ONE
    own = [fixed(a, model, s.adv[fam][a], kind="white-box", labels=labels) for a in s.wb[fam]]
    transfer = [_from_source(s, fam, src, s.adv[src], labels) for src in s.families if src != fam]
    black, queries = _substitute_attack(s, model, labels)
    extra = _score_and_noise_attacks(s, fitted, model, labels)
    decision, starts, label_only = _label_only_attacks(s, model)
    c, f = audit(model, s.x, s.y, own + extra + transfer + [black] + label_only, s.eps_values,
                 differentiable=differentiable, collapse_max_eps=float(s.eps_matrix))
    paper = [fixed(a, model, s.adv[fam][a], kind="white-box", labels=labels) for a in s.paper_names[fam]]
    paper += [_from_source(s, fam, src, s.paper_names[src], labels)
              for src in PAPER_A_SOURCES if src in s.families and src != fam]
    pc = _worst_only(model, s.x, s.y, paper + [black], s.eps_values, differentiable, "paper A's attacks", "paper A")
    tc = _worst_only(model, s.x, s.y, transfer, s.eps_values, differentiable, "transfer alone", "transfer alone") \
        if transfer else None
    rows = []
    if s.hsj_budgets:
        n = min(s.hsj_rows, len(s.x))
        rows = distance_vs_queries(fam, model, s.x[:n], s.y[:n], starts[:n], budgets=s.hsj_budgets, seed=s.seed,
                                   hsj=s.hsj)
        if len(rows) >= 2:  # the flag compares the last two budgets (a dry run has one)
            f = pd.concat([f, pd.DataFrame([_levelled_off(rows)])], ignore_index=True)
    return _FamilyAudit(curves=pd.concat([c, pc, tc], ignore_index=True).assign(family=fam), flags=f.assign(family=fam),
                        distances=_distances(fam, decision, model, s.x, s.y), hsj_curve=rows,
                        substitute_queries=queries)


def _transfer_rows(s: _Setup) -> list[dict]:
    """The transfer matrix at ``eps_matrix``: each target on each source's white-box adversaries
    (an image survives only if every one of the source's attacks fails)."""
    matrix = []
    for src in s.families:
        for tgt in s.families:
            ok = s.memos[tgt](s.x) == s.y
            for a in s.adv[src]:
                ok &= s.memos[tgt](s.adv[src][a][float(s.eps_matrix)]) == s.y
            matrix.append({"source": src, "target": tgt, "eps": float(s.eps_matrix),
                           "accuracy": 100.0 * float(ok.double().mean())})
    return matrix


def _seed_frames(s: _Setup, audited: dict[str, _FamilyAudit]) -> dict[str, pd.DataFrame]:
    """The families' audits gathered into the seed's frames (see :func:`audit_families`)."""
    dist = pd.DataFrame([row for a in audited.values() for row in a.distances])
    dist["substitute_queries"] = dist.family.map({fam: a.substitute_queries for fam, a in audited.items()})
    hsj_curve = [row for a in audited.values() for row in a.hsj_curve]
    return {"curves": pd.concat([a.curves for a in audited.values()], ignore_index=True),
            "flags": pd.concat([a.flags for a in audited.values()], ignore_index=True),
            "distances": dist, "hsj_curve": pd.DataFrame(hsj_curve, columns=["family", "queries", "rows", "median",
                                                                             "success"]),
            "transfer": pd.DataFrame(_transfer_rows(s))}


def audit_families(families: dict, x_test, y_test, *, eps_values, eps_matrix: float, seed: int,
                   n_audit: int | None, n_seed_points: int, pgd_steps: int = 20, hsj: dict | None = None,
                   surrogate: dict | None = None, square: dict | None = None, noise_draws: int = 5,
                   hsj_budgets=(), hsj_rows: int = 20,
                   substitute: NetSubstitute | None = None, rounds: int = 6, cap: int = 400, lam: float = 0.1,
                   progress: bool = True) -> dict[str, pd.DataFrame]:
    """The audit of every family on the same test rows (one seed).

    The test set is split as the black box splits it (:func:`seed_and_attack_split`):
    ``n_seed_points`` rows are the substitute's starting points, ``n_audit`` others
    are audited. ``surrogate``: :class:`~zerolib.attacks.SurrogatePGD`'s settings;
    ``square``: :class:`~zerolib.attacks.Square`'s (Linf; ``{}`` its defaults, None: no
    Square attack); ``noise_draws``: draws of the noise baseline (0: none);
    ``hsj_budgets``: query budgets of the distance-against-queries curve on the first
    ``hsj_rows`` audited rows (empty: none). Returns frames (each with a ``family`` column):

    - ``curves``: (eps, attack, kind, accuracy) with the "worst case" rows, the rows
      "paper A's attacks" (kind "paper A") and "transfer alone" (kind "transfer alone"),
      per family;
    - ``flags``: :func:`zerolib.attacks.audit.audit`'s checks, per family, with their category,
      plus whether HopSkipJump's median levelled off;
    - ``distances``: HopSkipJump's median distance (L2 run: L2, Linf run: Linf) over
      the correctly classified rows (a failed image counts as infinitely far), its
      success rate and mean queries;
    - ``hsj_curve``: :func:`distance_vs_queries` per family (empty without budgets);
    - ``transfer``: (source, target, accuracy) at ``eps_matrix``: the target on the
      source's white-box adversaries (worst over the source's attacks, per image);
      the diagonal is the white-box worst case.
    """
    s = _setup(families, x_test, y_test, eps_values=eps_values, eps_matrix=eps_matrix, seed=seed, n_audit=n_audit,
               n_seed_points=n_seed_points, substitute=substitute, hsj=hsj, square=square, noise_draws=noise_draws,
               hsj_budgets=hsj_budgets, hsj_rows=hsj_rows, rounds=rounds, cap=cap, lam=lam)
    _white_box_adversaries(s, pgd_steps=pgd_steps, surrogate=surrogate, progress=progress)
    audited = {fam: _audit_family(s, fam, fitted)
               for fam, fitted in tqdm(families.items(), desc="audit", disable=not progress)}
    return _seed_frames(s, audited)


def _worst_only(model, x, y, attacks, eps_values, differentiable, name, kind) -> pd.DataFrame:
    """The worst case of ``attacks`` alone, as curve rows named ``name`` of kind ``kind``."""
    c, _ = audit(model, x, y, attacks, eps_values, differentiable=differentiable)
    return c[c.attack == "worst case"].assign(attack=name, kind=kind)


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


def stack_seeds(by_seed: dict[int, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """``{seed: audit_seed's frames}`` as one frame per kind, each row with its ``seed``:
    the per-seed tables the notebook saves (:data:`PER_SEED`) and every table below reads."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for s, r in by_seed.items():
        for k, v in r.items():
            frames.setdefault(k, []).append(v.assign(seed=s))
    return {k: pd.concat(v, ignore_index=True) for k, v in frames.items()}


# ----------------------------------------------------------------- tables and reading
# The notebook and the report both show these; every sentence of the reading is built
# from the numbers, so it cannot contradict them.

CONVEX_COUNTERPART = {"SCD01": "SVM", "SCD01 votes": "SVM", "MLP01": "MLP", "MLP01 votes": "MLP"}
"""Each 01-loss family beside the convex model of the same shape (paper A's comparison)."""
ADAPTIVE_ROWS = ("paper attack", "surrogate PGD", "Square", "transfer alone", "paper A's attacks", "worst case")


def _families_in(df: pd.DataFrame) -> list[str]:
    return [f for f in FAMILIES if f in set(df.family)]


def robust_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Family x eps: the worst case per image, mean ± sd over seeds."""
    worst = over_seeds(curves[curves.attack == "worst case"], ["family", "eps"])
    return wide(worst, "family", "eps", rows=_families_in(curves))


def adaptive_table(curves: pd.DataFrame) -> pd.DataFrame:
    """The 01-loss families, attack by attack over eps: paper A's own attack (sign(w) or
    hidden-node), the surrogate-gradient PGD, Square, transfer alone, paper A's attacks
    together, and the worst case of the whole audit (mean ± sd over seeds)."""
    fams = [f for f in _families_in(curves) if f in ZERO_ONE]
    c = curves[curves.family.isin(fams)].copy()
    c.loc[c.attack.isin(["sign(w)", "hidden-node"]), "attack"] = "paper attack"
    c = c[c.attack.isin(ADAPTIVE_ROWS)]
    s = over_seeds(c, ["family", "attack", "eps"])
    s["row"] = s.family + ": " + s.attack
    rows = [f"{f}: {a}" for f in fams for a in ADAPTIVE_ROWS if f"{f}: {a}" in set(s.row)]
    return wide(s, "row", "eps", rows=rows)


def failed_flags(flags: pd.DataFrame) -> dict[str, list[str]]:
    """``{family: ["check (category, failed in k/n seeds)", ...]}`` for the families with a
    failed check of category "broken model" or "attack strength"."""
    out: dict[str, list[str]] = {}
    n = flags.groupby("family").seed.nunique() if "seed" in flags else None
    for (fam, check, cat), g in flags.groupby(["family", "check", "category"], sort=False):
        bad = int((~g.ok.astype(bool)).sum())
        if bad and cat in CATEGORIES:
            seeds = f"{bad}/{int(n[fam])} seeds" if n is not None else f"{bad} runs"
            out.setdefault(fam, []).append(f"{check} ({cat}, failed in {seeds})")
    return out


def flag_table(flags: pd.DataFrame) -> pd.DataFrame:
    """Family x check: in how many seeds the check passed (the category in the column name)."""
    f = flags.assign(check=flags.check + " [" + flags.category + "]")
    passed = f.groupby(["family", "check"], sort=False).ok.agg(lambda v: f"{int(v.astype(bool).sum())}/{len(v)}")
    return passed.unstack().reindex(_families_in(flags)).fillna("n/a")


def comparison_at(curves: pd.DataFrame, distances: pd.DataFrame, eps: float) -> pd.DataFrame:
    """At ``eps``: the worst case beside paper A's attacks alone and transfer alone, and
    HopSkipJump's median distances."""
    kinds = ["paper A's attacks", "transfer alone", "worst case"]
    at = over_seeds(curves[(curves.eps == eps) & curves.attack.isin(kinds)], ["family", "attack"])
    rows = _families_in(curves)
    out = wide(at, "family", "attack", rows=rows, cols=kinds)
    med = wide(over_seeds(distances, ["family", "attack"], value="median"), "family", "attack", digits=3, rows=rows)
    return out.join(med.add_prefix("median distance, "))


def distance_table(distances: pd.DataFrame) -> pd.DataFrame:
    """Family x HopSkipJump run: median distance and success rate (mean ± sd over seeds)."""
    rows = _families_in(distances)
    med = wide(over_seeds(distances, ["family", "attack"], value="median"), "family", "attack", digits=3, rows=rows)
    succ = wide(over_seeds(distances, ["family", "attack"], value="success"), "family", "attack", rows=rows)
    return med.join(succ.add_suffix(" success %"))


def hsj_curve_table(hsj_curve: pd.DataFrame) -> pd.DataFrame:
    """Family x query budget: HopSkipJump L2's median distance (mean over seeds, 3 decimals);
    where a row still falls at the largest budget, the audit's distances are upper bounds."""
    curve = hsj_curve.groupby(["family", "queries"], sort=False)["median"].mean().unstack()
    return curve.reindex(_families_in(hsj_curve)).round(3)


def transfer_matrix(transfer: pd.DataFrame) -> pd.DataFrame:
    """Source x target over every family: the target's accuracy on the source's white-box
    adversaries at ``eps_matrix`` (mean over seeds, 1 decimal); the diagonal is the white-box worst case."""
    tm = transfer.groupby(["source", "target"]).accuracy.mean().unstack()
    return tm.reindex(index=list(FAMILIES), columns=list(FAMILIES)).round(1)


def _mean_sd(curves: pd.DataFrame, attack: str, eps: float) -> dict[str, tuple[float, float]]:
    s = over_seeds(curves[(curves.attack == attack) & (curves.eps == eps)], ["family"])
    return {r.family: (r["mean"], 0.0 if pd.isna(r["std"]) else r["std"]) for _, r in s.iterrows()}


def _pct(v: tuple[float, float]) -> str:
    return f"{v[0]:.1f} ± {v[1]:.1f} %"


def reading(frames: dict[str, pd.DataFrame], eps: float) -> list[str]:
    """The audit's answers at ``eps`` (the paper's), computed from ``frames`` (the
    per-seed tables with a ``seed`` column). A family with a failed "broken model" or
    "attack strength" flag is never read as robust: the sentence names the flag."""
    curves, flags, dist = frames["curves"], frames["flags"], frames["distances"]
    fams = _families_in(curves)
    flagged = failed_flags(flags)
    worst, paper, alone = (_mean_sd(curves, a, eps) for a in ("worst case", "paper A's attacks", "transfer alone"))
    n = curves.seed.nunique()

    def keeps(f):
        s = f"{f} {_pct(worst[f])}"
        extra = [f"paper A's attacks alone {_pct(paper[f])}"] if f in paper else []
        extra += [f"transfer alone {_pct(alone[f])}"] if f in alone else []
        return s + (f" ({'; '.join(extra)})" if extra else "")

    lines = [f"**What each family keeps at eps {eps:g} under every attack that fits it** (worst case per image, "
             f"mean ± sd over {n} seeds): " + "; ".join(keeps(f) for f in fams) + "."]
    readable = [f for f in fams if f not in flagged]
    if flagged:
        lines.append("**Not read as robustness** (a failed check says the model or the attacks are at fault): "
                     + "; ".join(f"{f}: {', '.join(flagged[f])}" for f in fams if f in flagged) + ".")
    lines += _adaptive_lines(curves, eps, fams)
    lines += _counterpart_lines(worst, flagged, fams, eps)
    lines += _label_only_lines(dist, frames.get("hsj_curve"), flags, fams)
    lines += _head_lines(curves, worst, flagged, fams, eps)
    lines.append(f"Families whose numbers stand as measured, with no failed broken-model or attack-strength check: "
                 f"{', '.join(readable) if readable else 'none'}.")
    return lines


def _adaptive_lines(curves, eps, fams) -> list[str]:
    own = {a: _mean_sd(curves, a, eps) for a in ("surrogate PGD", "sign(w)", "hidden-node", "Square")}
    parts = []
    for f in (f for f in fams if f in ZERO_ONE and f in own["surrogate PGD"]):
        p = own["sign(w)"].get(f) or own["hidden-node"].get(f)
        s = own["surrogate PGD"][f]
        word = "stronger than" if s[0] < p[0] - 1e-9 else ("as strong as" if abs(s[0] - p[0]) <= 1e-9 else "weaker than")
        sq = f", Square {_pct(own['Square'][f])}" if f in own["Square"] else ""
        parts.append(f"{f}: surrogate PGD leaves {_pct(s)}, paper A's own attack {_pct(p)}{sq} "
                     f"(the surrogate attack is {word} paper A's)")
    if not parts:
        return []
    return [f"**Do the 01-loss models survive an attacker who differentiates through a smooth stand-in?** At eps "
            f"{eps:g}: " + "; ".join(parts) + "."]


def _counterpart_lines(worst, flagged, fams, eps) -> list[str]:
    """A flagged family's number is only an upper bound: it may show that its family keeps
    *less* than an unflagged one, never more."""
    parts = []
    for f, c in CONVEX_COUNTERPART.items():
        if f not in fams or c not in fams:
            continue
        (a, sa), (b, sb) = worst[f], worst[c]
        apart = abs(a - b) > sa + sb
        if f in flagged and c in flagged:
            word = "not compared (both flagged)"
        elif f in flagged:
            word = ("the 01-loss model keeps less (its number, flagged, is an upper bound)" if apart and a < b
                    else f"not compared ({f} is flagged)")
        elif c in flagged:
            word = ("the 01-loss model keeps more (the convex number, flagged, is an upper bound)" if apart and a > b
                    else f"not compared ({c} is flagged)")
        elif not apart:
            word = "no difference beyond the seeds' spread"
        else:
            word = "the 01-loss model keeps more" if a > b else "the 01-loss model keeps less"
        parts.append(f"{f} {a:.1f} % vs {c} {b:.1f} %: {word}")
    if not parts:
        return []
    return [f"**01-loss against its convex counterpart at eps {eps:g}** (worst case): " + "; ".join(parts) + "."]


def _label_only_lines(dist, hsj_curve, flags, fams) -> list[str]:
    l2 = over_seeds(dist[dist.attack == "HSJ L2"], ["family"], value="median").set_index("family")["mean"]
    succ = over_seeds(dist, ["family", "attack"], value="success").groupby("family")["mean"].min()
    zo = [f for f in fams if f in ZERO_ONE]
    cv = [f for f in ("SVM", "MLP", "MLP400") if f in fams]
    if not zo or not cv:
        return []
    lev = flags[flags.check.str.startswith("HSJ L2 median levelled off")]
    not_lev = sorted(set(lev[~lev.ok.astype(bool)].family), key=fams.index)
    budget = (f" The median had not levelled off at the largest budget for {', '.join(not_lev)}: those "
              f"distances are upper bounds still falling." if not_lev else
              (" In every family the median had levelled off at the largest budget." if len(lev) else ""))
    closer = l2[zo].min() > l2[cv].max()
    return ["**Label-only distances (HopSkipJump L2, median over correctly classified rows):** "
            + ", ".join(f"{f} {l2[f]:.2f}" for f in zo) + " for the 01-loss models against "
            + ", ".join(f"{f} {l2[f]:.2f}" for f in cv) + " for the convex ones; HopSkipJump broke "
            + ("every correctly classified row of every 01-loss model. " if succ[zo].min() >= 100 else
               f"at least {succ[zo].min():.0f} % of the 01-loss models' correctly classified rows. ")
            + ("Every 01-loss model needs a larger label-only distance than every convex one." if closer else
               "The 01-loss models do not need a uniformly larger label-only distance than the convex ones.")
            + budget]


def _head_lines(curves, worst, flagged, fams, eps) -> list[str]:
    heads = [f for f in HEAD_MODELS if f in fams]
    if not heads:
        return []
    own = _mean_sd(curves, "PGD", eps)
    pre = _mean_sd(curves, "PGD pre-tanh margin", eps)
    parts = []
    for f in heads:
        s = f"{f} {_pct(worst[f])} (PGD on its own loss alone {_pct(own[f])})" if f in own else f"{f} {_pct(worst[f])}"
        if f in pre:
            s += f", PGD on the pre-tanh codeword margin {_pct(pre[f])}"
        parts.append(s + (" [flagged: not a robustness result]" if f in flagged else ""))
    ce = heads[0]
    gain = [f for f in heads[1:] if f not in flagged and ce not in flagged
            and worst[f][0] - worst[f][1] > worst[ce][0] + worst[ce][1]]
    verdict = (f"a gain over {ce} beyond the seeds' spread survives for {', '.join(gain)}" if gain else
               f"no MSE or codebook head keeps a gain over {ce} beyond the seeds' spread that is not flagged")
    return [f"**Do the MSE and codebook heads resist the adaptive attacks?** At eps {eps:g}: " + "; ".join(parts)
            + f"; {verdict}."]


# ----------------------------------------------------------------- the report's section

ATTACKS_RUN = ("Attacks: paper A's own (sign(w), hidden-node, FGSM); on the 01-loss models the surrogate-gradient PGD "
               "(BPDA through tempered-sigmoid and straight-through stand-ins); PGD on each network's loss, on its "
               "score margin and, for the codebook head, on the pre-tanh codeword margin; the score-based Square "
               "attack; transfer from every other family; a Papernot substitute; HopSkipJump L2 and Linf "
               "(label-only); a uniform-noise baseline. No paper number exists for these.")
SETTINGS_SHOWN = ("n_audit", "n_votes", "n_train", "n_train_nets", "surrogate", "square", "hsj")


def load_frames(d: Path) -> dict[str, pd.DataFrame] | None:
    """The per-seed frames saved in ``d`` (None when curves, flags or distances are missing);
    flags written before they had categories count as "attack strength"."""
    files = {k: d / f"{PER_SEED[k]}.csv" for k in ("curves", "flags", "distances", "hsj_curve")}
    if not all(files[k].is_file() for k in ("curves", "flags", "distances")):
        return None
    frames = {k: pd.read_csv(f) for k, f in files.items() if f.is_file()}
    if "category" not in frames["flags"]:
        frames["flags"]["category"] = "attack strength"
    return frames


def _eps_columns(df: pd.DataFrame, index_name: str) -> pd.DataFrame:
    """A family x eps table with its eps columns written as numbers (0.3, not 0.300000)."""
    df = df.copy()
    df.columns = [f"{e:g}" for e in df.columns]
    df.index.name = index_name
    return df


def _table_lines(frames: dict[str, pd.DataFrame], eps: float, params: dict) -> list[str]:
    """The worst case over eps, the comparison at ``eps``, the adaptive attack, HopSkipJump's curve."""
    curves, n = frames["curves"], frames["curves"].seed.nunique()
    cmp_ = comparison_at(curves, frames["distances"], eps)
    cmp_.index.name = "family"
    settings = ", ".join(f"{k} {params[k]}" for k in SETTINGS_SHOWN if k in params)
    task = " vs ".join(str(c) for c in params.get("classes", [0, 1]))
    lines = [f"#### Beyond the papers: robustness audit, classes {task}, accuracy (%) under the worst case of all "
             f"attacks per image, mean ± sd over {n} seeds", "", f"{ATTACKS_RUN} Settings: {settings}.", "",
             md_table(_eps_columns(robust_table(curves), "family / Linf eps")), "",
             f"At eps {eps:g}: paper A's attacks alone and transfer alone vs the worst case, and HopSkipJump's "
             "median distance (L2 run: L2; Linf run: Linf):", "", md_table(cmp_), ""]
    adaptive = adaptive_table(curves)
    if len(adaptive):
        lines += ["The adaptive attack on the 01-loss models, attack by attack:", "",
                  md_table(_eps_columns(adaptive, "01-loss family: attack / Linf eps")), ""]
    hc = frames.get("hsj_curve")
    if hc is not None and len(hc):
        curve = hsj_curve_table(hc)
        curve.index.name = "HSJ L2 median / queries"
        lines += [f"HopSkipJump L2's median distance against its query budget (mean over {n} seeds):", "",
                  md_table(curve), ""]
    return lines


def _flag_lines(flags: pd.DataFrame) -> list[str]:
    """The failed checks that bar a family's number, then every check."""
    fl = flag_table(flags)
    fl.index.name = "family / check [category] (seeds passing)"
    failed = [f"- {f}: {'; '.join(v)}" for f, v in failed_flags(flags).items()] or ["- none"]
    return (["Failed checks that keep a family's number from being read as robustness:", ""] + failed
            + ["", "All checks (Carlini et al. 2019; each computed per seed):", "", md_table(fl), ""])


def section(d: Path, dataset: str, params: dict) -> Section | None:
    """Beyond the papers: every family's worst case beside paper A's attacks and transfer alone,
    the adaptive attack on the 01-loss models, HopSkipJump's distances, the flags and the
    computed reading, from the files in ``d``; ``eps_matrix`` etc. from the run's ``params``."""
    frames = load_frames(d)
    if frames is None:
        return None
    eps = float(params.get("eps_matrix", frames["curves"].eps.max()))
    lines = _table_lines(frames, eps, params) + _flag_lines(frames["flags"])
    lines += ["Reading (computed from the numbers):", ""] + [f"- {line}" for line in reading(frames, eps)]
    return Section(lines + ["", figures(d, FIGURES), ""], [])
