"""The substitute-model black-box attack: the schedule, the records, resuming."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from zerolib import LinearSVMClassifier, load_dataset
from zerolib.experiments.common.substitutes import NetSubstitute, SCD01Substitute, grow, seed_and_attack_split, substitute_attack

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(one_thread):
    d = load_dataset("digits")
    target = LinearSVMClassifier(C=0.1, random_state=0, device="cpu").fit(d.x_train, d.y_train)
    s, a = seed_and_attack_split(len(d.x_test), 100, 0)
    return d, target, s, a


def run(setup, seed=0, **kw):
    d, target, s, a = setup
    args = dict(n_classes=10, rounds=4, eps=0.2, cap=800, seed=seed, progress=False)
    args.update(kw)
    return substitute_attack(target, NetSubstitute(epochs=10), d.x_test[s], d.x_test[a], d.y_test[a], **args)


def test_split_is_disjoint_and_seeded():
    s, a = seed_and_attack_split(450, 100, 3)
    assert len(s) == 100 and len(a) == 350 and not set(s.tolist()) & set(a.tolist())
    s2, a2 = seed_and_attack_split(450, 100, 3)
    assert torch.equal(s, s2) and torch.equal(a, a2)
    assert len(seed_and_attack_split(450, 100, 3, n_attack=50)[1]) == 50
    with pytest.raises(ValueError, match="n_seed_points"):
        seed_and_attack_split(100, 100, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_match_rises_against_a_linear_target(setup, seed):
    r = run(setup, seed)
    # measured over seeds 0-2: round 1 matches 0.48-0.61, round 4 0.92-0.94
    assert r.match_clean.iloc[-1] > r.match_clean.iloc[1] + 0.2
    assert r.target_accuracy.iloc[-1] < r.target_accuracy.iloc[0]  # the attack does something
    assert r.target_accuracy.iloc[0] == pytest.approx(setup[1].score(setup[0].x_test[setup[3]],
                                                                     setup[0].y_test[setup[3]]))


def test_schedule_doubles_then_stays_at_the_cap_and_counts_queries(setup):
    r = run(setup, rounds=6, cap=400)
    # 100 -> 200 -> 400, then half kept and half replaced: 400 each round
    assert r.n_train.tolist() == [0, 100, 200, 400, 400, 400, 400]
    # queries: the seed points, then each round's new points only (200 new once at the cap)
    assert r.queries.tolist() == [0, 100, 200, 400, 600, 800, 1000]


def test_grow_keeps_clipped_points_and_random_half_at_cap():
    sub = SCD01Substitute()

    class Linear:
        coef_ = torch.ones(1, 1, 4).numpy()

    x = torch.rand(10, 4)
    labels = torch.randint(0, 2, (10,))
    kept, kept_labels, new = grow(x, labels, sub, Linear(), 0.5, cap=40, seed=0, rnd=1)
    assert torch.equal(kept, x) and new.shape == x.shape
    assert bool(((new - x).abs() <= 0.5 + 1e-7).all()) and float(new.min()) >= 0 and float(new.max()) <= 1
    moved = (new - x).sign() * (2 * labels[:, None] - 1)  # all features move the same way per row
    assert bool(((moved == moved[:, :1]) | (new == x)).all())
    kept, kept_labels, new = grow(x, labels, sub, Linear(), 0.5, cap=10, seed=0, rnd=1)
    assert len(kept) == 5 and len(new) == 5
    assert all(any(torch.equal(k, r) for r in x) for k in kept)


def test_same_seed_same_records_and_another_seed_differs(setup):
    a, b, c = run(setup, 5, rounds=2), run(setup, 5, rounds=2), run(setup, 6, rounds=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_a_killed_run_resumes_bitwise(setup, tmp_path, monkeypatch):
    whole = run(setup, 3, rounds=4)
    import zerolib.experiments.common.substitutes as bb

    calls = {"n": 0}
    original = bb.NetSubstitute.fit

    def dies_in_round_3(self, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kw)

    monkeypatch.setattr(bb.NetSubstitute, "fit", dies_in_round_3)
    with pytest.raises(KeyboardInterrupt):
        run(setup, 3, rounds=4, state_dir=tmp_path)
    fits = {"n": 0}

    def counting(self, *args, **kw):
        fits["n"] += 1
        return original(self, *args, **kw)

    monkeypatch.setattr(bb.NetSubstitute, "fit", counting)
    resumed = run(setup, 3, rounds=4, state_dir=tmp_path)
    assert fits["n"] == 2  # rounds 3 and 4 only: rounds 1 and 2 were read back
    pd.testing.assert_frame_equal(resumed, whole)
    # one round's set is kept, the last, which is all a resume needs
    assert [p.name for p in tmp_path.glob("round-*.safetensors")] == ["round-004.safetensors"]


def test_scd01_substitute_is_binary_only_and_bad_schedules_raise(setup):
    d, target, s, a = setup
    with pytest.raises(ValueError, match="binary"):
        substitute_attack(target, SCD01Substitute({"n_iter": 5}), d.x_test[s], d.x_test[a], d.y_test[a],
                          n_classes=10, rounds=1, cap=800, progress=False)
    with pytest.raises(ValueError, match="cap"):
        run(setup, cap=150)
