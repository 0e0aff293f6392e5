"""DeepFool in the [0, 1] box, against a known answer and ART; L-BFGS on the codebook head.

Paper B's mnist-cpu cells (issue): DeepFool left 63 % accuracy on O:SOFTMAX:CE after 10
steps (paper: 0.9 %), and targeted L-BFGS reached 99-100 % on R:TANH:MSE (paper: 4.5-77.6 %).

- DeepFool: with the box, a step loses the part of it pointing out of [0, 1], so the
  iterate nears the boundary geometrically. Our steps used to be linearised at the
  overshot point x + 1.02 r, which then converged onto the boundary from inside and never
  crossed; they are now linearised at x + r (cleverhans, ART), and the overshot point,
  the one returned, crosses. The known answer below fails for the old code (it needs
  about 16 steps, not 6), and so does the agreement with ART's DeepFool.
- L-BFGS: ours minimises the model's own loss (MSE to the target's codeword) and counts
  a success by the model's decision (nearest codeword). That is the correct white-box
  attack; cleverhans' bookkeeping (argmax of the outputs against argmax of the target
  vector) is not the codebook model's decision and counts far fewer successes.
"""

from functools import lru_cache

import pytest
import torch
from torch import nn

from zerolib.attacks import LBFGS, CodebookCWL2, DeepFool
from zerolib.experiments.common.attack_grid import TARGETED, UNTARGETED
from zerolib.losses import Codebook, CodewordMSE

from conftest import digits_cnn

pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------ known answer
def test_deepfool_in_the_box_crosses_a_linear_boundary_at_the_known_step():
    """f(x) = w.x + b with 10 free coordinates (at 0.5) and 10 blocked ones (at 0, where
    the step wants to go below 0), all weights 1: each step keeps kappa = |w_F|^2 / |w|^2
    = 1/2 of its linear gain, so f(x + r_t) shrinks by half (plus the 1e-5 of each step),
    r_t moves along -w_F only, and the returned x + 1.02 r_t first crosses at the
    smallest t with f(x) - 1.02 a_t |w_F|^2 < 0: t = 6. Linearised at the overshot
    point instead, f(x + 1.02 r_t) shrinks by 0.49 a step and is still > 0 after 10."""
    d_free, d_blocked, overshoot, eps = 10, 10, 0.02, DeepFool.PERT_EPS
    D = d_free + d_blocked
    w = torch.ones(D, dtype=torch.float64)
    model = nn.Linear(D, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.stack([torch.zeros(D, dtype=torch.float64), w]))
        model.bias.copy_(torch.tensor([0.0, -4.0], dtype=torch.float64))
    u = torch.linspace(0.45, 0.6, 8, dtype=torch.float64)  # f(x) = 10 u - 4 in [0.5, 2]
    x = torch.cat([u[:, None].expand(-1, d_free), torch.zeros(len(u), d_blocked, dtype=torch.float64)], 1)
    y = torch.ones(len(u), dtype=torch.long)
    f0 = x @ w - 4.0
    wf2, w2 = float(d_free), float(D)  # |w_F|^2, |w|^2

    # the recursion, row by row: g = f(x + r_t), r_t = -a_t w_F
    expected, steps_needed = [], []
    for g in f0.tolist():
        a, t, f_start = 0.0, 0, g
        while f_start - (1 + overshoot) * a * wf2 >= 0:
            a += (abs(g) + eps) / w2
            g -= (abs(g) + eps) * wf2 / w2
            t += 1
        steps_needed.append(t)
        expected.append(a)
    assert steps_needed == [6] * len(u)
    a = torch.tensor(expected, dtype=torch.float64)
    free = torch.cat([torch.ones(d_free), torch.zeros(d_blocked)]).double()
    want = x - (1 + overshoot) * a[:, None] * free

    atk = DeepFool(model, steps=10, overshoot=overshoot, candidates=2, record_at=(5, 6))
    got = atk(x, y)
    assert torch.allclose(got, want, atol=1e-10, rtol=0)
    assert torch.all(model(got).argmax(1) != y)
    assert torch.all(model(atk.recorded[5]).argmax(1) == y)  # one step short: not yet across
    assert torch.equal(atk.recorded[6], got)
    # the exact smallest perturbation in the box moves the free coordinates only, by
    # f(x) / |w_F|: ours is within the overshoot of it
    exact = f0 / wf2 ** 0.5
    ratio = (got - x).norm(dim=1) / exact
    assert torch.all(ratio >= 1.0) and torch.all(ratio <= 1 + overshoot)


# ------------------------------------------------------------ against ART
# the model: conftest.digits_cnn, a small CNN on the 8x8 digits


