"""The attack suite: closed forms, contract (validation, eval mode, no side
effects), hypothesis properties, and behaviour on small trained models.

Models are tiny and defined here: a seeded float64 MLP for the properties
(float64 so that a batch and its rows give bit-identical gradients), and
MLPs trained for about a second on scikit-learn's digits (8x8, scaled to
[0, 1]) for the behavioural tests.
"""

from functools import lru_cache

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from zerolib.attacks import (
    BIM, CWL2, FGSM, IFGSM, LBFGS, MIM, PGD, Attack, CodebookCWL2, DeepFool,
    MLP01HiddenNodeAttack, SignAttack,
)
from zerolib.attacks.cw import margin
from zerolib.losses import Codebook, CodewordMSE, CrossEntropy, OneHotMSE

D, K = 8, 3  # features and classes of the property-test model

# The trained models below differ in the last bits between thread counts; pin one.
pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------- models
def small_mlp(d=D, h=6, k=K, seed=0, dtype=torch.float64):
    with torch.random.fork_rng():  # leave the global RNG as it was
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, k)).to(dtype)


@lru_cache(maxsize=None)
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=gen)
    tr, te = perm[:1400], perm[1400:]
    return x[tr], y[tr], x[te], y[te]


def train(model, loss, x, y, steps=300, lr=1e-2):
    """Full-batch Adam (deterministic: no sampling)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
    model.eval()
    for p in model.parameters():
        p.grad = None
    return model


@lru_cache(maxsize=None)
def digits_mlp():
    """64-32-10 ReLU MLP, cross-entropy, ~97 % test accuracy on digits."""
    xtr, ytr, _, _ = digits()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    return train(model, CrossEntropy(), xtr, ytr)


@lru_cache(maxsize=None)
def digits_codebook_mlp():
    """64-32-16 MLP with a tanh head trained on MSE to random codewords (d = 16)."""
    xtr, ytr, _, _ = digits()
    loss = CodewordMSE(Codebook.from_seed(10, 16, seed=0))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16))
    return train(model, loss, xtr, ytr, steps=400), loss


def eval_data(n=100):
    _, _, xte, yte = digits()
    return xte[:n], yte[:n]


def random_targets(y, k=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (y + torch.randint(1, k, y.shape, generator=gen)) % k


def linear_f(model, x):
    """The binary decision value f = z_1 - z_0 of a 2-output linear model, and its weights."""
    w = (model.weight[1] - model.weight[0]).detach()
    b = (model.bias[1] - model.bias[0]).detach()
    return x @ w + b, w


# ------------------------------------------------------------ closed forms
@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_on_a_linear_softmax_model_equals_its_closed_form(targeted):
    torch.manual_seed(1)
    model = nn.Linear(D, 4).double()
    x = torch.rand(16, D, dtype=torch.float64)
    y = torch.randint(0, 4, (16,))
    W, b = model.weight.detach(), model.bias.detach()
    p = torch.softmax(x @ W.T + b, 1)
    grad = (p - torch.nn.functional.one_hot(y, 4)) @ W  # d CE / d x, by hand
    sign = -1 if targeted else 1
    expected = (x + 0.1 * sign * grad.sign()).clamp(0, 1)
    got = FGSM(model, eps=0.1, targeted=targeted)(x, y)
    assert torch.allclose(got, expected, atol=1e-12)


def test_fgsm_on_a_logistic_model_moves_against_w_for_label_1():
    # two-output linear model = logistic regression on f = z_1 - z_0
    torch.manual_seed(2)
    model = nn.Linear(D, 2).double()
    x = torch.rand(10, D, dtype=torch.float64) * 0.5 + 0.25
    _, w = linear_f(model, x)
    got = FGSM(model, eps=0.2)(x, torch.ones(10, dtype=torch.long))
    assert torch.allclose(got, x - 0.2 * w.sign())
    got0 = FGSM(model, eps=0.2)(x, torch.zeros(10, dtype=torch.long))
    assert torch.allclose(got0, x + 0.2 * w.sign())


def test_deepfool_on_a_linear_binary_model_lands_past_the_boundary_by_the_overshoot():
    torch.manual_seed(3)
    model = nn.Linear(D, 2).double()
    with torch.no_grad():
        model.weight.mul_(3)
    x = torch.rand(64, D, dtype=torch.float64) * 0.4 + 0.3
    f, w = linear_f(model, x)
    y = (f > 0).long()
    overshoot = 0.02
    # analytic minimal perturbation |f| / ||w|| * (unit vector towards the other side)
    r = (f.abs() / w.norm())[:, None] * (-f.sign())[:, None] * w / w.norm()
    expected = x + (1 + overshoot) * r
    inside = ((expected >= 0) & (expected <= 1)).all(1)
    assert inside.sum() >= 32
    got = DeepFool(model, steps=10, overshoot=overshoot)(x, y)
    slack = DeepFool.PERT_EPS / float(w.norm()) * (1 + overshoot)  # the +1e-5 on |f|
    assert torch.allclose(got[inside], expected[inside], atol=slack + 1e-12)
    f_adv, _ = linear_f(model, got[inside])
    # on the other side of the boundary, at overshoot * |f(x)| from it
    assert torch.allclose(f_adv, -overshoot * f[inside], atol=1e-5 * (1 + overshoot) + 1e-9)
    assert torch.all(model(got[inside]).argmax(1) != y[inside])


def test_deepfool_on_a_linear_multiclass_model_reaches_the_nearest_boundary():
    torch.manual_seed(4)
    model = nn.Linear(D, 5).double()
    x = torch.rand(32, D, dtype=torch.float64) * 0.2 + 0.4
    y = model(x).argmax(1)
    W, b = model.weight.detach(), model.bias.detach()
    z = x @ W.T + b
    dist = torch.full_like(z, float("inf"))
    for k in range(5):
        wk = W[k] - W[y]  # (32, D)
        d_k = (z[:, k] - z.gather(1, y[:, None]).squeeze(1)).abs() / wk.norm(dim=1)
        dist[:, k] = torch.where(y == k, torch.full_like(d_k, float("inf")), d_k)
    got = DeepFool(model, steps=5, overshoot=0.0, candidates=5)(x, y)
    inside = (got > 0).all(1) & (got < 1).all(1)
    norms = (got - x).norm(dim=1)
    assert torch.allclose(norms[inside], dist.min(1).values[inside], atol=1e-4)
    assert torch.all(model(got[inside]).argmax(1) != y[inside])


def test_sign_attack_closed_form_and_vote_combination():
    w = torch.tensor([[1.0, -2.0, 0.5, 0.0], [3.0, 1.0, -0.5, 0.0], [1.0, 1.0, -0.2, 0.0]])
    x = torch.full((2, 4), 0.5)
    y = torch.tensor([1, 0])
    got = SignAttack(w[:1], eps=0.1)(x, y)
    expected = (x - 0.1 * w[0].sign() * (2 * y[:, None] - 1)).clamp(0, 1)
    assert torch.allclose(got, expected)
    # votes: mean of w (sign of [5, 0, -0.2, 0] / 3) vs majority of signs ([+, +, -, 0])
    mean_w = SignAttack(w, eps=0.1)(x, y)
    assert torch.allclose(mean_w[0], torch.tensor([0.4, 0.5, 0.6, 0.5]))
    mean_sign = SignAttack(w, eps=0.1, combine="mean_sign")(x, y)
    assert torch.allclose(mean_sign[0], torch.tensor([0.4, 0.4, 0.6, 0.5]))
    # targeted: move towards the given class
    assert torch.allclose(SignAttack(w[:1], eps=0.1, targeted=True)(x, 1 - y), got)
    # a model exposing coef_ (scikit-learn layout (1, D)), and image-shaped input
    class Fitted:
        coef_ = w[:1].numpy()

    xi = x.view(2, 1, 2, 2)
    assert torch.allclose(SignAttack(Fitted(), eps=0.1)(xi, y), got.view(2, 1, 2, 2))


def test_mlp01_attack_takes_the_first_node_in_the_seeded_order_that_flips():
    # AND of two half-planes: class 1 iff x0 > 0.5 and x1 > 0.5
    W1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b1 = torch.tensor([-0.5, -0.5])

    def predict(x):
        h = (x @ W1 + b1 > 0).long()
        return h.prod(1)

    x = torch.tensor([[0.6, 0.9], [0.9, 0.6], [0.2, 0.9]])
    y = predict(x)
    assert y.tolist() == [1, 1, 0]
    adv = MLP01HiddenNodeAttack(W1, b1, predict, eps=0.2, seed=0)(x, y)
    # row 0: only node 0 (x0 0.6 -> 0.4) flips it; row 1: only node 1; both rows
    # must get exactly that move whatever the order
    assert torch.allclose(adv[0], torch.tensor([0.4, 0.9]))
    assert torch.allclose(adv[1], torch.tensor([0.9, 0.4]))
    # row 2 (class 0, h = [0, 1]): node 0 moves x0 up by 0.2 (0.4, still 0),
    # node 1 moves x1 down (0.7 -> still 0): no node flips -> the first of the order
    gen = torch.Generator().manual_seed(0)
    first = int(torch.rand(3, 2, generator=gen).argsort(1)[2, 0])
    expected = torch.tensor([[0.4, 0.9], [0.2, 0.7]])[first]
    assert torch.allclose(adv[2], expected)
    assert predict(adv).tolist() == [0, 0, 0]


# --------------------------------------------------------------- contract
def attack_factories():
    """(name, factory(model, eps) -> attack) for the model-based attacks."""
    return {
        "FGSM": lambda m, e: FGSM(m, eps=e),
        "BIM": lambda m, e: BIM(m, eps=e, alpha=0.05, steps=5),
        "MIM": lambda m, e: MIM(m, eps=e, alpha=0.05, steps=5),
        "PGD": lambda m, e: PGD(m, eps=e, alpha=0.05, steps=5, random_start=False),
        "PGD-rs": lambda m, e: PGD(m, eps=e, alpha=0.05, steps=5, seed=1),
        "CWL2": lambda m, e: CWL2(m, initial_const=1.0, steps=15, binary_search_steps=2, lr=0.05),
        "DeepFool": lambda m, e: DeepFool(m, steps=5),
        "LBFGS": lambda m, e: LBFGS(m, initial_const=1.0, steps=10, binary_search_steps=2, targeted=True),
    }


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda m: FGSM(m, eps=-0.1), "eps must be >= 0"),
        (lambda m: FGSM(m, eps=float("nan")), "eps must be finite"),
        (lambda m: BIM(m, steps=0), "steps must be >= 1"),
        (lambda m: PGD(m, steps=2.5), "steps must be an integer"),
        (lambda m: MIM(m, alpha=-1), "alpha must be >= 0"),
        (lambda m: MIM(m, decay=-1), "decay must be >= 0"),
        (lambda m: CWL2(m, initial_const=0), "initial_const must be > 0"),
        (lambda m: CWL2(m, kappa=-1), "kappa must be >= 0"),
        (lambda m: CWL2(m, binary_search_steps=0), "binary_search_steps must be >= 1"),
        (lambda m: DeepFool(m, candidates=1), "candidates must be >= 2"),
        (lambda m: DeepFool(m, overshoot=-0.1), "overshoot must be >= 0"),
        (lambda m: LBFGS(m, targeted=False), "no untargeted mode"),
        (lambda m: SignAttack(torch.ones(3), eps=-1), "eps must be >= 0"),
        (lambda m: SignAttack(torch.ones(3), combine="median"), "combine"),
        (lambda m: MLP01HiddenNodeAttack(torch.ones(3, 2), torch.ones(3), lambda x: x, eps=0.1), "one bias"),
    ],
)
def test_bad_parameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make(small_mlp())


def test_deepfool_has_no_targeted_mode():
    with pytest.raises(ValueError, match="no targeted mode"):
        DeepFool(small_mlp(), targeted=True)


@pytest.mark.parametrize(
    "x, y, match",
    [
        (torch.full((2, D), 1.5, dtype=torch.float64), torch.tensor([0, 1]), r"x must lie in \[0, 1\]"),
        (torch.full((2, D), -0.1, dtype=torch.float64), torch.tensor([0, 1]), r"x must lie in \[0, 1\]"),
        (torch.full((2, D), float("nan"), dtype=torch.float64), torch.tensor([0, 1]), "NaN"),
        (torch.zeros((2, D), dtype=torch.uint8), torch.tensor([0, 1]), "floating-point"),
        (torch.zeros(D, dtype=torch.float64), torch.tensor([0]), "batch"),
        (torch.zeros((2, D), dtype=torch.float64), torch.tensor([0, 1, 2]), r"shape \(2,\)"),
        (torch.zeros((2, D), dtype=torch.float64), torch.tensor([[0, 1]]), r"shape \(2,\)"),
        (torch.zeros((2, D), dtype=torch.float64), torch.tensor([0.0, 1.0]), "integer labels"),
        (torch.zeros((2, D), dtype=torch.float64), torch.tensor([0, -1]), ">= 0"),
        (torch.zeros((2, D), dtype=torch.float64), torch.tensor([0, K]), f"< {K}"),
    ],
)
@pytest.mark.parametrize("name", ["FGSM", "PGD", "CWL2", "DeepFool", "LBFGS"])
def test_bad_inputs_raise_value_error_naming_the_problem(name, x, y, match):
    atk = attack_factories()[name](small_mlp(), 0.1)
    with pytest.raises(ValueError, match=match):
        atk(x, y)


def test_codebook_label_range_is_the_number_of_codewords():
    cb = Codebook.from_seed(4, 5, seed=0)
    atk = FGSM(small_mlp(k=5), eps=0.1, loss=CodewordMSE(cb))
    with pytest.raises(ValueError, match="< 4"):
        atk(torch.rand(2, D, dtype=torch.float64), torch.tensor([0, 4]))


def test_targeted_attack_without_labels_and_binary_attacks_with_other_labels_raise():
    with pytest.raises(ValueError, match="target labels"):
        PGD(small_mlp(), targeted=True)(torch.rand(2, D, dtype=torch.float64))
    with pytest.raises(ValueError, match="< 2"):
        SignAttack(torch.ones(D), eps=0.1)(torch.rand(2, D), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="features"):
        SignAttack(torch.ones(D + 1), eps=0.1)(torch.rand(2, D), torch.tensor([0, 1]))


class ModeRecorder(nn.Module):
    """An MLP with dropout and batch norm that records the mode it ran in."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(D, 6), nn.BatchNorm1d(6), nn.Dropout(0.5), nn.ReLU(), nn.Linear(6, K))
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        return self.body(x)


