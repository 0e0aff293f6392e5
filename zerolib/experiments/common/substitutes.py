"""The substitute-model black-box attack (Papernot et al. 2017) as paper A runs it.

The attacker sees only the target's labels. Starting from a seeded set of test
points held out from the points attacked, each round

1. trains a substitute on the points queried so far, labelled by the target
   (the oracle), from scratch, seeded by (seed, round);
2. makes untargeted white-box adversaries of the *substitute* on the attacked
   test points (FGSM for a network; sign(w) for an SCD01 substitute) and scores
   the *target* on them;
3. grows the training set by Jacobian augmentation,
   ``x' = clip(x + s_r * lambda * sign(grad_x F_{oracle label}(x)), 0, 1)``, with
   one random sign ``s_r`` per round, and queries the oracle on the new points only.

The set doubles each round until doubling would pass ``cap``; from then on each
round keeps a seeded random half of the set (``cap // 2`` points) and replaces the
other half with the augmentations of the kept half, so it stays at ``cap``.

Every round leaves a record: ``round``, ``n_train`` (points the substitute was
trained on), ``queries`` (oracle labels asked for so far, the training set's only),
``target_accuracy`` (the target on the adversaries; round 0: on the clean points),
``substitute_accuracy`` (the substitute on the clean attacked points),
``match_clean`` / ``match_adv`` (share of the attacked points, clean / adversarial,
where substitute and target give the same label). With ``state_dir`` the run is
resumable: after each round the set, its labels and the records are written
atomically, and a rerun continues after the last finished round, bitwise the same
as an uninterrupted run (every round's randomness is derived from (seed, round)).
"""

from __future__ import annotations

import json
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from zerolib.attacks import FGSM, SignAttack
from zerolib.models.interface import predict
from zerolib._io import atomic_write, write_json

from .markdown import num
from .summary import fmt, over_seeds
from .wording import trend

__all__ = ["NetSubstitute", "SCD01Substitute", "augment", "grow", "substitute_attack", "train_substitute", "seed_and_attack_split",
           "attack_targets", "attacked_rows", "CURVE_COLUMNS", "end_points", "curve_moves"]

RECORD_COLUMNS = ["round", "n_train", "queries", "target_accuracy", "substitute_accuracy", "match_clean",
                  "match_adv"]


def _round_seed(seed: int, rnd: int, stream: int) -> int:
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(rnd), int(stream)))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


# ----------------------------------------------------------------- substitutes
@dataclass
class NetSubstitute:
    """A torch substitute from ``zerolib.models.make_model`` (paper A: ``substitute_mlp``,
    two 200-node ReLU layers; ``substitute_cnn`` for Fig. 7), trained with cross-entropy."""

    name: str = "substitute_mlp"
    epochs: int = 10
    lr: float = 1e-3
    optimizer: str = "adam"
    batch_size: int = 64
    device: str = "cpu"

    def fit(self, x, labels, n_classes: int, seed: int):
        from zerolib.models import make_model, train

        net = make_model(self.name, tuple(x.shape[1:]), n_classes, head="ce", seed=seed)
        train(net, (x, labels), epochs=self.epochs, optimizer=self.optimizer, lr=self.lr,
              batch_size=self.batch_size, seed=seed, device=self.device, progress=False)
        return net

    def jacobian_sign(self, model, x, labels):
        """sign of the gradient of the substitute's output for ``labels`` at ``x``."""
        from zerolib.torchutil import eval_mode

        with eval_mode(model):
            x = x.clone().to(next(model.parameters()).device).requires_grad_(True)
            out = model(x).gather(1, labels.to(x.device).long()[:, None]).sum()
            (g,) = torch.autograd.grad(out, x)
        return g.sign().to(labels.device if labels.is_cuda else "cpu")

    def adversaries(self, model, x, y, eps: float):
        return FGSM(model, eps)(x, y)


@dataclass(frozen=True)
class OneClass:
    """What a substitute learns from labels of one class: that class, everywhere."""

    label: int

    def predict(self, x):
        return np.full(len(x), self.label)


