"""The torch networks and paper B's heads: output shapes for every input shape and
head, architectures by parameter count (DenseNet-40 from its formula), the
codebook head, seeding, the prediction interface, bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

from zerolib.losses import Codebook, CodewordMSE, CrossEntropy, OneHotMSE
from zerolib.models import MODELS, DenseNet, HeadNet, make_model, predict

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
HEADS = ["ce", "mse", "codebook"]


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("head", HEADS)
def test_output_shape(name, shape, head):
    model = make_model(name, shape, 10, head=head, code_length=16, seed=0).eval()
    out = model(torch.rand(3, *shape))
    assert out.shape == (3, 16 if head == "codebook" else 10)
    assert isinstance(model, HeadNet) and model.predict(torch.rand(3, *shape)).shape == (3,)


def test_heads_adapters_and_paper_names():
    assert isinstance(make_model("lenet", (1, 28, 28), 10, head="ce").loss, CrossEntropy)
    assert isinstance(make_model("lenet", (1, 28, 28), 10, head="O:SOFTMAX:MSE").loss, OneHotMSE)
    assert isinstance(make_model("lenet", (1, 28, 28), 10, head="r:tanh:mse").loss, CodewordMSE)


def test_codebook_head():
    model = make_model("substitute_mlp", (1, 8, 8), 10, head="codebook", code_seed=7, seed=0).eval()
    assert torch.equal(model.codebook, Codebook.from_seed(10, 128, 7).codes)
    assert "codebook" in model.state_dict()
    x = torch.rand(64, 1, 8, 8)
    with torch.no_grad():
        z = model.loss.activate(model(x))
    assert z.shape == (64, 128) and bool((z > -1).all() and (z < 1).all())
    with torch.no_grad():
        z = torch.tanh(model(x))
    nearest = torch.cdist(z, model.codebook).argmin(1)
    assert torch.equal(model.predict(x), nearest)
    own = Codebook(torch.rand(10, 5) * 2 - 1)
    m2 = make_model("lenet", (1, 8, 8), 10, head="codebook", codebook=own)
    assert m2(x).shape == (64, 5) and torch.equal(m2.codebook, own.codes)


def test_densenet40_parameter_count():
    """Count DenseNet-40 (k = 12, no bottleneck or compression) from its definition:
    conv3x3(3 -> 16); per dense layer with c inputs: BN (2c) + conv3x3 (c -> 12);
    per transition with c maps: BN (2c) + conv1x1 (c -> c); final BN + linear."""
    k, layers, c, expected = 12, (40 - 4) // 3, 16, 3 * 16 * 9
    for block in range(3):
        for _ in range(layers):
            expected += 2 * c + c * k * 9
            c += k
        if block < 2:
            expected += 2 * c + c * c
    expected += 2 * c + c * 10 + 10
    model = make_model("densenet", (3, 32, 32), 10)
    assert n_params(model) == expected
    assert 0.95e6 < expected < 1.1e6  # "1.0M" in Huang et al.'s table
    small = make_model("densenet_small", (3, 32, 32), 10)
    assert (small.depth, small.growth_rate) == (10, 6) and n_params(small) < 20_000


def test_small_architectures_parameter_counts():
    mlp = make_model("substitute_mlp", (1, 28, 28), 10)
    assert n_params(mlp) == 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10
    convs = (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16)
    assert n_params(make_model("lenet", (1, 28, 28), 10)) == convs + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    assert n_params(make_model("simplenet80", (1, 28, 28), 10)) == convs + 400 * 80 + 80 + 80 * 10 + 10
    cnn = make_model("substitute_cnn", (3, 32, 32), 10)
    blocks = sum(ci * co * 9 + co + 2 * co for ci, co in [(3, 32), (32, 64), (64, 128), (128, 256)])
    assert n_params(cnn) == blocks + 256 * 2 * 2 * 10 + 10  # 32 -> 16 -> 8 -> 4 -> 2


def test_seed_gives_same_weights_and_keeps_global_rng():
    state = torch.get_rng_state()
    a = make_model("lenet", (1, 28, 28), 10, seed=1)
    b = make_model("lenet", (1, 28, 28), 10, seed=1)
    c = make_model("lenet", (1, 28, 28), 10, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.classifier[0].weight, c.classifier[0].weight)


def test_predict_interface_batched_and_restores_mode():
    model = make_model("substitute_cnn", (1, 8, 8), 10, seed=0)
    model.train()
    x = torch.rand(50, 1, 8, 8)
    model.eval()
    with torch.no_grad():
        expected = model(x).argmax(1)
    model.train()
    assert torch.equal(predict(model, x, batch_size=7), expected)
    assert model.training and all(m.training for m in model.modules())
    assert predict(model, x[:0]).shape == (0,)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predict(model, x * 2)
    with pytest.raises(ValueError, match="predict"):
        predict(object(), x)


@pytest.mark.parametrize("call, match", [
    (lambda: make_model("resnet", (1, 28, 28), 10), "unknown model"),
    (lambda: make_model("lenet", (1, 28, 28), 10, head="hinge"), "head"),
    (lambda: make_model("lenet", (28, 28), 10), "in_shape"),
    (lambda: make_model("lenet", (1, 2, 2), 10), "too small"),
    (lambda: make_model("lenet", (1, 28, 28), 1), "n_classes"),
    (lambda: make_model("densenet", (3, 32, 32), 10, depth=41), "depth"),
    (lambda: make_model("lenet", (1, 28, 28), 10, head="codebook", codebook=Codebook(torch.rand(3, 4))), "codewords"),
    (lambda: make_model("lenet", (1, 28, 28), 10, head="ce", codebook=Codebook(torch.rand(10, 4))), "codebook"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_densenet_depth_formula():
    for depth in (10, 22, 40):
        m = DenseNet((3, 32, 32), 10, depth=depth, growth_rate=4)
        assert sum(isinstance(x, torch.nn.Conv2d) for x in m.modules()) + 1 == depth
    assert math.isclose(n_params(make_model("densenet", (1, 28, 28), 10)) + 2 * 16 * 9,
                        n_params(make_model("densenet", (3, 32, 32), 10)))