@pytest.mark.parametrize("name", list(attack_factories()))
def test_attacks_run_in_eval_mode_restore_modes_and_leave_no_gradients(name):
    model = ModeRecorder().double()
    model.train()
    model.body[2].eval()  # a submodule in its own mode must get it back
    x = torch.rand(4, D, dtype=torch.float64)
    x_copy = x.clone()
    y = torch.tensor([0, 1, 2, 0])
    stats = model.body[1].running_mean.clone()
    with torch.no_grad():  # attacks must work under no_grad too
        adv = attack_factories()[name](model, 0.1)(x, y)
    assert model.seen and not any(model.seen)
    assert model.training and model.body[0].training and not model.body[2].training
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(model.body[1].running_mean, stats)
    assert torch.equal(x, x_copy)
    assert adv.dtype == x.dtype and adv.shape == x.shape


@pytest.mark.parametrize("name", list(attack_factories()))
def test_attacks_work_when_called_under_inference_mode(name):
    model = small_mlp()
    with torch.inference_mode():
        x = torch.rand(3, D, dtype=torch.float64)
        adv = attack_factories()[name](model, 0.1)(x, torch.tensor([0, 1, 2]))
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1


def test_output_keeps_the_input_dtype_and_the_model_dtype_is_used_inside():
    model = small_mlp()  # float64
    x = torch.rand(3, D)  # float32
    adv = FGSM(model, eps=0.1)(x, torch.tensor([0, 1, 2]))
    assert adv.dtype == torch.float32
    x64 = x.double()
    assert torch.allclose(adv.double(), FGSM(model, eps=0.1)(x64, torch.tensor([0, 1, 2])), atol=1e-7)