@dataclass
class SCD01Substitute:
    """A single-run SCD01 substitute (paper A, Fig. 4: 1000 iterations), binary only:
    its adversaries are the sign(w) attack, its Jacobian for label 1 is w (for 0, -w)."""

    settings: dict = field(default_factory=lambda: {"n_iter": 1000})
    device: str = "cpu"

    def fit(self, x, labels, n_classes: int, seed: int):
        from zerolib.models.scd import SCD01Classifier

        if n_classes != 2:
            raise ValueError("the SCD01 substitute is for binary targets (paper A uses it on classes 0 vs 1)")
        if len(torch.as_tensor(labels).unique()) < 2:
            # the target gave every point one label (e.g. a dry run's one-iteration model): a 01-loss
            # line has nothing to separate, so the substitute carries no direction and moves nothing
            warnings.warn(f"the target labels all {len(labels)} substitute points one class: the SCD01 substitute "
                          "has no direction this round, and its adversaries are the original points")
            return OneClass(int(torch.as_tensor(labels).reshape(-1)[0]))
        return SCD01Classifier(n_votes=1, random_state=seed, device=self.device, **self.settings).fit(x, labels)

    def jacobian_sign(self, model, x, labels):
        if isinstance(model, OneClass):  # no direction (see fit)
            return torch.zeros_like(x)
        w = torch.as_tensor(model.coef_[0, 0], dtype=x.dtype).sign()
        s = (2 * labels.to(x.dtype) - 1)[:, None]
        return (s * w).reshape(x.shape)

    def adversaries(self, model, x, y, eps: float):
        if isinstance(model, OneClass):  # no direction (see fit)
            return x.clone()
        return SignAttack(model.coef_, eps)(x, y)


# ----------------------------------------------------------------- the set
def augment(substitute, model, x, labels, lam: float, sign: float):
    """Jacobian augmentation: ``clip(x + sign * lam * sign(grad F_label(x)), 0, 1)``."""
    return (x + float(sign) * float(lam) * substitute.jacobian_sign(model, x, labels).to(x.dtype)).clamp(0, 1)


