"""Lipschitz bounds: exact circular-convolution spectra against an explicit matrix's SVD,
and every bound against the operator it bounds (power iteration, observed ratios)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zerolib.experiments.lipschitz import conv2d_bound, conv2d_singular_values, layer_bounds, operator_norm_estimate
from zerolib.models import make_model

pytestmark = pytest.mark.usefixtures("one_thread")


def circular_matrix(weight: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """The (c_out n m) x (c_in n m) matrix of PyTorch's stride-1 convolution with
    wrap-around on an n x m grid, column by column from basis images."""
    c_out, c_in, kh, kw = weight.shape
    basis = torch.eye(c_in * n * m, dtype=torch.float64).reshape(-1, c_in, n, m)
    out = F.conv2d(F.pad(basis, (0, kw - 1, 0, kh - 1), mode="circular"), weight.double())
    return out.reshape(c_in * n * m, -1).T


@pytest.mark.parametrize("c_out,c_in,kh,kw,n,m", [
    (1, 1, 1, 3, 1, 7),    # 1-D: a row of pixels
    (1, 1, 3, 3, 5, 5),    # 2-D, one channel
    (3, 3, 3, 3, 4, 6),    # several channels, a rectangular grid
    (4, 2, 2, 3, 5, 4),    # rectangular kernel, c_out > c_in
    (2, 5, 3, 1, 4, 4),    # c_out < c_in
])
def test_fft_singular_values_equal_the_svd_of_the_wraparound_matrix(c_out, c_in, kh, kw, n, m):
    w = torch.randn(c_out, c_in, kh, kw, generator=torch.Generator().manual_seed(c_out * 10 + kh))
    ours = conv2d_singular_values(w, (n, m))
    exact = torch.linalg.svdvals(circular_matrix(w, n, m))[: len(ours)]
    assert len(ours) == n * m * min(c_out, c_in)
    torch.testing.assert_close(ours, exact, rtol=1e-9, atol=1e-9)


def test_a_kernel_larger_than_the_grid_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        conv2d_singular_values(torch.ones(1, 1, 5, 5), (3, 3))


@pytest.mark.parametrize("kw", [
    dict(padding=1), dict(padding=1, stride=2), dict(padding=0), dict(padding=2, dilation=2),
    dict(padding=1, groups=2),
])
def test_zero_padded_and_strided_convolutions_stay_below_the_bound(kw):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, **kw)
    bound = conv2d_bound(conv, (9, 9))
    est = operator_norm_estimate(lambda x: F.conv2d(x, conv.weight.double(), None, conv.stride, conv.padding,
                                                    conv.dilation, conv.groups), (1, 4, 9, 9), n_iter=200)
    assert est <= bound * (1 + 1e-9)
    # and the bound is not vacuous: zero padding loses little against the circular operator
    assert est >= 0.5 * bound


def test_linear_layers_against_matrix_norm_and_power_iteration():
    torch.manual_seed(1)
    lin = nn.Linear(30, 12)
    rows = layer_bounds(nn.Sequential(lin), (30,), n_iter=300)
    exact = float(torch.linalg.matrix_norm(lin.weight.detach().double(), ord=2))
    assert rows.bound[0] == pytest.approx(exact, rel=1e-12)
    assert rows.estimate[0] == pytest.approx(exact, rel=1e-6)


def test_pooling_and_batchnorm_constants_are_exact_where_they_claim_to_be():
    bn = nn.BatchNorm2d(3).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.5, -2.0, 1.0]))
        bn.running_var.copy_(torch.tensor([1.0, 3.0, 0.25]))
    net = nn.Sequential(bn, nn.AvgPool2d(2), nn.MaxPool2d(3, stride=1), nn.AdaptiveAvgPool2d(1))
    rows = layer_bounds(net, (3, 8, 8)).set_index("kind")
    assert rows.loc["batchnorm", "bound"] == pytest.approx(max(0.5, 2 / math.sqrt(3 + 1e-5), 1 / math.sqrt(0.25 + 1e-5)))
    avg = rows.loc["avgpool"]
    assert avg.bound.iloc[0] == pytest.approx(0.5) and avg.estimate.iloc[0] == pytest.approx(0.5, rel=1e-6)
    # global average of a 2 x 2 map (after 8 -> 4 -> 2): 1 / sqrt(4)
    assert avg.bound.iloc[1] == pytest.approx(0.5) and avg.estimate.iloc[1] == pytest.approx(0.5, rel=1e-6)
    assert rows.loc["maxpool", "bound"] == pytest.approx(3.0)  # 3x3 windows at stride 1: each pixel in 9
    # a global max pool: each pixel in one window, and max is 1-Lipschitz: exactly 1 (a map
    # with one large entry moves the output by as much as that entry moves)
    def pool_bound(pool, shape):
        rows = layer_bounds(nn.Sequential(nn.BatchNorm2d(shape[0]).eval(), pool), shape)
        return rows.set_index("kind").loc["maxpool", "bound"]

    assert pool_bound(nn.AdaptiveMaxPool2d(1), (2, 5, 5)) == pytest.approx(1.0)
    # adaptive windows of 5 -> 2 overlap in the middle pixel: sqrt(2 * 2)
    assert pool_bound(nn.AdaptiveMaxPool2d(2), (1, 5, 5)) == pytest.approx(2.0)


def random_pair_ratio(model, shape, n=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((n, *shape), generator=gen)
    d = torch.randn((n, *shape), generator=gen) * 1e-2
    with torch.no_grad():
        num = (model(x + d) - model(x)).flatten(1).norm(dim=1)
    return float((num / d.flatten(1).norm(dim=1)).max())


@pytest.mark.parametrize("name,shape", [("lenet", (1, 12, 12)), ("substitute_cnn", (3, 8, 8)),
                                        ("densenet_small", (3, 8, 8)), ("substitute_mlp", (1, 8, 8)),
                                        ("convnet", (3, 16, 16))])
def test_the_whole_network_bound_is_above_every_observed_ratio(name, shape):
    net = make_model(name, shape, 3, seed=0).eval()
    rows = layer_bounds(net, shape)
    total = rows.cumulative.dropna().iloc[-1]
    assert random_pair_ratio(net, shape) <= total
    assert (rows.estimate.dropna() <= rows.bound[rows.estimate.notna()] * (1 + 1e-6)).all()
    if name == "densenet_small":
        concat = rows[rows.kind == "dense concat"]
        # depth 10, 3 blocks: (10 - 4) / 3 = 2 dense layers per block
        assert len(concat) == 6 and not rows[rows.layer.str.contains(r"\.body\.")].in_chain.any()
        body = rows[rows.layer.str.startswith(concat.layer.iloc[0] + ".")].bound.prod()
        assert concat.bound.iloc[0] == pytest.approx(math.sqrt(1 + body ** 2))


def test_a_layer_without_a_rule_is_named():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) * self.b(x)

    with pytest.raises(ValueError, match="its forward is not a composition"):
        layer_bounds(nn.Sequential(nn.Linear(4, 4), Odd()), (4,))
    with pytest.raises(ValueError, match=r"layer 1 \(GELU\)"):
        layer_bounds(nn.Sequential(nn.Linear(4, 4), nn.GELU()), (4,))
    with pytest.raises(ValueError, match="training mode"):
        bn = nn.Sequential(nn.BatchNorm1d(4))
        from zerolib.experiments.lipschitz import _leaf_bound

        _leaf_bound(bn[0].train(), "0", (1, 4))


def test_first_layers_of_paper_a_models_against_numpy():
    import numpy as np

    from zerolib import LinearSVMClassifier, MLP01Classifier, MLPClassifier, SCD01Classifier, load_dataset
    from zerolib.experiments.lipschitz import first_layer_bounds

    d = load_dataset("digits", classes=[0, 1, 2])
    fits = {"SCD01": SCD01Classifier(n_votes=2, n_iter=10, random_state=0, device="cpu"),
            "MLP01": MLP01Classifier(n_votes=2, n_iter=10, random_state=0, device="cpu"),
            "MLP": MLPClassifier(n_votes=2, epochs=2, random_state=0, device="cpu"),
            "SVM": LinearSVMClassifier(n_votes=2, C=1.0, random_state=0, device="cpu")}
    for name, est in fits.items():
        est.fit(d.x_train, d.y_train)
        rows = first_layer_bounds(est)
        assert len(rows) == 3 * 2
        w = {"SCD01": lambda: est.coef_[..., None], "SVM": lambda: est.coef_[..., None],
             "MLP01": lambda: est.hidden_coef_, "MLP": lambda: est.coefs_[0]}[name]()
        for r in rows.itertuples():
            assert r.bound == pytest.approx(np.linalg.norm(np.asarray(w[r.problem, r.vote], dtype=float), 2))
    with pytest.raises(ValueError, match="no fitted weights"):
        first_layer_bounds(SCD01Classifier())


# ---------------------------------------------------------------- the experiment's reading and section
def _bounds(scale: dict, estimate_ratio: float = 0.9, seeds=(0, 1), layers=("features.0", "features.2", "features.4"),
            jitter: float = 0.01):
    """Made-up layer_bounds rows: O:SOFTMAX:CE's conv bounds 2, 3, 4, ..., each other head's
    ``scale[head]`` times CE's (± ``jitter`` between seeds); a ReLU in the chain between convs."""
    import pandas as pd

    rows = []
    for s in seeds:
        for h in ("O:SOFTMAX:CE", "O:SOFTMAX:MSE", "R:TANH:MSE"):
            for i, layer in enumerate(layers):
                b = (2.0 + i) * scale.get(h, 1.0) * (1 + jitter * (1 if s % 2 else -1))
                rows += [dict(layer=layer, kind="conv2d", bound=b, estimate=estimate_ratio * b, in_chain=True,
                              model=h, seed=s),
                         dict(layer=f"{layer}.relu", kind="relu", bound=1.0, estimate=float("nan"), in_chain=True,
                              model=h, seed=s)]
    df = pd.DataFrame(rows)
    df["cumulative"] = df.groupby(["model", "seed"]).bound.cumprod()
    return df