def test_untargeted_without_labels_attacks_the_predictions():
    model = small_mlp()
    x = torch.rand(5, D, dtype=torch.float64)
    pred = model(x).argmax(1)
    assert torch.equal(BIM(model, eps=0.2, steps=3)(x), BIM(model, eps=0.2, steps=3)(x, pred))


def test_empty_batch_is_a_clear_error():
    x = torch.zeros(0, D, dtype=torch.float64)
    with pytest.raises(ValueError, match="empty batch"):
        PGD(small_mlp())(x, torch.zeros(0, dtype=torch.long))


def test_pgd_random_start_is_reproducible_by_seed():
    model = small_mlp()
    x = torch.rand(6, D, dtype=torch.float64)
    y = torch.randint(0, K, (6,))
    a = PGD(model, eps=0.2, steps=2, seed=5)(x, y)
    b = PGD(model, eps=0.2, steps=2, seed=5)(x, y)
    c = PGD(model, eps=0.2, steps=2, seed=6)(x, y)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bim_alias_and_mim_survives_a_zero_gradient():
    assert IFGSM is BIM
    model = nn.Sequential(nn.Linear(D, K)).double()
    with torch.no_grad():
        model[0].weight.zero_()
    x = torch.rand(3, D, dtype=torch.float64)
    adv = MIM(model, eps=0.1)(x, torch.tensor([0, 1, 2]))
    assert torch.isfinite(adv).all() and torch.equal(adv, x)


