"""A dry run of a profile: every iteration and epoch count cut to one, nothing else changed.

A paper-scale profile (``mnist``, ``fashion_mnist``, ``cifar10``) takes hours on a GPU; a fault
in it (a shape, a memory limit, a missing file) should show in minutes, not hours in. The dry
profile is derived mechanically from the profile and the notebooks' own defaults: every
setting named in :data:`CUT_TO_ONE` (iterations, epochs, rounds, attack steps, query budgets,
restarts), wherever it stands in a nested setting, becomes 1, each notebook runs one seed, and
each network's one epoch is one optimizer step (:data:`NET_TRAINING`). Data sizes,
architectures and everything else stay as the profile says, so the dry run loads the full
data, builds the full networks and goes through every code path once.

    python -m zerolib.study run --profile mnist --dry-run     # writes outputs/mnist-dry/

Every setting of CUT_TO_ONE at one still leaves the attacks' rows: over the whole test set
(10000 images) every attack cell of paper B's grids is a DenseNet-40 gradient per image, hours
of a 2-core CPU. ``--dry-attack-rows N`` caps the rows those grids and the audit attack
(:data:`ATTACKED_ROWS`) at N and leaves everything else whole: the full-size dry run (``make
dry-run-full`` runs it at N = 100; ``benchmarks/paper_scale_cost.py --dry-run --dry-attack-rows
N`` counts its work first, and its gradient unit is timed on a whole chunk of 500, the memory of
the paper-scale run's attacks). For the tests, ``--dry-rows N`` also caps every
row count of :data:`ROW_COUNTS` (training subsamples, attacked and audited rows; 0, "all",
becomes N) at N, and the black-box set's cap at 2 N (it must hold twice its starting points):
the same architectures and code paths in minutes, which is the form CI runs
(``outputs/<profile>-dry-rows<N>/``). The test sets are capped where a notebook has
``n_test`` (the clean accuracies of DenseNet-40 over 10000 test images take minutes on a CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .runner import Profile, declared_parameters

__all__ = ["ATTACKED_ROWS", "CUT_TO_ONE", "NET_TRAINING", "ROW_COUNTS", "cap_attacked_rows", "cap_rows", "cut_to_one", "dry_name", "dry_profile"]

CUT_TO_ONE = frozenset({
    "n_iter", "epochs", "steps", "max_steps", "pgd_steps", "rounds", "binary_search_steps", "max_queries",
    "n_queries", "init_evals", "max_evals", "restarts", "noise_draws", "n_seeds", "steps_per_epoch",
})
"""The settings that count iterations, epochs, rounds, steps or queries (and seeds)."""

ROW_COUNTS = frozenset({
    "n_train", "n_train_multiclass", "n_train_nets", "sweep_n_train", "n_per_class", "cv_max_samples",
    "n_test", "n_attack", "n_audit", "hsj_rows", "n_seed_points",
})
"""The settings that count rows (0 means all of them): capped by ``--dry-rows``."""

ATTACKED_ROWS = {"loss_targets": frozenset({"n_attack"}), "robustness_audit": frozenset({"n_audit"})}
"""Per notebook, the row counts ``--dry-attack-rows`` caps: the test rows paper B's grids attack
and the rows the audit attacks (every attack a network gradient per row, in chunks of 500; the
cost benchmark counts and times them). The other notebooks' rows stay whole: paper A's
substitutes attack small models, one step over them costs minutes."""

_DOUBLED = frozenset({"cap"})  # the black-box set's cap: at least twice its starting points, so 2 N

_BUDGET_LISTS = frozenset({"hsj_budgets", "deepfool_steps"})  # lists of query budgets or step limits: one of 1

NET_TRAINING = frozenset({"train", "nets"})
"""The settings that train networks with :func:`zerolib.models.train`: paper B's heads'
``train`` (wherever it stands) and each network of ``nets`` (LeNet, SimpleNet80). They train one
epoch (set even where the loop's default would hold) of one optimizer step (``steps_per_epoch``:
1); the Papernot substitutes keep their one whole epoch over their small sets. An epoch of
DenseNet-40 over every training image is most of a full-size dry run's time on a CPU (an hour
and more per head), and one batch goes through the same code (the loader over the whole data,
the augmentations, the step, the checkpoint) with the same memory."""


def cut_to_one(value: Any, key: str | None = None) -> Any:
    """``value`` with every setting in :data:`CUT_TO_ONE` set to 1, recursively (a count of 0,
    which means "the paper's" in a capped setting such as ``max_steps``, becomes 1 too), and
    each network training of :data:`NET_TRAINING` cut to one step per epoch."""
    if isinstance(value, dict):
        if key in NET_TRAINING:  # one epoch (the loop's default is 10) of one step
            one_step = {"epochs": 1, "steps_per_epoch": 1}
            value = ({**value, **one_step} if key == "train" else
                     {k: {**v, **one_step} if isinstance(v, dict) else v for k, v in value.items()})
        return {k: cut_to_one(v, str(k)) for k, v in value.items()}
    if key in _BUDGET_LISTS and isinstance(value, list):
        return [1]
    if isinstance(value, list):
        return [cut_to_one(v) for v in value]
    if key in CUT_TO_ONE and _is_count(value):
        return 1
    return value


def _capped(value: int, n: int) -> int:
    """A row count capped at ``n``: 0, all rows, becomes ``n``."""
    return n if value == 0 else min(value, n)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def cap_rows(value: Any, n: int, key: str | None = None) -> Any:
    """``value`` with every setting in :data:`ROW_COUNTS` capped at ``n`` (0, all rows, becomes ``n``)."""
    if isinstance(value, dict):
        return {k: cap_rows(v, n, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [cap_rows(v, n) for v in value]
    if key in ROW_COUNTS and _is_count(value):
        return _capped(value, n)
    if key in _DOUBLED and _is_count(value):
        return min(value, 2 * n)
    return value


def cap_attacked_rows(notebook: str, params: dict[str, Any], n: int) -> dict[str, Any]:
    """``notebook``'s ``params`` with its settings in :data:`ATTACKED_ROWS` capped at ``n`` (0,
    all rows, becomes ``n``); a notebook without such settings is returned as it is."""
    keys = ATTACKED_ROWS.get(notebook, frozenset())
    return {k: _capped(v, n) if k in keys and _is_count(v) else v for k, v in params.items()}


def dry_name(profile: str, rows: int | None = None, attack_rows: int | None = None) -> str:
    """The dry run's name, its folder under ``outputs/``: ``<profile>-dry``, then ``-rows<N>``
    with ``rows`` and ``-attack<N>`` with ``attack_rows``."""
    return (f"{profile}-dry" + (f"-rows{rows}" if rows is not None else "")
            + (f"-attack{attack_rows}" if attack_rows is not None else ""))


def dry_profile(profile: Profile, notebooks_dir: Path, rows: int | None = None,
                attack_rows: int | None = None) -> Profile:
    """``profile`` as a dry run (named ``<name>-dry``): each notebook's parameters, its own
    defaults under the profile's values, with every count of :data:`CUT_TO_ONE` cut to one;
    with ``rows``, every row count of :data:`ROW_COUNTS` capped at it too (``<name>-dry-rows<N>``);
    with ``attack_rows``, the rows paper B's grids and the audit attack (:data:`ATTACKED_ROWS`)
    capped at it and the data left whole (``<name>-dry-attack<N>``: the full-size dry run)."""
    for what, n in (("rows", rows), ("attack_rows", attack_rows)):
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"{what} must be an integer >= 1, got {n!r}")
    notebooks = {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        declared = declared_parameters(path)
        given = profile.effective_parameters(path)
        dry = cut_to_one(given)
        if rows is not None:
            dry = cap_rows(dry, rows)
        if attack_rows is not None:
            dry = cap_attacked_rows(path.stem, dry, attack_rows)
        notebooks[path.stem] = {k: v for k, v in dry.items() if k in declared and k != "output_dir"}
    what = "every count cut to one"
    if rows is not None:
        what = f"{what}, every row count capped at {rows}"
    if attack_rows is not None:
        what = f"{what}, the attacked rows capped at {attack_rows}"
    return Profile(name=dry_name(profile.name, rows, attack_rows), description=f"dry run of {profile.name}: {what}",
                   notebooks=notebooks, cluster=dict(profile.cluster), reductions={})
