"""Label-only attacks: HopSkipJump's distance on a linear model against the analytic
distance to its hyperplane, the call contract (box, adversarial when successful,
input untouched, seeded, batch = rows one by one), models without gradients, and a
cross-check against the Adversarial Robustness Toolbox's HopSkipJump."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from zerolib.attacks import BoundaryRandomSearch, HopSkipJump
from zerolib.models import predict

pytestmark = pytest.mark.usefixtures("one_thread")


class Linear(nn.Module):
    """Two logits (-z, z), z = w.x + b: the decision boundary is the hyperplane z = 0."""

    def __init__(self, w: torch.Tensor, b: float):
        super().__init__()
        self.w = nn.Parameter(w.clone(), requires_grad=False)
        self.b = nn.Parameter(torch.tensor(float(b), dtype=w.dtype), requires_grad=False)

    def forward(self, x):
        z = x.flatten(1) @ self.w + self.b
        return torch.stack([-z, z], 1)

    def margin(self, x):
        return x.flatten(1) @ self.w + self.b


@pytest.fixture(scope="module")
def linear():
    g = torch.Generator().manual_seed(0)
    d = 64
    w = torch.randn(d, generator=g, dtype=torch.float64)
    x = 0.3 + 0.4 * torch.rand(24, 1, 8, 8, generator=g, dtype=torch.float64)  # interior points
    model = Linear(w, -float((x.flatten(1) @ w).mean()))
    z = model.margin(x).detach()
    keep = z.abs() > 0.05 * w.norm()  # not on the boundary already
    x = x[keep]
    y = (model.margin(x) > 0).long().detach()
    return model, x, y


def test_hopskipjump_l2_distance_approaches_the_distance_to_the_hyperplane(linear):
    model, x, y = linear
    true = model.margin(x).detach().abs() / model.w.norm().detach()
    # the closest point on the hyperplane stays inside the box for these interior points
    foot = x.flatten(1) - (model.margin(x).detach() / model.w.norm().detach() ** 2)[:, None] * model.w.detach()
    assert float(foot.min()) >= 0 and float(foot.max()) <= 1
    atk = HopSkipJump(model, "L2", max_queries=3000, steps=40, seed=0)
    adv = atk(x, y)
    ratio = atk.norms.double() / true
    assert bool(atk.success.all()) and float(ratio.min()) >= 1 - 1e-9  # never closer than the true minimum
    assert float(ratio.median()) <= 1.10, f"median found / analytic L2 distance {float(ratio.median()):.3f}"
    assert torch.allclose(atk.norms.double(), (adv - x).flatten(1).norm(dim=1))
    assert int(atk.queries.max()) <= 3000


def test_hopskipjump_linf_is_never_below_the_analytic_linf_distance(linear):
    model, x, y = linear
    true = model.margin(x).detach().abs() / model.w.detach().abs().sum()  # Linf distance: |z| / ||w||_1
    atk = HopSkipJump(model, "Linf", max_queries=3000, steps=40, seed=0)
    adv = atk(x, y)
    ratio = atk.norms.double() / true
    assert bool(atk.success.all()) and float(ratio.min()) >= 1 - 1e-9
    assert float(ratio.median()) <= 1.5
    assert torch.allclose(atk.norms.double(), (adv - x).flatten(1).abs().amax(1))


@pytest.fixture(scope="module")
def mlp_digits(one_thread):
    from zerolib import load_dataset
    from zerolib.models import make_model, train

    d = load_dataset("digits")
    model = make_model("substitute_mlp", (1, 8, 8), 10, seed=0)
    train(model, (d.x_train, d.y_train), epochs=5, optimizer="adam", lr=1e-3, seed=0, progress=False)
    return model.eval(), d


@pytest.mark.parametrize("cls", [HopSkipJump, BoundaryRandomSearch])
def test_call_contract_box_adversarial_untouched_seeded_and_batch_equals_rows(cls, mlp_digits):
    model, d = mlp_digits
    x, y = d.x_test[:6].clone(), d.y_test[:6]
    before = x.clone()
    kw = dict(max_queries=400, seed=3)
    atk = cls(model, **kw)
    adv = atk(x, y)
    assert torch.equal(x, before) and adv.shape == x.shape and adv.dtype == x.dtype
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    pred = predict(model, adv)
    assert bool((pred[atk.success] != y[atk.success]).all()) and bool(atk.success.any())
    assert torch.equal(adv, cls(model, **kw)(x, y))
    for i in range(len(x)):
        one = cls(model, max_queries=400, seed=3 + i)
        assert torch.equal(one(x[i:i + 1], y[i:i + 1])[0], adv[i]), i
        assert int(one.queries[0]) == int(atk.queries[i])


def test_targeted_needs_a_start_and_reaches_the_target(mlp_digits):
    model, d = mlp_digits
    x, y = d.x_test[:8], d.y_test[:8]
    t = (y + 1) % 10
    with pytest.raises(ValueError, match="x_init"):
        HopSkipJump(model, targeted=True)(x, t)
    starts = torch.stack([d.x_train[(predict(model, d.x_train) == int(c)).nonzero()[0, 0]] for c in t])
    atk = HopSkipJump(model, targeted=True, max_queries=1500, seed=0)
    adv = atk(x, t, x_init=starts)
    assert bool(atk.success.all()) and torch.equal(predict(model, adv), t)
    assert bool((atk.norms < (starts - x).flatten(1).norm(dim=1)).all())  # it moved toward x


def test_label_only_attack_runs_on_a_01_loss_vote_ensemble():
    from zerolib import SCD01Classifier, load_dataset

    d = load_dataset("digits", classes=[0, 1], flatten=True)
    scd = SCD01Classifier(n_votes=4, n_iter=30, random_state=0).fit(d.x_train, d.y_train)
    x, y = d.x_test[:6], d.y_test[:6]
    atk = HopSkipJump(scd, max_queries=600, seed=0)
    adv = atk(x, y)
    assert bool(atk.success.all())
    assert torch.equal(torch.as_tensor(scd.predict(adv.numpy())) != y, torch.ones(6, dtype=torch.bool))


def test_bad_arguments_are_named():
    m = Linear(torch.ones(4, dtype=torch.float64), 0.0)
    with pytest.raises(ValueError, match="norm"):
        HopSkipJump(m, "L1")
    with pytest.raises(ValueError, match="max_queries"):
        HopSkipJump(m, max_queries=0)
    with pytest.raises(ValueError, match="x_init must have"):
        HopSkipJump(m)(torch.rand(2, 4, dtype=torch.float64), torch.zeros(2, dtype=torch.long),
                       x_init=torch.rand(3, 4, dtype=torch.float64))


def test_as_strong_as_art_hopskipjump_at_the_same_query_budget(mlp_digits):
    """ART's HopSkipJump (image by image) on the same model and images: ours at the mean
    number of queries ART spent per image succeeds at least as often, with a median L2 at
    most 10 % above ART's."""
    art_attacks = pytest.importorskip("art.attacks.evasion")
    from art.estimators.classification import BlackBoxClassifier

    model, d = mlp_digits
    x, y = d.x_test[:16], d.y_test[:16]
    counted = [0]

    def predict_fn(batch):
        counted[0] += len(batch)
        labels = predict(model, torch.as_tensor(batch, dtype=torch.float32))
        return np.eye(10, dtype=np.float32)[labels.numpy()]

    clf = BlackBoxClassifier(predict_fn, input_shape=(1, 8, 8), nb_classes=10, clip_values=(0.0, 1.0))
    np.random.seed(0)
    art = art_attacks.HopSkipJump(clf, norm=2, max_iter=10, max_eval=1000, init_eval=100, init_size=100,
                                  verbose=False)
    theirs = torch.as_tensor(art.generate(x.numpy()))
    budget = int(np.ceil(counted[0] / len(x)))
    art_ok = predict(model, theirs) != y
    art_l2 = (theirs - x).flatten(1).norm(dim=1)[art_ok]
    atk = HopSkipJump(model, "L2", max_queries=budget, seed=0)
    ours = atk(x, y)
    ok = predict(model, ours) != y
    assert float(ok.float().mean()) >= float(art_ok.float().mean())
    ours_l2 = (ours - x).flatten(1).norm(dim=1)[ok]
    assert float(ours_l2.median()) <= 1.10 * float(art_l2.median()), (float(ours_l2.median()),
                                                                      float(art_l2.median()), budget)