# ------------------------------------------------------------- properties
@st.composite
def batches(draw, k=K, d=D):
    n = draw(st.integers(1, 4))
    x = draw(arrays(np.float64, (n, d), elements=st.floats(0, 1, allow_nan=False, width=64)))
    y = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return torch.from_numpy(x), torch.tensor(y, dtype=torch.long)


PROPS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODEL = small_mlp(seed=7)
BOUNDED = ["FGSM", "BIM", "MIM", "PGD", "PGD-rs"]
DETERMINISTIC = ["FGSM", "BIM", "MIM", "PGD", "CWL2", "DeepFool", "LBFGS"]


@pytest.mark.parametrize("name", list(attack_factories()))
@PROPS
@given(batch=batches(), eps=st.floats(0, 0.5))
def test_output_is_in_the_box_within_eps_and_the_input_is_untouched(name, batch, eps):
    x, y = batch
    x_copy = x.clone()
    atk = attack_factories()[name](MODEL, eps)
    adv = atk(x, y)
    assert torch.equal(x, x_copy)
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1
    if atk.norm == "Linf":
        assert (adv - x).abs().max() <= eps + 1e-12


@pytest.mark.parametrize("name", DETERMINISTIC)
@PROPS
@given(batch=batches())
def test_a_batch_gives_its_rows_one_by_one(name, batch):
    x, y = batch
    atk = attack_factories()[name](MODEL, 0.3)
    assert atk.deterministic
    whole = atk(x, y)
    rows = torch.cat([atk(x[i : i + 1], y[i : i + 1]) for i in range(len(x))])
    assert torch.allclose(whole, rows, atol=1e-9)