def test_conv_comparison_says_which_head_has_the_larger_bounds():
    from zerolib.experiments.lipschitz import conv_bounds_table, conv_comparison_lines

    mse, cb = conv_comparison_lines(_bounds({"O:SOFTMAX:MSE": 0.5, "R:TANH:MSE": 2.0}))
    assert "O:SOFTMAX:MSE's convolution bound is below O:SOFTMAX:CE's at 3, above it at 0 and within one sd at 0 of 3" \
        in mse and "from 2.00 to 2.00" in mse and "mostly smaller than O:SOFTMAX:CE's" in mse
    assert "below O:SOFTMAX:CE's at 0, above it at 3" in cb and "mostly larger than" in cb
    (even, _) = conv_comparison_lines(_bounds({"O:SOFTMAX:MSE": 1.0}, jitter=0.05))
    assert "within one sd at 3 of 3" in even and "neither mostly smaller nor mostly larger" in even
    table = conv_bounds_table(_bounds({"O:SOFTMAX:MSE": 0.5}))
    assert list(table["CE / MSE"]) == ["2.00", "2.00", "2.00"] and list(table.layer) == ["features.0", "features.2",
                                                                                           "features.4"]


def test_network_comparison_and_tightness_are_computed_from_the_bounds():
    from zerolib.experiments.lipschitz import network_bounds, network_comparison_lines, tightness_lines

    bounds = _bounds({"O:SOFTMAX:MSE": 0.5, "R:TANH:MSE": 1.0}, estimate_ratio=0.5)
    mse, cb = network_comparison_lines(bounds)
    assert f"is {3 * math.log10(2):+.2f} ± 0.00 over 2 seeds" in mse and "MSE's bound is smaller than" in mse
    assert "+0.00 ± 0.00" in cb and "not clearly smaller or larger than" in cb
    whole = network_bounds(bounds).set_index("model")
    assert whole.loc["O:SOFTMAX:CE", "mean"] == pytest.approx(24.0, rel=1e-3)  # 2 * 3 * 4, the ReLUs 1
    conv, chain = tightness_lines(bounds)
    assert "0.50 to 0.50 times their upper bounds" in conv and "within a factor 2.00" in conv
    assert "multiplies 6 factors" in chain


