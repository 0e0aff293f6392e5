"""Paper B's attack grids: the settings of study.md, thinning, seeded targets, and each
cell of a grid run equal to running its attack by hand."""

from __future__ import annotations

import pytest
import torch

from zerolib.attacks import FGSM, PGD, CWL2
from zerolib.experiments.common.attack_grid import (TARGETED, UNTARGETED, attack_grid, random_targets, thin,
                                                    with_step_limits)
from zerolib.losses import Codebook, CrossEntropy
from zerolib.models import make_model, predict, train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_grids_are_study_md_settings():
    u = {g.name: g for g in UNTARGETED}
    assert u["FGSM"].values == u["BIM"].values == u["MIM"].values == (0.01, 0.05, 0.1, 0.2)
    assert u["PGD"].values == (0.02, 0.04, 0.08, 0.1) and u["PGD"].fixed == {"alpha": 0.01, "steps": 40,
                                                                             "random_start": True}
    assert u["BIM"].fixed == {"alpha": 0.05, "steps": 10} and u["MIM"].fixed == {"alpha": 0.06, "steps": 10}
    assert u["CW-L2"].values == (0.01, 0.1, 1.0, 10.0) and u["CW-L2"].fixed == {"binary_search_steps": 5,
                                                                                "steps": 1000}
    assert u["DeepFool"].values == (10, 20, 30, 40) and u["DeepFool"].fixed == {"candidates": 10, "overshoot": 0.02}
    t = {g.name: g for g in TARGETED}
    assert set(t) == {"L-BFGS", "FGSM", "BIM", "MIM", "PGD", "CW-L2"}
    assert t["FGSM"].values == (0.1, 0.2, 0.3, 0.4) and t["PGD"].values == (0.04, 0.06, 0.08, 0.1)


def test_thin_caps_iterations_and_keeps_every_attack_and_value():
    thinned = thin(UNTARGETED + TARGETED, 20)
    assert [(g.name, g.values) for g in thinned] == [(g.name, g.values) for g in UNTARGETED + TARGETED]
    for g, o in zip(thinned, UNTARGETED + TARGETED):
        if "steps" in o.fixed:
            assert g.fixed["steps"] == min(o.fixed["steps"], 20)
    assert {g.name: g for g in thinned}["DeepFool"].values == (10, 20, 30, 40)
    # the binary searches (5 in the paper) are iteration counts too: unchanged at 20, one in a dry run
    assert {g.fixed["binary_search_steps"] for g in thinned if "binary_search_steps" in g.fixed} == {5}
    dry = thin(UNTARGETED + TARGETED, 1)
    assert {g.fixed["binary_search_steps"] for g in dry if "binary_search_steps" in g.fixed} == {1}
    with pytest.raises(ValueError, match="max_steps"):
        thin(UNTARGETED, 0)


def test_step_limits_replace_deepfools_grid_only_and_refuse_bad_limits():
    dry = with_step_limits(UNTARGETED, [1])
    assert [(g.name, g.values) for g in dry] == [(g.name, (1,) if g.nested else g.values) for g in UNTARGETED]
    assert [g.fixed for g in dry] == [g.fixed for g in UNTARGETED]
    assert with_step_limits(UNTARGETED, [10, 20, 30, 40]) == UNTARGETED  # the paper's limits: the grid unchanged
    for bad in ([], [0], [20, 10], [10, 10], [1.5], [True], 10, "10"):
        with pytest.raises(ValueError, match="step limits must"):
            with_step_limits(UNTARGETED, bad)
    with pytest.raises(ValueError, match="varies a step limit"):
        with_step_limits(TARGETED, [1])


def test_loss_targets_default_step_limits_are_the_papers():
    """The notebook's default DeepFool limits are the grid's, so a profile that leaves them
    runs the paper's grid (and finds its cells in the cache)."""
    import ast
    from pathlib import Path

    from zerolib.study.runner import notebook_defaults

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "loss_targets.ipynb"
    given = ast.literal_eval(notebook_defaults(nb)["deepfool_steps"])
    assert tuple(given) == {g.name: g for g in UNTARGETED}["DeepFool"].values