@pytest.mark.parametrize("name", BOUNDED)
@PROPS
@given(batch=batches())
def test_eps_zero_returns_the_input(name, batch):
    x, y = batch
    adv = attack_factories()[name](MODEL, 0.0)(x, y)
    assert torch.equal(adv, x)
    assert adv.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()  # a copy, not x


def binary_net():
    """A hand-made sign network on D inputs: 3 hidden nodes, output = majority."""
    gen = torch.Generator().manual_seed(0)
    W1 = torch.randn(D, 3, generator=gen, dtype=torch.float64)
    b1 = -(W1.sum(0) / 2)  # hyperplanes through the centre of the cube

    def predict(x):
        h = (x.flatten(1) @ W1 + b1 > 0).long()
        return (h.sum(1) >= 2).long()

    return W1, b1, predict


@PROPS
@given(batch=batches(k=2), eps=st.floats(0, 0.5), seed=st.integers(0, 3))
def test_paper_a_attacks_stay_in_the_box_within_eps_and_leave_the_input(batch, eps, seed):
    x, y = batch
    x_copy = x.clone()
    W1, b1, predict = binary_net()
    for atk in [SignAttack(W1[:, 0], eps=eps), MLP01HiddenNodeAttack(W1, b1, predict, eps=eps, seed=seed)]:
        adv = atk(x, y)
        assert torch.equal(x, x_copy)
        assert adv.min() >= 0 and adv.max() <= 1
        assert (adv - x).abs().max() <= eps + 1e-12
        if eps == 0:
            assert torch.equal(adv, x)
    sign = SignAttack(W1[:, 0], eps=eps)
    assert torch.equal(sign(x, y), torch.cat([sign(x[i : i + 1], y[i : i + 1]) for i in range(len(x))]))