@pytest.mark.parametrize("max_iter", [3, 5, 10])
def test_deepfool_fools_as_often_as_arts_with_no_larger_norm(max_iter):
    """Paper B's settings (10 candidates = all classes, overshoot 0.02, clip to [0, 1]) at
    a few step limits. On this model the two follow the same path (ART adds no 1e-5 to
    |f| and applies the overshoot after its last step; ours stops as soon as the overshot
    point crosses), so they fool the same images: measured (1 thread) 74.5, 98.9 and
    100 % of the correctly classified ones for both, where the pre-fix code fooled 0,
    3.2 and 81 %. Allowance: 2 images for rounding differences. The norms: ours at
    most ART's (ours stops no later), and no less than ART's / (1 + overshoot)^2."""
    pytest.importorskip("art")
    from art.attacks.evasion import DeepFool as ArtDeepFool
    from art.estimators.classification import PyTorchClassifier

    model, x, y = digits_cnn()
    clf = PyTorchClassifier(model, loss=nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10,
                            clip_values=(0.0, 1.0), device_type="cpu")
    theirs = torch.from_numpy(
        ArtDeepFool(clf, max_iter=max_iter, epsilon=0.02, nb_grads=10, batch_size=len(x), verbose=False)
        .generate(x.numpy()))
    ours = DeepFool(model, steps=max_iter, overshoot=0.02, candidates=10)(x, y)
    assert ours.min() >= 0 and ours.max() <= 1
    clean_ok = model(x).argmax(1) == y
    fooled_ours = (model(ours).argmax(1) != y) & clean_ok
    fooled_theirs = (model(theirs).argmax(1) != y) & clean_ok
    assert int(fooled_ours.sum()) >= int(fooled_theirs.sum()) - 2
    assert int(fooled_ours.sum()) > 0.5 * int(clean_ok.sum())  # the step limits bite: not a vacuous pass
    both = fooled_ours & fooled_theirs
    l2_ours = (ours - x).flatten(1).norm(dim=1)[both].mean()
    l2_theirs = (theirs - x).flatten(1).norm(dim=1)[both].mean()
    assert l2_ours <= l2_theirs * (1 + 1e-3)
    assert l2_ours >= l2_theirs / 1.02 ** 2


def test_the_grid_runs_deepfool_with_cleverhans_settings():
    g = {a.name: a for a in UNTARGETED}["DeepFool"]
    atk = g.build(nn.Linear(4, 3), 10, loss=None, targeted=False)
    assert (atk.steps, atk.candidates, atk.overshoot) == (10, 10, 0.02)


# ------------------------------------------------------------ L-BFGS, codebook head
@lru_cache(maxsize=None)
def digits_codebook_mlp():
    """64-32-16 MLP, tanh head trained on MSE to random codewords (d = 16), and 60
    held-out rows with seeded random targets."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1400], perm[1400:1460]
    loss = CodewordMSE(Codebook.from_seed(10, 16, seed=0))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(400):
        opt.zero_grad()
        loss(model(x[tr]), y[tr]).backward()
        opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    t = (y[te] + torch.randint(1, 10, (len(te),), generator=torch.Generator().manual_seed(0))) % 10
    return model, loss, x[te], y[te], t


def test_the_grid_gives_lbfgs_the_models_own_loss():
    model, loss, *_ = digits_codebook_mlp()
    g = {a.name: a for a in TARGETED}["L-BFGS"]
    atk = g.build(model, 0.01, loss=loss, targeted=True)
    assert atk.loss is loss and atk.initial_const == 0.01 and atk.binary_search_steps == 5


def test_lbfgs_reaches_the_codebook_models_decision_with_smaller_norms_than_codebook_cw():
    """At paper B's smallest c (0.01; its MNIST cell: 4.5 %) with the mnist-cpu budget
    (5 search steps x 40 iterations), our L-BFGS on the codebook head reaches the target,
    as the model decodes it (nearest codeword), on most rows (measured 88 %), with a
    smaller mean L2 than the codebook-aware CW-L2 at the same budget on the rows both
    reach: a correct, strong attack, not a scoring artefact. The criterion cleverhans'
    L-BFGS checks in its search (argmax of the outputs == argmax of the target vector,
    here the codeword) holds on far fewer of the same adversaries (measured 48 %): it is
    not the model's decision."""
    model, loss, x, _, t = digits_codebook_mlp()
    adv = LBFGS(model, initial_const=0.01, binary_search_steps=5, steps=40, loss=loss, targeted=True)(x, t)
    assert adv.min() >= 0 and adv.max() <= 1
    out = model(adv)
    hit = loss.predict(out) == t
    assert hit.float().mean() >= 0.8
    argmax_rule = out.argmax(1) == loss.codebook.codes[t].argmax(1)
    assert argmax_rule.float().mean() <= hit.float().mean() - 0.2
    cw = CodebookCWL2(model, loss.codebook, initial_const=0.01, binary_search_steps=5, steps=40, lr=5e-3 * 1000 / 40,
                      targeted=True)(x, t)
    both = hit & (loss.predict(model(cw)) == t)
    assert both.sum() >= 10
    assert (adv - x)[both].norm(dim=1).mean() < (cw - x)[both].norm(dim=1).mean()
