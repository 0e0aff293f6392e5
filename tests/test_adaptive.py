"""The adaptive attacks: surrogate-gradient PGD on the 01-loss models against the exact
distance to a linear model's boundary (Linf with the box, L2 in the interior), image by
image at least as strong as paper A's sign(w) on a vote ensemble, the straight-through
stand-in's exact forward pass, vanishing gradients reported; the Square attack against
the same closed forms; the pre-tanh codeword margin where tanh has saturated; HopSkipJump's
distance-against-queries record."""

from __future__ import annotations

import warnings

import pytest
import torch

from zerolib import load_dataset
from zerolib.attacks import HopSkipJump, SignAttack, SmoothVotes, Square, SurrogatePGD, VanishingGradientWarning
from zerolib.data import discretize
from zerolib.losses import Codebook, CodewordMSE, ScoreMargin
from zerolib.models.scd import MLP01Classifier, SCD01Classifier
from zerolib.models.votes import VoteLinear

pytestmark = pytest.mark.usefixtures("one_thread")

TOL = 0.02  # relative slack on an exact distance: far above float32 rounding, far below any real weakness


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", classes=[0, 1], seed=0)


@pytest.fixture(scope="module")
def scd_single(digits):
    return SCD01Classifier(n_votes=1, n_iter=40, random_state=0, device="cpu").fit(digits.x_train, digits.y_train)


@pytest.fixture(scope="module")
def scd_votes(digits):
    return SCD01Classifier(n_votes=8, n_iter=40, random_state=1, device="cpu").fit(digits.x_train, digits.y_train)


def _linf_box_distance(w, b, x, y):
    """The exact smallest Linf eps (within [0, 1]^D) that flips a linear model's sign:
    moving pixel i against s * w_i by min(eps, room_i) lowers the margin by |w_i| of that,
    so bisect on eps (float64). inf where even the far corner keeps the label."""
    flat = x.flatten(1).double()
    s = (2 * y - 1).double()
    margin = s * (flat @ w + b)
    room = torch.where((s[:, None] * w[None]) > 0, flat, 1 - flat)
    lo, hi = torch.zeros(len(x), dtype=torch.float64), torch.ones(len(x), dtype=torch.float64)
    for _ in range(60):
        mid = (lo + hi) / 2
        drop = (w.abs()[None] * room.clamp(max=mid[:, None])).sum(1)
        flips = drop > margin
        hi, lo = torch.where(flips, mid, hi), torch.where(flips, lo, mid)
    reach = (w.abs()[None] * room).sum(1) > margin
    return torch.where(reach, hi, torch.full_like(hi, float("inf"))), margin


def test_linf_surrogate_reaches_the_exact_boundary_of_a_single_scd01(digits, scd_single):
    w = torch.as_tensor(scd_single.coef_, dtype=torch.float64).reshape(-1)
    b = float(torch.as_tensor(scd_single.intercept_, dtype=torch.float64).reshape(-1)[0])
    x, y = digits.x_test[:80], digits.y_test[:80].long()
    dist, margin = _linf_box_distance(w, b, x, y)
    right = (margin > 0) & torch.isfinite(dist)
    assert right.sum() > 50
    # above the exact distance the default attack must succeed; below it nothing can (a check of
    # the closed form, so one cheap configuration is enough there)
    cheap = dict(temperatures=["inf"], variants=["smooth"], steps=10)
    for scale, expect, kw in ((1 + TOL, True, {}), (1 - TOL, False, cheap)):
        for i in torch.nonzero(right).flatten()[:15]:
            eps = float(dist[i]) * scale + (1e-4 if expect else 0)
            adv = SurrogatePGD(scd_single, eps, **kw)(x[i:i + 1], y[i:i + 1])
            fooled = int(scd_single.predict(adv.flatten(1).numpy())[0]) != int(y[i])
            assert fooled == expect, (int(i), float(dist[i]), scale)