# ----------------------------------------------- behaviour on trained models
def test_the_trained_digits_models_are_accurate():
    _, _, xte, yte = digits()
    assert (digits_mlp()(xte).argmax(1) == yte).float().mean() > 0.93
    model, loss = digits_codebook_mlp()
    assert (loss.predict(model(xte)) == yte).float().mean() > 0.9


@pytest.mark.parametrize(
    "make",
    [
        lambda m: PGD(m, eps=0.3, alpha=0.02, steps=40, targeted=True),
        lambda m: BIM(m, eps=0.3, alpha=0.05, steps=10, targeted=True),
        lambda m: MIM(m, eps=0.3, alpha=0.06, steps=10, targeted=True),
        lambda m: CWL2(m, initial_const=1.0, steps=200, binary_search_steps=4, lr=0.05, targeted=True),
        lambda m: LBFGS(m, initial_const=1.0, steps=100, binary_search_steps=4, targeted=True),
    ],
    ids=["PGD", "BIM", "MIM", "CWL2", "LBFGS"],
)
def test_targeted_attacks_reach_their_targets_on_a_trained_model(make):
    model = digits_mlp()
    x, y = eval_data(100)
    t = random_targets(y)
    adv = make(model)(x, t)
    assert (model(adv).argmax(1) == t).float().mean() >= 0.9


@pytest.mark.parametrize(
    "make",
    [
        lambda m: FGSM(m, eps=0.3),
        lambda m: PGD(m, eps=0.2, steps=20, alpha=0.02),
        lambda m: DeepFool(m, steps=50),
        lambda m: CWL2(m, initial_const=1.0, steps=100, binary_search_steps=3, lr=0.05),
    ],
    ids=["FGSM", "PGD", "DeepFool", "CWL2"],
)
def test_untargeted_attacks_fool_a_trained_model(make):
    model = digits_mlp()
    x, y = eval_data(100)
    adv = make(model)(x, y)
    assert (model(adv).argmax(1) == y).float().mean() <= 0.1