def grow(x, labels, substitute, model, lam: float, cap: int, seed: int, rnd: int):
    """The next round's set: (kept points, their labels, new points). Doubling while
    ``2 |S| <= cap``; else a seeded random ``cap // 2`` of S kept plus their augmentations."""
    gen = torch.Generator().manual_seed(_round_seed(seed, rnd, 0))
    sign = 1.0 if torch.rand(1, generator=gen).item() < 0.5 else -1.0
    if 2 * len(x) > cap:
        keep = torch.randperm(len(x), generator=gen)[: cap // 2].sort().values
        x, labels = x[keep], labels[keep]
    return x, labels, augment(substitute, model, x, labels, lam, sign)


def seed_and_attack_split(n_test: int, n_seed_points: int, seed: int, n_attack: int | None = None):
    """Indices into the test set: the substitute's seed points and, disjoint from them,
    the points attacked (all the rest, or a seeded ``n_attack`` of them)."""
    if not 0 < n_seed_points < n_test:
        raise ValueError(f"n_seed_points must be in [1, {n_test - 1}] for {n_test} test points, got {n_seed_points}")
    perm = torch.randperm(n_test, generator=torch.Generator().manual_seed(int(seed)))
    seed_idx, rest = perm[:n_seed_points].sort().values, perm[n_seed_points:]
    if n_attack is not None:
        if n_attack < 1:
            raise ValueError(f"n_attack must be >= 1, got {n_attack}")
        rest = rest[:n_attack]
    return seed_idx, rest.sort().values


# ----------------------------------------------------------------- the loop
def _save_state(state_dir: Path, rnd: int, x, labels, queries: int, records: list[dict]) -> None:
    from safetensors.torch import save_file

    tensors = {"x": x.contiguous(), "labels": labels.contiguous()}
    atomic_write(state_dir / f"round-{rnd:03d}.safetensors", lambda tmp: save_file(tensors, tmp))
    write_json(state_dir / "records.json", {"round": rnd, "queries": queries, "records": records})
    # records.json now names this round's file: the previous one is no longer needed
    (state_dir / f"round-{rnd - 1:03d}.safetensors").unlink(missing_ok=True)


def _load_state(state_dir: Path):
    from safetensors.torch import load_file

    try:
        meta = json.loads((state_dir / "records.json").read_text())
        t = load_file(str(state_dir / f"round-{meta['round']:03d}.safetensors"))
        return meta["round"], t["x"], t["labels"], meta["queries"], meta["records"]
    except (OSError, KeyError, ValueError, json.JSONDecodeError):
        return None


def substitute_attack(target, substitute, x_seed, x_attack, y_attack, *, n_classes: int, rounds: int = 20,
                      eps: float = 0.3, lam: float = 0.1, cap: int = 6400, seed: int = 0,
                      state_dir=None, progress: bool = True) -> pd.DataFrame:
    """Run the attack of the module docstring; one record per round (0 .. ``rounds``).

    ``target``: anything :func:`zerolib.models.predict` takes (a fitted zerolib
    estimator or a torch module); ``substitute``: a :class:`NetSubstitute` or
    :class:`SCD01Substitute`; ``x_seed``: the starting points (the attacker's only
    data); ``x_attack``, ``y_attack``: the attacked points and their true labels.
    """
    if rounds < 1 or cap < 2 * len(x_seed) or lam <= 0 or eps < 0:
        raise ValueError("need rounds >= 1, cap >= 2 * len(x_seed), lam > 0 and eps >= 0")
    y_attack = torch.as_tensor(y_attack).long()
    state_dir = Path(state_dir) if state_dir is not None else None
    target_clean = predict(target, x_attack).cpu()
    state = _load_state(state_dir) if state_dir is not None else None
    if state is None:
        x, labels = x_seed.clone(), predict(target, x_seed).cpu()
        queries, start = len(x_seed), 1
        records = [{"round": 0, "n_train": 0, "queries": 0,
                    "target_accuracy": float((target_clean == y_attack).float().mean()),
                    "substitute_accuracy": float("nan"), "match_clean": float("nan"), "match_adv": float("nan")}]
        if state_dir is not None:
            _save_state(state_dir, 0, x, labels, queries, records)
    else:
        done, x, labels, queries, records = state
        start = done + 1
    for rnd in tqdm(range(start, rounds + 1), desc="substitute rounds", disable=not progress,
                    initial=start - 1, total=rounds):
        model = substitute.fit(x, labels, n_classes, _round_seed(seed, rnd, 1))
        adv = substitute.adversaries(model, x_attack, y_attack, eps)
        target_adv = predict(target, adv).cpu()
        sub_clean, sub_adv = predict(model, x_attack).cpu(), predict(model, adv).cpu()
        records.append({"round": rnd, "n_train": len(x), "queries": queries,
                        "target_accuracy": float((target_adv == y_attack).float().mean()),
                        "substitute_accuracy": float((sub_clean == y_attack).float().mean()),
                        "match_clean": float((sub_clean == target_clean).float().mean()),
                        "match_adv": float((sub_adv == target_adv).float().mean())})
        if rnd < rounds:
            kept, kept_labels, new = grow(x, labels, substitute, model, lam, cap, seed, rnd)
            x, labels = torch.cat([kept, new]), torch.cat([kept_labels, predict(target, new).cpu()])
            queries += len(new)
        if state_dir is not None:
            _save_state(state_dir, rnd, x, labels, queries, records)
    return pd.DataFrame(records, columns=RECORD_COLUMNS)


def train_substitute(target, substitute, x_seed, *, n_classes: int, rounds: int = 6, lam: float = 0.1,
                     cap: int = 400, seed: int = 0):
    """The substitute of the last of ``rounds`` rounds of :func:`substitute_attack`'s
    loop (same seeds, same set growth), and the oracle queries it cost: for attacks
    that need the final substitute only (the robustness audit makes its adversaries at
    every eps of a grid)."""
    if rounds < 1 or cap < 2 * len(x_seed) or lam <= 0:
        raise ValueError("need rounds >= 1, cap >= 2 * len(x_seed) and lam > 0")
    x, labels = x_seed.clone(), predict(target, x_seed).cpu()
    queries = len(x_seed)
    for rnd in range(1, rounds + 1):
        model = substitute.fit(x, labels, n_classes, _round_seed(seed, rnd, 1))
        if rnd < rounds:
            kept, kept_labels, new = grow(x, labels, substitute, model, lam, cap, seed, rnd)
            x, labels = torch.cat([kept, new]), torch.cat([kept_labels, predict(target, new).cpu()])
            queries += len(new)
    return model, queries


# ----------------------------------------------------------------- many targets
CURVE_COLUMNS = ["target", "seed"] + RECORD_COLUMNS
PERCENT_COLUMNS = ["target_accuracy", "substitute_accuracy", "match_clean", "match_adv"]


def substitute_key(substitute) -> dict:
    """What determines a substitute's fits: its settings and the device it trains on
    (resolved: "auto" is where it runs), since CPU and CUDA fits differ in the last bits
    and a run resumed on another device would not be the same run."""
    from zerolib.torchutil import resolve_device

    key = {k: v for k, v in asdict(substitute).items() if k != "device"}
    return {"kind": type(substitute).__name__, **key, "device": str(resolve_device(substitute.device))}


def attack_targets(targets, substitute, x_test, y_test, *, n_classes: int, seed: int, n_seed_points: int = 200,
                   n_attack: int | None = None, rounds: int = 20, eps: float = 0.3, lam: float = 0.1,
                   cap: int = 6400, keys=None, data_key: dict | None = None, cache=None,
                   progress: bool = True) -> pd.DataFrame:
    """:func:`substitute_attack` against every target of ``targets`` (``{name: model}``),
    all from the same seeded split of ``(x_test, y_test)`` (:func:`seed_and_attack_split`
    with ``seed``): one curve per target, in long form with columns ``CURVE_COLUMNS``,
    accuracies and match rates in %.

    With ``keys`` (``{name: the target's cache key}``, e.g. from
    :func:`zerolib.experiments.common.model_suite.model_key`) and ``data_key`` (what ``x_test`` is), each run
    keeps its rounds in a :meth:`ModelCache.job` folder (locked while it runs), so a killed run resumes and
    another notebook asking for the same run (same target, substitute, attack
    settings and test data) reads it instead of recomputing it.
    """
    from .cache import ModelCache

    if (keys is None) != (data_key is None):
        raise ValueError("give both keys and data_key (to keep runs in the cache), or neither")
    if keys is not None and set(keys) != set(targets):
        raise ValueError(f"keys must name the same targets: {sorted(targets)} vs {sorted(keys)}")
    cache = cache or ModelCache()
    s_idx, a_idx = seed_and_attack_split(len(x_test), n_seed_points, seed, n_attack)
    settings = dict(n_classes=int(n_classes), rounds=int(rounds), eps=float(eps), lam=float(lam), cap=int(cap),
                    seed=int(seed))
    frames = []
    for name, target in targets.items():
        job = nullcontext(None) if keys is None else cache.job(
            {"class": "SubstituteAttack", "target": keys[name], "data": data_key,
             "substitute": substitute_key(substitute),
             "attack": dict(settings, n_seed_points=int(n_seed_points),
                            n_attack=None if n_attack is None else int(n_attack))})
        with job as state:
            r = substitute_attack(target, substitute, x_test[s_idx], x_test[a_idx], y_test[a_idx], state_dir=state,
                                  progress=progress, **settings)
        r[PERCENT_COLUMNS] *= 100.0
        frames.append(r.assign(target=name, seed=int(seed)))
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def end_points(curves: pd.DataFrame, by: list[str], cells: dict | None) -> pd.DataFrame:
    """Each curve's clean accuracy (round 0) and its last round, ours (mean ± sd over seeds) and
    the paper's where it states them (``cells`` as ``zerolib.papers.numbers.blackbox_cells``)."""
    last = int(curves["round"].max())
    s = over_seeds(curves, by + ["round"], value="target_accuracy")
    rows = []
    for key, g in s.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g = g.set_index("round")
        row = {"curve": " / ".join(map(str, key))}
        for rnd, label in ((0, "clean"), (last, f"round {last}")):
            row[f"{label}: ours"] = fmt(g.loc[rnd, "mean"], g.loc[rnd, "std"]) if rnd in g.index else ""
            row[f"{label}: paper"] = num((cells or {}).get(key + (0 if rnd == 0 else "last", "target_accuracy")))
        rows.append(row)
    return pd.DataFrame(rows).set_index("curve")


# ----------------------------------------------------------------- how a curve moves
def curve_moves(curves: pd.DataFrame, by: list[str], metrics=tuple(PERCENT_COLUMNS)) -> pd.DataFrame:
    """Each curve's (a group of ``by``) first and last round of each metric, means over seeds,
    and the word for the change (:func:`trend`): a row per curve and metric, curves in the
    order of ``curves``. The target's accuracy starts at round 0 (the clean points); the
    substitute's accuracy and the label matches at round 1, the first round with a substitute."""
    rows = []
    for metric in metrics:
        start = 0 if metric == "target_accuracy" else 1
        s = over_seeds(curves[curves["round"] >= start], list(by) + ["round"], value=metric)
        for key, g in s.dropna(subset=["mean"]).groupby(list(by), sort=False):
            g = g.sort_values("round")
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, key)), "metric": metric, "first_round": int(g["round"].iloc[0]),
                         "first": float(g["mean"].iloc[0]), "last_round": int(g["round"].iloc[-1]),
                         "last": float(g["mean"].iloc[-1])})
    columns = list(by) + ["metric", "first_round", "first", "last_round", "last"]
    df = pd.DataFrame(rows, columns=columns)
    df["trend"] = [trend(a, b) for a, b in zip(df["first"], df["last"])]
    order = {k: i for i, k in enumerate(dict.fromkeys(map(tuple, curves[list(by)].values.tolist())))}
    df["_curve"] = [order[tuple(k)] for k in df[list(by)].values.tolist()]
    return df.sort_values(["_curve"], kind="stable").drop(columns="_curve").reset_index(drop=True)


def attacked_rows(n_test: int, n_seed_points: int, n_attack: int | None = None) -> int:
    """How many test rows a black-box run scores (:func:`seed_and_attack_split`): ``n_attack``,
    else every test row not among the substitute's ``n_seed_points`` starting points."""
    return int(n_attack) if n_attack else int(n_test) - int(n_seed_points)