def test_random_targets_never_hit_the_label_and_are_seeded():
    y = torch.arange(1000) % 10
    t = random_targets(y, 10, 3)
    assert not bool((t == y).any()) and t.min() >= 0 and t.max() <= 9
    assert torch.equal(t, random_targets(y, 10, 3)) and not torch.equal(t, random_targets(y, 10, 4))
    assert len(set(t[y == 0].tolist())) == 9  # every other class is drawn


@pytest.fixture(scope="module")
def net(one_thread):
    from zerolib import load_dataset

    d = load_dataset("digits")
    model = make_model("substitute_mlp", (1, 8, 8), 10, seed=0)
    train(model, (d.x_train, d.y_train), epochs=5, optimizer="adam", lr=1e-3, seed=0, progress=False)
    return model.eval(), d.x_test[:64], d.y_test[:64]


def test_each_cell_is_its_attack_run_by_hand(net):
    model, x, y = net
    grid = thin([g for g in UNTARGETED if g.name in ("FGSM", "PGD")], 5)
    table = attack_grid(model, x, y, grid, loss=CrossEntropy(), seed=7, progress=False)
    assert len(table) == 8
    for r in table.itertuples():
        atk = FGSM(model, r.value) if r.attack == "FGSM" else PGD(model, r.value, alpha=0.01, steps=5, seed=7)
        adv = atk(x, y)
        acc = 100 * float((predict(model, adv) == y).float().mean())
        assert r.accuracy == pytest.approx(acc) and r.success == pytest.approx(100 - acc)
        assert r.linf <= r.value + 1e-6
    fgsm = table[table.attack == "FGSM"].accuracy.tolist()
    assert fgsm[0] >= fgsm[-1]  # eps 0.01 vs 0.2 on a trained net


def test_chunked_rows_give_the_whole_batch_answer(net):
    # deterministic attacks (FGSM; DeepFool's nested step limits) give the same cells
    # whether the rows are attacked at once or in chunks of 10 (the last one of 4)
    model, x, y = net
    grid = thin([g for g in UNTARGETED if g.name in ("FGSM", "DeepFool")], 5)
    whole = attack_grid(model, x, y, grid, loss=CrossEntropy(), progress=False, batch_size=len(x))
    chunked = attack_grid(model, x, y, grid, loss=CrossEntropy(), progress=False, batch_size=10)
    assert len(whole) == 8
    for col in ("accuracy", "success", "l2", "linf"):
        assert chunked[col].tolist() == pytest.approx(whole[col].tolist(), rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        attack_grid(model, x, y, grid, loss=CrossEntropy(), progress=False, batch_size=0)


def test_targeted_grid_scores_success_and_checks_targets(net):
    model, x, y = net
    t = random_targets(y, 10, 0)
    grid = thin([g for g in TARGETED if g.name == "BIM"], 10)
    table = attack_grid(model, x, y, grid, loss=CrossEntropy(), targeted=True, targets=t, progress=False)
    for r in table.itertuples():
        adv = grid[0].build(model, r.value, loss=CrossEntropy(), targeted=True)(x, t)
        assert r.success == pytest.approx(100 * float((predict(model, adv) == t).float().mean()))
    with pytest.raises(ValueError, match="needs targets"):
        attack_grid(model, x, y, grid, loss=CrossEntropy(), targeted=True)
    with pytest.raises(ValueError, match="equals its row's label"):
        attack_grid(model, x, y, grid, loss=CrossEntropy(), targeted=True, targets=y)


def test_a_codebook_adds_the_codebook_aware_cw_rows():
    from zerolib import load_dataset

    d = load_dataset("digits")
    cb = Codebook.from_seed(10, 16, 0)
    model = make_model("substitute_mlp", (1, 8, 8), 10, head="codebook", codebook=cb, seed=0).eval()
    grid = thin([g for g in UNTARGETED if g.attack is CWL2], 3)
    table = attack_grid(model, d.x_test[:16], d.y_test[:16], grid, loss=model.loss, codebook=cb, progress=False)
    assert table.attack.tolist() == ["CW-L2"] * 4 + ["codebook CW-L2"] * 4


def test_chunk_seeds_never_meet_another_seeds_chunks():
    from zerolib.experiments.common.attack_grid import chunk_seed

    seeds = [chunk_seed(s, i) for s in range(10) for i in range(40)]   # 10 seeds x 20000 rows
    assert len(set(seeds)) == len(seeds)
    assert [chunk_seed(s, 0) for s in range(5)] == list(range(5))     # a one-chunk grid keeps its seed