@pytest.mark.parametrize("targeted", [False, True])
def test_cw_meets_its_kappa_margin_on_successes(targeted):
    model = digits_mlp()
    x, y = eval_data(60)
    labels = random_targets(y) if targeted else y
    kappa = 3.0
    adv = CWL2(model, initial_const=1.0, kappa=kappa, steps=200, binary_search_steps=4, lr=0.05, targeted=targeted)(
        x, labels
    )
    changed = (adv != x).flatten(1).any(1)
    assert changed.float().mean() > 0.8
    m = margin(model(adv[changed]), labels[changed]).detach()
    if targeted:
        assert torch.all(m >= kappa - 1e-4)
    else:
        assert torch.all(-m >= kappa - 1e-4)
    # a larger margin costs a larger perturbation
    adv0 = CWL2(model, initial_const=1.0, steps=200, binary_search_steps=4, lr=0.05, targeted=targeted)(x, labels)
    both = changed & (adv0 != x).flatten(1).any(1)
    assert (adv - x)[both].norm(dim=1).mean() > (adv0 - x)[both].norm(dim=1).mean()


def test_margin_is_not_fooled_by_all_negative_scores():
    scores = torch.tensor([[-5.0, -1.0, -3.0]])
    assert float(margin(scores, torch.tensor([1]))) == pytest.approx(2.0)
    assert float(margin(scores, torch.tensor([0]))) == pytest.approx(-4.0)


def test_codebook_cw_beats_plain_cw_on_the_codebook_model():
    """Paper B, Table 7: the plain CW-L2 reads the d raw outputs as class
    logits and rarely reaches a target on the codebook model; the modified
    margin on distances to codewords does."""
    model, loss = digits_codebook_mlp()
    x, y = eval_data(60)
    t = random_targets(y)
    kw = dict(initial_const=1.0, steps=200, binary_search_steps=4, lr=0.05, targeted=True)
    ours = CodebookCWL2(model, loss.codebook, kappa=0.05, **kw)(x, t)
    plain = CWL2(model, loss=CrossEntropy(), **kw)(x, t)
    rate_ours = (loss.predict(model(ours)) == t).float().mean()
    rate_plain = (loss.predict(model(plain)) == t).float().mean()
    # Over model init seeds 0-5 (1 and 2 threads, Intel and AMD) ours reached 0.62-0.93
    # and plain 0.03-0.17, a gap of at least 0.45: the bounds sit below both spreads.
    assert rate_ours >= 0.5 and rate_ours > rate_plain + 0.3
    # the distance margin holds where the attack changed the input
    changed = (ours != x).flatten(1).any(1)
    m = margin(loss.scores(model(ours[changed])), t[changed]).detach()
    assert torch.all(m >= 0.05 - 1e-4)


@pytest.mark.parametrize("loss_name", ["mse", "codebook"])
def test_gradient_attacks_use_the_loss_adapter(loss_name):
    model, loss = digits_codebook_mlp()
    if loss_name == "mse":
        model, loss = digits_mlp(), OneHotMSE()
    x, y = eval_data(100)
    adv = PGD(model, eps=0.3, alpha=0.02, steps=40, loss=loss)(x, y)
    assert (loss.predict(model(adv)) == y).float().mean() <= 0.2
    deep = DeepFool(model, steps=50, loss=loss)(x, y)
    assert (loss.predict(model(deep)) == y).float().mean() <= 0.2


@lru_cache(maxsize=None)
def digits_binary():
    """Digits 0 vs 1 (labels 0/1)."""
    xtr, ytr, xte, yte = digits()
    tr, te = ytr < 2, yte < 2
    return xtr[tr], ytr[tr], xte[te], yte[te]


def test_sign_attack_flips_a_linear_svm_at_large_eps():
    from sklearn.svm import LinearSVC

    xtr, ytr, xte, yte = digits_binary()
    svm = LinearSVC(C=1.0).fit(xtr.numpy(), ytr.numpy())
    assert svm.score(xte.numpy(), yte.numpy()) > 0.95
    # at eps 0.3 the [0, 1] box leaves ~15 % (paper A, MNIST: 11.9 %); at 0.4 none
    assert svm.score(SignAttack(svm, eps=0.3)(xte, yte).numpy(), yte.numpy()) <= 0.25
    adv = SignAttack(svm, eps=0.4)(xte, yte)
    assert svm.score(adv.numpy(), yte.numpy()) <= 0.05
    assert (adv - xte).abs().max() <= 0.4 + 1e-6