def test_l2_surrogate_reaches_the_exact_distance_in_the_interior():
    g = torch.Generator().manual_seed(0)
    d = 64
    w = torch.randn(d, generator=g, dtype=torch.float64)
    w /= w.norm()
    x = (0.3 + 0.4 * torch.rand(40, 1, 8, 8, generator=g, dtype=torch.float64)).float()
    z0 = x.flatten(1).double() @ w
    target = 0.05 + 0.15 * torch.rand(40, generator=g, dtype=torch.float64)  # distances 0.05-0.2: the move stays inside
    sign = torch.where(torch.arange(40) % 2 == 0, 1.0, -1.0).double()
    # one bias, so choose each row's point along w to have the signed distance sign * target
    x = (x.flatten(1).double() + ((sign * target - z0)[:, None]) * w[None]).view(40, 1, 8, 8)
    assert float(x.min()) > 0.05 and float(x.max()) < 0.95
    model = VoteLinear(w.view(1, 1, d), torch.zeros(1, 1, dtype=torch.float64), n_classes=2)
    y = (sign > 0).long()
    cheap = dict(temperatures=["inf"], variants=["smooth"], steps=10)
    for scale, expect, kw in ((1 + TOL, True, {}), (1 - TOL, False, cheap)):
        for i in range(0, 40, 2):
            eps = float(target[i]) * scale
            atk = SurrogatePGD(model, eps, norm="L2", **kw)
            adv = atk(x[i:i + 1], y[i:i + 1])
            assert float((adv - x[i:i + 1]).flatten().norm()) <= eps * (1 + 1e-9) + 1e-12
            assert (int(model.predict(adv)[0]) != int(y[i])) == expect, (i, scale)


def test_surrogate_beats_sign_w_image_by_image_on_a_vote_ensemble(digits, scd_votes):
    x, y = digits.x_test[:120], digits.y_test[:120].long()
    module = scd_votes.as_module()
    more = 0
    for eps in (0.05, 0.1, 0.2):
        by_sign = module.predict(SignAttack(scd_votes, eps)(x, y)) != y
        by_surrogate = module.predict(SurrogatePGD(scd_votes, eps, steps=40)(x, y)) != y
        assert bool((by_surrogate | ~by_sign).all()), eps  # wherever sign(w) succeeds, the surrogate does too
        more += int(by_surrogate.sum() - by_sign.sum())
    assert more >= 0


def test_surrogate_outputs_are_valid_and_seeded(digits):
    mlp = MLP01Classifier(n_votes=3, n_iter=30, random_state=0, device="cpu").fit(digits.x_train, digits.y_train)
    x, y = digits.x_test[:40], digits.y_test[:40].long()
    for norm, eps in (("Linf", 0.15), ("L2", 1.0)):
        make = lambda: SurrogatePGD(mlp, eps, norm=norm, steps=15, restarts=2, seed=5)  # noqa: E731
        a, b = make()(x, y), make()(x, y)
        assert torch.equal(a, b)
        assert float(a.min()) >= 0 and float(a.max()) <= 1
        size = (a - x).flatten(1).abs().amax(1) if norm == "Linf" else (a - x).flatten(1).norm(dim=1)
        assert float(size.max()) <= eps + 1e-6
        atk = make()
        adv = atk(x, y)
        fooled = torch.as_tensor(mlp.predict(adv.flatten(1).numpy())) != y
        assert torch.equal(fooled, atk.margins < 0)  # the margin it reports is the real model's


def test_straight_through_keeps_the_exact_forward_pass(digits, scd_votes):
    mlp = MLP01Classifier(n_votes=4, n_iter=20, random_state=2, device="cpu").fit(digits.x_train, digits.y_train)
    x = digits.x_test[:50]
    for model in (scd_votes, mlp):
        module = model.as_module()
        exact = module.counts(x)[:, 1] / module.n_votes
        st = SmoothVotes(model, 0.1, straight_through=True)(x)[:, 1]
        assert torch.allclose(st.double(), exact.double(), atol=1e-6)
        sharp = SmoothVotes(model, 1e-4)(x)[:, 1]  # a sharp sigmoid is the step away from the boundary
        assert float((sharp.double() - exact.double()).abs().max()) < 0.05