def test_lipschitz_section_reads_the_bounds_and_is_none_without_them(tmp_path):
    from zerolib.experiments import lipschitz as experiment

    assert experiment.section(tmp_path, "mnist", {}) is None
    _bounds({"O:SOFTMAX:MSE": 0.4, "R:TANH:MSE": 2.0}).to_csv(tmp_path / f"{experiment.LAYER_BOUNDS_PER_SEED}.csv",
                                                               index=False)
    sec = experiment.section(tmp_path, "mnist", {})
    text = "\n".join(sec.lines)
    assert "| features.0 | 2.00 ± 0.03 | 0.80 ± 0.01 | 4.00 ± 0.06 | 2.50 |" in text
    assert "mostly smaller than O:SOFTMAX:CE's" in text and "Paper A's models" not in text
    (verdicts,) = sec.verdicts
    assert list(verdicts.verdict) == ["holds", "holds", "holds"]  # below everywhere, by a factor 2.5
    assert sec.model == ""  # no clean accuracies saved: nothing to show beside the verdicts
    import pandas as pd

    pd.DataFrame({"model": ["O:SOFTMAX:CE", "O:SOFTMAX:MSE", "R:TANH:MSE"] * 2, "accuracy": [99.0, 98.0, 97.0,
                  99.2, 98.2, 97.2], "seed": [0, 0, 0, 1, 1, 1]}).to_csv(tmp_path / f"{experiment.CLEAN_PER_SEED}.csv",
                                                                         index=False)
    params = {"net": "convnet", "arch": {"width": 16}, "train": {"epochs": 4, "optimizer": "adam",
                                                                 "schedule": "onecycle", "augment": ["crop"]}}
    sec = experiment.section(tmp_path, "mnist", params)
    assert sec.model.startswith("network `convnet` (width 16), 4 epochs of adam (onecycle) with crop on all "
                                "training rows; clean accuracy O:SOFTMAX:CE 99.1")
    assert sec.lines[0].startswith("The bounds are of these models: network `convnet`")
    from zerolib.experiments.common.head_models import network_text

    assert "with flip on" in network_text({"net": "convnet", "train": {"epochs": 1, "augment": "flip"}})
    assert "with flip, bf16 forward pass on" in network_text(
        {"net": "convnet", "train": {"epochs": 1, "augment": "flip", "precision": "bf16"}})
    assert "fp32" not in network_text({"net": "convnet", "train": {"epochs": 1, "precision": "fp32"}})
    # a dry run's capped epoch says so: a reader never takes its one step for an epoch
    assert ", 1 epochs of 1 steps of adam" in network_text(
        {"net": "convnet", "train": {"epochs": 1, "steps_per_epoch": 1, "optimizer": "adam"}})
    assert "steps" not in network_text({"net": "convnet", "train": {"epochs": 3}})
