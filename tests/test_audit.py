"""The robustness audit: the worst case per image, robust accuracy against a closed form
on a linear model, and each flag on a case built to pass and one built to fail."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zerolib.attacks import FGSM, HopSkipJump
from zerolib.attacks.audit import AuditAttack, audit, bounded, fixed, minimal, noise
from zerolib.losses import CrossEntropy

pytestmark = pytest.mark.usefixtures("one_thread")


class Linear(nn.Module):
    def __init__(self, w, b):
        super().__init__()
        self.w = nn.Parameter(w, requires_grad=False)
        self.b = nn.Parameter(torch.tensor(float(b), dtype=w.dtype), requires_grad=False)

    def forward(self, x):
        z = x.flatten(1) @ self.w + self.b
        return torch.stack([-z, z], 1)


@pytest.fixture(scope="module")
def linear():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(64, generator=g, dtype=torch.float64)
    x = 0.35 + 0.3 * torch.rand(200, 1, 8, 8, generator=g, dtype=torch.float64)
    model = Linear(w, -float((x.flatten(1) @ w).mean()))
    with torch.no_grad():
        z = x.flatten(1) @ w + model.b
    y = (z > 0).long()
    y[:10] = 1 - y[:10]  # ten misclassified rows
    return model, x, y, z


def test_robust_accuracy_of_a_linear_model_is_the_closed_form(linear):
    model, x, y, z = linear
    eps_values = [0.0, 0.01, 0.02, 0.05, 0.1, 0.35]
    atk = bounded("FGSM", model, lambda m, eps: FGSM(m, eps, loss=CrossEntropy()))
    curves, flags = audit(model, x, y, [atk], eps_values, differentiable=True)
    signed = z * (2 * y - 1)  # > 0: correct; the worst Linf move lowers it by eps ||w||_1
    for eps in eps_values:
        exact = 100.0 * float((signed > eps * model.w.abs().sum()).double().mean())
        got = curves[(curves.eps == eps) & (curves.attack == "worst case")].accuracy.item()
        assert got == pytest.approx(exact), eps
    f = flags.set_index("check").ok
    assert f["eps 0 gives the clean accuracy"] and f["robust accuracy non-increasing in eps"]
    assert f["the largest eps reaches 0 %"] and f["identical predictions on repeated calls"]


def test_worst_case_is_taken_image_by_image(linear):
    model, x, y, _ = linear
    right = (model(x).argmax(1) == y)
    half = torch.arange(len(y)) < len(y) // 2
    a = AuditAttack("breaks the first half", "white-box", lambda x_, y_, eps: right & (~half if eps else True))
    b = AuditAttack("breaks the second half", "white-box", lambda x_, y_, eps: right & (half if eps else True))
    curves, _ = audit(model, x, y, [a, b], [0.0, 0.1], differentiable=True)
    at = curves[curves.eps == 0.1].set_index("attack").accuracy
    assert at["breaks the first half"] > 0 and at["breaks the second half"] > 0
    assert at["worst case"] == 0.0  # each image falls to one of the two, so none survives both


def test_flags_fail_where_they_should(linear):
    model, x, y, _ = linear
    clean = model(x).argmax(1) == y
    eps_values = [0.0, 0.1, 0.2]
    nothing = bounded("no-op", model, lambda m, eps: (lambda xx, yy: xx))  # a "gradient attack" that does nothing
    shrink = AuditAttack("worse at 0.1 only", "black-box",
                         lambda x_, y_, eps: clean & (torch.arange(len(y)) > 50) if eps == 0.1 else clean)
    hsj = minimal("HopSkipJump", model, HopSkipJump(model, "Linf", max_queries=800, seed=0), norm="Linf")

    _, flags = audit(model, x, y, [shrink], eps_values, differentiable=True)
    f = flags.set_index("check").ok
    assert not f["robust accuracy non-increasing in eps"] and not f["the largest eps reaches 0 %"]
    assert f["eps 0 gives the clean accuracy"]

    _, flags = audit(model, x, y, [nothing, shrink], eps_values, differentiable=True)
    assert not flags.set_index("check").ok["white-box at least as strong as transfer and black-box"]

    curves, flags = audit(model, x, y, [nothing, hsj], eps_values, differentiable=True)
    f = flags.set_index("check").ok
    masking = "decision-based not stronger than the gradient attacks (no gradient masking suspected)"
    assert not f[masking] and curves[curves.attack == "HopSkipJump"].accuracy.iloc[-1] < 100 * float(
        clean.double().mean())
    _, flags = audit(model, x, y, [nothing, hsj], eps_values, differentiable=False)
    assert masking not in set(flags.check)  # no gradients, no such check


def test_a_random_model_fails_the_determinism_check():
    class Coin(nn.Module):
        def forward(self, x):
            return torch.rand(len(x), 2)

    x, y = torch.rand(50, 4), torch.zeros(50, dtype=torch.long)
    a = AuditAttack("none", "white-box", lambda x_, y_, eps: torch.ones(50, dtype=torch.bool))
    _, flags = audit(Coin(), x, y, [a], [0.0], differentiable=True)
    assert not flags.set_index("check").ok["identical predictions on repeated calls"]
    with pytest.raises(ValueError, match="kind"):
        AuditAttack("x", "grey-box", lambda *a: None)


def test_the_worst_case_carries_an_image_broken_at_a_smaller_eps(linear):
    model, x, y, _ = linear
    clean = model(x).argmax(1) == y
    first = torch.arange(len(y)) < 50
    at_01_only = AuditAttack("breaks 50 rows at 0.1 only", "black-box",
                             lambda x_, y_, eps: clean & ~first if eps == 0.1 else clean)
    curves, flags = audit(model, x, y, [at_01_only], [0.0, 0.1, 0.2], differentiable=True)
    w = curves[curves.attack == "worst case"].set_index("eps").accuracy
    raw = curves[curves.attack == at_01_only.name].set_index("eps").accuracy
    assert raw[0.2] > raw[0.1]  # the attack alone is weaker at 0.2 ...
    assert w[0.2] == pytest.approx(w[0.1])  # ... but an adversary within 0.1 is within 0.2
    f = flags.set_index("check")
    assert not f.ok["robust accuracy non-increasing in eps"]  # the raw rise is still flagged
    assert f.category["robust accuracy non-increasing in eps"] == "broken model"


def test_noise_baseline_collapse_and_unbounded_strength_flags(linear):
    model, x, y, _ = linear

    class Brittle(nn.Module):
        """Right on the clean rows, class 0 on anything else: a model that collapses under noise."""

        def forward(self, t):
            same = (t.flatten(1)[:, None] == x.flatten(1)[None]).all(2).any(1)
            z = torch.where(same, model(t)[:, 1] - model(t)[:, 0], torch.full((len(t),), -1.0, dtype=t.dtype))
            return torch.stack([-z, z], 1)

    brittle = Brittle()
    yb = brittle(x).argmax(1)  # labels the model gets right, about half of each class
    nothing = bounded("no-op", brittle, lambda m, eps: (lambda xx, yy: xx))
    _, flags = audit(brittle, x, yb, [nothing, noise("uniform noise", brittle, draws=2, seed=0)], [0.0, 0.01, 0.1],
                     differentiable=True)
    f = flags.set_index("check")
    assert not f.ok["predictions do not collapse to one class under uniform noise"]
    assert not f.ok["random noise no stronger than the best attack"]
    assert f.category["random noise no stronger than the best attack"] == "attack strength"

    # the linear model ignores noise this small, and a weak unbounded attack is flagged
    _, flags = audit(model, x, y, [nothing, noise("uniform noise", model, draws=2, seed=0)], [0.0, 0.001],
                     differentiable=True)
    f = flags.set_index("check")
    assert f.ok["predictions do not collapse to one class under uniform noise"]
    assert f.ok["random noise no stronger than the best attack"]
    half = minimal("half", model, lambda xx, yy: torch.where((torch.arange(len(yy)) % 2 == 0)[:, None, None, None],
                                                              1 - xx, xx))
    hsj = minimal("HopSkipJump", model, HopSkipJump(model, "Linf", max_queries=600, seed=0), norm="Linf")
    _, flags = audit(model, x, y, [half, hsj], [0.0, 0.1], differentiable=False)
    f = flags.set_index("check").ok
    assert f["HopSkipJump breaks at least 95 % of the correct rows"]
    assert not f["half breaks at least 95 % of the correct rows"]  # the odd rows are never touched