def test_a_vanishing_temperature_is_reported(digits, scd_votes):
    x, y = digits.x_test[:30], digits.y_test[:30].long()
    atk = SurrogatePGD(scd_votes, 0.1, steps=5, temperatures=[1e-9], variants=["smooth"])
    with pytest.warns(VanishingGradientWarning, match="no usable gradient"):
        atk(x, y)
    assert atk.vanished[(1e-9, "smooth")] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", VanishingGradientWarning)
        ok = SurrogatePGD(scd_votes, 0.1, steps=5, temperatures=["inf", 0.5])
        ok(x, y)
    assert all(v < 1.0 for v in ok.vanished.values())


def test_one_vs_all_targeted_and_discretized(digits):
    d3 = load_dataset("digits", classes=[0, 1, 2], seed=0)
    scd = SCD01Classifier(n_votes=2, n_iter=30, random_state=0, device="cpu").fit(d3.x_train, d3.y_train)
    x, y = d3.x_test[:45], d3.y_test[:45].long()
    target = (y + 1) % 3
    atk = SurrogatePGD(scd, 0.3, steps=20, targeted=True)
    adv = atk(x, target)
    pred = torch.as_tensor(scd.predict(adv.flatten(1).numpy()))
    assert torch.equal(pred == target, atk.margins < 0) and int((pred == target).sum()) > 0
    # a model on binarized pixels, attacked through the binarization (identity backward)
    binarize = lambda t: discretize(t, "inf")  # noqa: E731
    xb = binarize(digits.x_train)
    scd_b = SCD01Classifier(n_votes=2, n_iter=30, random_state=0, device="cpu").fit(xb, digits.y_train)
    xt, yt = digits.x_test[:60], digits.y_test[:60].long()
    atk = SurrogatePGD(scd_b, 0.3, steps=20, transform=binarize)
    adv = atk(xt, yt)
    fooled = torch.as_tensor(scd_b.predict(binarize(adv).flatten(1).numpy())) != yt
    assert torch.equal(fooled, atk.margins < 0)
    clean = torch.as_tensor(scd_b.predict(binarize(xt).flatten(1).numpy())) != yt
    assert int(fooled.sum()) > int(clean.sum())


def test_bad_surrogate_settings_are_refused(scd_votes):
    with pytest.raises(ValueError, match="temperatures"):
        SurrogatePGD(scd_votes, 0.1, temperatures=[0.0])
    with pytest.raises(ValueError, match="variants"):
        SurrogatePGD(scd_votes, 0.1, variants=["sideways"])
    with pytest.raises(ValueError, match="norm"):
        SurrogatePGD(scd_votes, 0.1, norm="L1")
    with pytest.raises(TypeError, match="vote model"):
        SurrogatePGD(torch.nn.Linear(4, 2), 0.1)


# ------------------------------------------------------------------------------ Square
def test_square_linf_breaks_only_and_most_of_what_can_be_broken(digits, scd_single):
    w = torch.as_tensor(scd_single.coef_, dtype=torch.float64).reshape(-1)
    b = float(torch.as_tensor(scd_single.intercept_, dtype=torch.float64).reshape(-1)[0])
    x, y = digits.x_test[:80], digits.y_test[:80].long()
    dist, margin = _linf_box_distance(w, b, x, y)
    # the linear model with a continuous score: its decision value (a linear model's margin)
    lin = VoteLinear(w.view(1, 1, -1), torch.tensor([[b]], dtype=torch.float64), n_classes=2)
    for eps in (0.05, 0.1):
        atk = Square(lin, eps, n_queries=400, seed=1, scores=lambda t: lin(t))
        adv = atk(x.double(), y)
        assert float((adv - x.double()).abs().max()) <= eps + 1e-9 and float(adv.min()) >= 0
        fooled = (adv.flatten(1) @ w + b > 0).long() != y
        breakable = (margin > 0) & (dist <= eps)
        right = margin > 0
        assert not bool((fooled & right & ~breakable).any())  # never beyond the exact distance
        assert int((fooled & breakable).sum()) >= 0.8 * int(breakable.sum()), eps
        assert int(atk.queries.max()) <= 400


