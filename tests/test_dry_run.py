"""The dry run of a paper-scale profile is derived mechanically: every count of iterations,
epochs, rounds, steps, queries and seeds becomes one, and nothing else changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerolib.study.dry_run import (ATTACKED_ROWS, CUT_TO_ONE, ROW_COUNTS, cap_attacked_rows, cap_rows, cut_to_one,
                                   dry_profile)
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
             "train": {"epochs": 40, "lr_milestones": [20, 30], "batch_size": 64}, "flag": True,
             "nets": {"LeNet": {"name": "lenet", "epochs": 50}, "SimpleNet80": {"name": "simplenet80"}},
             "substitute": {"epochs": 10}}
    dry = cut_to_one(given)
    # a network trains one epoch (even where it leaves the loop's default of 10) of one optimizer
    # step; other epochs (the convex MLP, the substitute) are cut to one whole epoch
    assert dry == {"n_seeds": 1, "eps": 0.3, "n_train": 0, "max_steps": 1, "hsj_budgets": [1],
                   "models": {"SCD01": {"n_iter": 1}, "MLP": {"epochs": 1, "hidden": 400}},
                   "train": {"epochs": 1, "lr_milestones": [20, 30], "batch_size": 64, "steps_per_epoch": 1},
                   "flag": True, "nets": {"LeNet": {"name": "lenet", "epochs": 1, "steps_per_epoch": 1},
                                          "SimpleNet80": {"name": "simplenet80", "epochs": 1, "steps_per_epoch": 1}},
                   "substitute": {"epochs": 1}}
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
    # every network zerolib.models.train trains takes one step an epoch, wherever it stands
    assert dry.notebooks["lipschitz"]["train"]["steps_per_epoch"] == 1
    assert dry.notebooks["robustness_audit"]["heads"]["train"]["steps_per_epoch"] == 1
    for nb in ("robustness_audit", "cnn_comparison"):
        assert {n["steps_per_epoch"] for n in dry.notebooks[nb]["nets"].values()} == {1}, nb
    assert dry.notebooks["loss_targets"]["net"] == profile.notebooks["loss_targets"]["net"]


def test_dry_rows_caps_every_row_count_and_nothing_else():
    given = {"n_train": 0, "n_attack": 5000, "n_audit": 50, "eps": 0.3, "n_iter": 1000,
             "blackbox": {"cap": 6400, "n_seed_points": 150}, "train": {"batch_size": 64}}
    assert cap_rows(given, 100) == {"n_train": 100, "n_attack": 100, "n_audit": 50, "eps": 0.3, "n_iter": 1000,
                                    "blackbox": {"cap": 200, "n_seed_points": 100}, "train": {"batch_size": 64}}
    profile = Profile.load(ROOT / "params", "cifar10")
    dry = dry_profile(profile, ROOT / "notebooks", rows=200)
    assert dry.name == "cifar10-dry-rows200"
    full = dry_profile(profile, ROOT / "notebooks")
    for nb, params in dry.notebooks.items():
        assert params == cap_rows(full.notebooks[nb], 200)
        rows = [v for k, v in _row_counts(params)]
        assert all(1 <= v <= 200 for v in rows), (nb, rows)
        if "cap" in params:  # the black box doubles its set from the seed points up to the cap
            assert 2 * params.get("n_seed_points", 200) <= params["cap"] <= 400, (nb, params["cap"])
    assert dry.notebooks["loss_targets"]["n_attack"] == 200  # 0, the whole test set, becomes the cap
    assert dry.notebooks["loss_targets"]["n_test"] == dry.notebooks["lipschitz"]["n_test"] == 200
    assert full.notebooks["loss_targets"]["n_test"] == 0     # a dry run at full size keeps the whole test set
    with pytest.raises(ValueError, match="rows"):
        dry_profile(profile, ROOT / "notebooks", rows=0)


def test_dry_attack_rows_caps_the_attacked_rows_of_paper_bs_grids_and_the_audit_and_leaves_the_rest_whole():
    given = {"n_train": 0, "n_test": 0, "n_attack": 0, "n_audit": 1000, "flag": True}
    assert cap_attacked_rows("loss_targets", given, 500) == dict(given, n_attack=500)
    assert cap_attacked_rows("loss_targets", dict(given, n_attack=200), 500)["n_attack"] == 200
    assert cap_attacked_rows("robustness_audit", given, 100) == dict(given, n_audit=100)
    assert cap_attacked_rows("robustness_audit", given, 5000) == given     # a cap above the count leaves it
    assert cap_attacked_rows("blackbox", given, 100) == given              # paper A's substitutes: whole
    assert all(keys <= ROW_COUNTS for keys in ATTACKED_ROWS.values())
    profile = Profile.load(ROOT / "params", "cifar10")
    dry = dry_profile(profile, ROOT / "notebooks", attack_rows=100)
    assert dry.name == "cifar10-dry-attack100"
    full = dry_profile(profile, ROOT / "notebooks")
    changed = {nb for nb in dry.notebooks if dry.notebooks[nb] != full.notebooks[nb]}
    assert changed == {"loss_targets", "robustness_audit"}
    assert dry.notebooks["loss_targets"] == dict(full.notebooks["loss_targets"], n_attack=100)
    assert dry.notebooks["robustness_audit"] == dict(full.notebooks["robustness_audit"], n_audit=100)
    assert full.notebooks["loss_targets"]["n_attack"] == 0 and full.notebooks["loss_targets"]["n_test"] == 0
    assert full.notebooks["robustness_audit"]["n_audit"] == 1000          # the paper-scale audit, whole
    assert full.notebooks["loss_targets"]["deepfool_steps"] == [1]       # DeepFool's step limits: one step
    both = dry_profile(profile, ROOT / "notebooks", rows=200, attack_rows=50)
    assert both.name == "cifar10-dry-rows200-attack50" and both.notebooks["loss_targets"]["n_attack"] == 50
    with pytest.raises(ValueError, match="attack_rows"):
        dry_profile(profile, ROOT / "notebooks", attack_rows=0)


def test_cli_refuses_dry_attack_rows_without_dry_run(capsys):
    from zerolib.study import cli

    assert cli.main(["--root", str(ROOT), "run", "--profile", "mnist", "--dry-attack-rows", "500"]) == 2
    assert "--dry-attack-rows needs --dry-run" in capsys.readouterr().err
    assert cli.main(["--root", str(ROOT), "times", "--profile", "mnist", "--dry-attack-rows", "500"]) == 2
    assert "--dry-attack-rows needs --dry-run" in capsys.readouterr().err


def _row_counts(value, key=None):
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _row_counts(v, str(k))]
    if isinstance(value, list):
        return [kv for v in value for kv in _row_counts(v)]
    return [(key, value)] if key in ROW_COUNTS and isinstance(value, int) else []


def test_times_table_sums_the_run_records(tmp_path):
    import json

    from zerolib.study.times import run_times, times_text

    for name, sec, peak in (("a", 90.0, 800.0), ("b", 30.0, 1200.5)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({
            "notebook": name, "status": "ok", "seconds": sec, "peak_rss_mb": peak, "git": {"commit": "abcdef123"},
            "device": {"cpu_model": "AMD EPYC", "torch_threads": 2}}))
    rows = run_times(tmp_path)
    assert [r["notebook"] for r in rows] == ["a", "b"] and rows[1]["peak_rss_mb"] == 1200.5
    last = times_text(tmp_path).splitlines()[-1].split()
    assert last[:4] == ["total", "(serial)", "2.0", "1200"] and last[4] == "abcdef1"  # 120 s, the larger peak
    assert times_text(tmp_path / "none").startswith("no run records")


def test_cli_refuses_dry_rows_without_dry_run_and_a_bad_cap(capsys):
    from zerolib.study import cli

    assert cli.main(["--root", str(ROOT), "run", "--profile", "mnist", "--dry-rows", "200"]) == 2
    assert "--dry-rows needs --dry-run" in capsys.readouterr().err
    assert cli.main(["--root", str(ROOT), "run", "--profile", "mnist", "--dry-run", "--dry-rows", "0"]) == 2
    assert "rows must be an integer >= 1" in capsys.readouterr().err
    assert cli.main(["--root", str(ROOT), "times", "--profile", "mnist", "--dry-rows", "50"]) == 2
    assert "--dry-rows needs --dry-run" in capsys.readouterr().err


def test_times_reads_the_folder_the_dry_run_writes(tmp_path, capsys):
    """``run --dry-run`` names its folder by ``dry_profile``, ``times --dry-run`` finds it by
    ``dry_name``: one rule, so each flag combination reads the records its own run wrote."""
    import json

    from zerolib.study import cli
    from zerolib.study.dry_run import dry_name

    profile = Profile.load(ROOT / "params", "mnist")
    combos = ((None, None), (200, None), (None, 500), (200, 50))
    for minutes, (rows, attack) in enumerate(combos, start=1):
        name = dry_profile(profile, ROOT / "notebooks", rows=rows, attack_rows=attack).name
        assert name == dry_name("mnist", rows, attack)
        (tmp_path / name / "nb").mkdir(parents=True)
        (tmp_path / name / "nb" / "run.json").write_text(json.dumps({
            "notebook": "nb", "status": "ok", "seconds": 60.0 * minutes, "peak_rss_mb": 1.0,
            "git": {"commit": "abcdef1"}}))
    for minutes, (rows, attack) in enumerate(combos, start=1):
        flags = (["--dry-rows", str(rows)] if rows else []) + (["--dry-attack-rows", str(attack)] if attack else [])
        assert cli.main(["--root", str(ROOT), "times", "--output-root", str(tmp_path), "--profile", "mnist",
                         "--dry-run", *flags]) == 0
        total = capsys.readouterr().out.splitlines()[-1].split()
        assert total[:3] == ["total", "(serial)", f"{minutes:.1f}"]