def mlp01_by_hand():
    """A sign network on digits 0 vs 1: 5 hidden nodes, each a noisy copy of a
    logistic regression's hyperplane; the output is their majority."""
    from sklearn.linear_model import LogisticRegression

    xtr, ytr, _, _ = digits_binary()
    lr = LogisticRegression(C=0.1, max_iter=1000).fit(xtr.numpy(), ytr.numpy())
    w, b = torch.tensor(lr.coef_[0]), float(lr.intercept_[0])
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(64, 5, generator=gen, dtype=torch.float64) * w.abs().mean()
    W1 = w[:, None] + noise
    b1 = torch.full((5,), b, dtype=torch.float64)

    def predict(x):
        h = (x.double().flatten(1) @ W1 + b1 > 0).long()
        return (h.sum(1) >= 3).long()

    return W1, b1, predict


def test_mlp01_attack_flips_a_sign_network_at_large_eps():
    W1, b1, predict = mlp01_by_hand()
    _, _, xte, yte = digits_binary()
    assert (predict(xte) == yte).float().mean() > 0.95
    # one node's move rarely flips a majority of 5 at eps 0.3 on 8x8 digits
    # (paper A, MNIST: MLP01 keeps 69.5 % on its own adversaries); at 0.4 it does
    adv = MLP01HiddenNodeAttack(W1, b1, predict, eps=0.4, seed=0)(xte, yte)
    assert (predict(adv) == yte).float().mean() <= 0.1
    assert (adv - xte).abs().max() <= 0.4 + 1e-6
    # y=None attacks the predictions; votes (V, D, H) are flattened to V * H nodes
    atk = MLP01HiddenNodeAttack(W1, b1, predict, eps=0.4)
    assert torch.equal(atk(xte), atk(xte, predict(xte)))
    votes = MLP01HiddenNodeAttack(W1[None].repeat(2, 1, 1), b1[None].repeat(2, 1), predict, eps=0.4)
    assert votes.n_hidden == 10 and (predict(votes(xte, yte)) == yte).float().mean() <= 0.1


def test_paper_a_attacks_on_zerolib_01_loss_models():
    """SignAttack on a fitted SCD01Classifier (coef_ (1, V, D)) and the
    hidden-node attack on a fitted MLP01Classifier, through their own
    weights and vote module."""
    scd = pytest.importorskip("zerolib.models.scd")
    xtr, ytr, xte, yte = digits_binary()
    lin = scd.SCD01Classifier(n_votes=4, n_iter=50, n_candidates=16, random_state=0).fit(xtr.numpy(), ytr.numpy())
    assert lin.score(xte.numpy(), yte.numpy()) > 0.9
    adv = SignAttack(lin, eps=0.4)(xte, yte)
    assert lin.score(adv.numpy(), yte.numpy()) <= 0.1
    net = scd.MLP01Classifier(n_votes=2, hidden=5, n_iter=50, n_candidates=16, random_state=0)
    net.fit(xtr.numpy(), ytr.numpy())
    assert net.score(xte.numpy(), yte.numpy()) > 0.9
    atk = MLP01HiddenNodeAttack.from_estimator(net, eps=0.4, seed=0)
    assert atk.n_hidden == 10
    adv = atk(xte, yte)
    assert net.score(adv.numpy(), yte.numpy()) <= 0.2
    assert (adv - xte).abs().max() <= 0.4 + 1e-6
    with pytest.raises(ValueError, match="P = 1"):
        SignAttack(np.zeros((3, 2, 64)))


def test_every_attack_subclasses_the_base():
    for cls in [FGSM, BIM, MIM, PGD, CWL2, CodebookCWL2, DeepFool, LBFGS, SignAttack, MLP01HiddenNodeAttack]:
        assert issubclass(cls, Attack)
