"""The dry run of a paper-scale profile is derived mechanically: every count of iterations,
epochs, rounds, steps, queries and seeds becomes one, and nothing else changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerolib.study.dry_run import CUT_TO_ONE, cut_to_one, dry_profile
from zerolib.study.runner import Profile

ROOT = Path(__file__).resolve().parents[1]


def _counts(value, key=None):
    """Every (key, value) of a count setting, wherever it stands."""
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _counts(v, str(k))]
    if isinstance(value, list):
        return [kv for v in value for kv in _counts(v)]
    return [(key, value)] if key in CUT_TO_ONE else []


def test_cut_to_one_reaches_nested_settings_and_leaves_the_rest():
    given = {"n_seeds": 3, "eps": 0.3, "n_train": 0, "max_steps": 0, "hsj_budgets": [150, 300],
             "models": {"SCD01": {"n_iter": 1000}, "MLP": {"epochs": 100, "hidden": 400}},
             "train": {"epochs": 40, "lr_milestones": [20, 30], "batch_size": 64}, "flag": True}
    dry = cut_to_one(given)
    assert dry == {"n_seeds": 1, "eps": 0.3, "n_train": 0, "max_steps": 1, "hsj_budgets": [1],
                   "models": {"SCD01": {"n_iter": 1}, "MLP": {"epochs": 1, "hidden": 400}},
                   "train": {"epochs": 1, "lr_milestones": [20, 30], "batch_size": 64}, "flag": True}
    assert given["models"]["SCD01"]["n_iter"] == 1000  # the original is left as it was


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_every_paper_scale_profile_has_a_dry_run_with_every_count_one(name):
    profile = Profile.load(ROOT / "params", name)
    dry = dry_profile(profile, ROOT / "notebooks")
    assert dry.name == f"{name}-dry"
    assert set(dry.notebooks) == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    for nb, params in dry.notebooks.items():
        counts = _counts(params)
        assert all(v == 1 for _, v in counts if isinstance(v, int)), (nb, counts)
        for key, value in profile.notebooks.get(nb, {}).items():  # the data and the networks as given
            if key not in CUT_TO_ONE and not isinstance(value, (dict, list)):
                assert params[key] == value, (nb, key)
    assert dry.notebooks["loss_targets"]["train"]["epochs"] == 1
    assert dry.notebooks["loss_targets"]["net"] == profile.notebooks["loss_targets"]["net"]