def test_square_l2_against_the_exact_distance_and_seeded():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(64, generator=g, dtype=torch.float64)
    w /= w.norm()
    x = 0.3 + 0.4 * torch.rand(60, 1, 8, 8, generator=g, dtype=torch.float64)
    z = x.flatten(1) @ w
    b = -float(z.median())
    y = (z + b > 0).long()
    lin = VoteLinear(w.view(1, 1, -1), torch.tensor([[b]], dtype=torch.float64), n_classes=2)
    eps = 0.3
    make = lambda: Square(lin, eps, norm="L2", n_queries=500, seed=2, scores=lambda t: lin(t))  # noqa: E731
    adv = make()(x, y)
    assert torch.equal(adv, make()(x, y))
    assert float((adv - x).flatten(1).norm(dim=1).max()) <= eps + 1e-9
    fooled = (adv.flatten(1) @ w + b > 0).long() != y
    exact = (z + b).abs()  # L2 distance to the hyperplane; inside the box for these rows
    assert not bool((fooled & (exact > eps + 1e-9)).any())
    assert int((fooled & (exact <= eps)).sum()) >= 0.7 * int((exact <= eps).sum())


def test_square_reads_vote_counts_and_needs_images(digits, scd_votes):
    x, y = digits.x_test[:30], digits.y_test[:30].long()
    module = scd_votes.as_module()
    adv = Square(module, 0.3, n_queries=200, seed=0)(x, y)
    assert int((module.predict(adv) != y).sum()) > 0
    with pytest.raises(ValueError, match="image"):
        Square(module, 0.3)(x.flatten(1), y)


# ------------------------------------------------------------------------ heads, HSJ
def test_pre_tanh_margin_has_a_gradient_where_tanh_saturates():
    book = Codebook.from_seed(2, 16, seed=0)
    y = torch.tensor([0, 1])
    z = (30 * book.codes.sign()[y]).requires_grad_(True)  # far out on tanh's flat tails, at the right codeword
    own = CodewordMSE(book)
    grads = {}
    for name, loss in (("own", own), ("post", ScoreMargin(own)), ("pre", ScoreMargin(own, pre_activation=True))):
        (g,) = torch.autograd.grad(loss.losses(z, y).sum(), z)
        grads[name] = float(g.norm())
    assert grads["own"] < 1e-12 and grads["post"] < 1e-12
    assert grads["pre"] > 0.1
    with pytest.raises(ValueError, match="from_logits"):
        ScoreMargin(CodewordMSE(book, from_logits=False), pre_activation=True)


def test_hopskipjump_records_its_distance_against_queries(digits, scd_single):
    x, y = digits.x_test[:15], digits.y_test[:15].long()
    kw = dict(max_queries=300, init_evals=20, max_evals=50, seed=0)
    atk = HopSkipJump(scd_single, "L2", record_at=(60, 120, 300), **kw)
    atk(x, y)
    plain = HopSkipJump(scd_single, "L2", **kw)
    plain(x, y)
    assert torch.equal(plain.norms, atk.norms)  # recording changes nothing
    assert torch.allclose(atk.trace[300], atk.norms.double())
    assert bool((atk.trace[60] >= atk.trace[120]).all() and (atk.trace[120] >= atk.trace[300]).all())
