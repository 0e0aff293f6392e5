"""The heads and losses of paper B: codebook, decoding, loss adapters."""

import pytest
import torch
import torch.nn.functional as F

from zerolib.losses import Codebook, CodewordMSE, CrossEntropy, OneHotMSE, make_loss


def test_codebook_from_seed_is_reproducible_uniform_and_seed_dependent():
    a = Codebook.from_seed(10, 128, seed=3)
    b = Codebook.from_seed(10, 128, seed=3)
    c = Codebook.from_seed(10, 128, seed=4)
    assert a.codes.shape == (10, 128) and a.n_classes == 10 and a.dim == 128
    assert torch.equal(a.codes, b.codes)
    assert not torch.equal(a.codes, c.codes)
    assert a.codes.min() >= -1 and a.codes.max() <= 1
    assert abs(float(a.codes.mean())) < 0.05  # U(-1, 1): mean 0, var 1/3
    assert abs(float(a.codes.var()) - 1 / 3) < 0.03


def test_codebook_default_length_is_128():
    assert Codebook.from_seed(10).dim == 128


def test_decode_of_a_codeword_is_its_class_and_distances_match_cdist():
    cb = Codebook.from_seed(7, 16, seed=0)
    assert torch.equal(cb.decode(cb.codes), torch.arange(7))
    z = torch.randn(5, 16)
    d = cb.distances(z)
    assert torch.allclose(d, torch.cdist(z, cb.codes), atol=1e-5)
    assert torch.allclose(cb.distances(z, squared=True), d**2, atol=1e-4)
    # near a codeword (within half the smallest inter-code distance) decodes to it
    gap = torch.cdist(cb.codes, cb.codes).masked_fill(torch.eye(7, dtype=torch.bool), 1e9).min()
    noise = torch.randn(7, 16)
    noise = noise / noise.norm(dim=1, keepdim=True) * gap * 0.45
    assert torch.equal(cb.decode(cb.codes + noise), torch.arange(7))


def test_codebook_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        Codebook(torch.zeros(5))
    with pytest.raises(ValueError, match="n_classes"):
        Codebook.from_seed(1, 8)
    with pytest.raises(ValueError, match="shape"):
        Codebook.from_seed(3, 8).distances(torch.zeros(2, 5))


def test_codeword_mse_is_zero_at_the_codeword_and_positive_elsewhere():
    cb = Codebook.from_seed(4, 32, seed=1)
    loss = CodewordMSE(cb)
    y = torch.arange(4)
    outputs = torch.atanh(cb.codes.double()).float()  # pre-tanh values hitting the codewords
    assert float(loss(outputs, y)) < 1e-10
    assert torch.equal(loss.predict(outputs), y)
    assert float(loss(outputs, y.roll(1))) > 0.1
    # already-activated outputs
    loss_act = CodewordMSE(cb, from_logits=False)
    assert float(loss_act(cb.codes, y)) == 0.0
    assert torch.equal(loss_act.predict(cb.codes), y)
    # scores: minus distances, argmax = prediction
    z = torch.randn(6, 32)
    assert torch.allclose(loss.scores(z), -cb.distances(torch.tanh(z)))
    assert torch.equal(loss.scores(z).argmax(1), loss.predict(z))
    assert loss.n_classes(z) == 4


def test_codeword_mse_value_and_gradient_is_finite_at_a_codeword():
    cb = Codebook.from_seed(3, 8, seed=2)
    z = torch.atanh(cb.codes[:1].double()).float().requires_grad_(True)
    loss = CodewordMSE(cb)
    loss.scores(z).sum().backward()  # sqrt at distance 0
    assert torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="match the codebook"):
        loss(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long))


def test_cross_entropy_matches_torch_and_predicts_argmax():
    torch.manual_seed(0)
    z, y = torch.randn(8, 5), torch.randint(0, 5, (8,))
    ce = CrossEntropy()
    assert torch.allclose(ce(z, y), F.cross_entropy(z, y))
    assert torch.allclose(ce(z, y, reduction="sum"), F.cross_entropy(z, y, reduction="sum"))
    assert ce(z, y, reduction="none").shape == (8,)
    assert torch.equal(ce.predict(z), z.argmax(1))
    assert torch.equal(ce.scores(z), z)
    probs = CrossEntropy(from_logits=False)
    assert torch.allclose(probs(z.softmax(1), y), F.cross_entropy(z, y), atol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        ce(z, y, reduction="avg")


def test_one_hot_mse_is_mean_squared_error_of_softmax_to_one_hot():
    torch.manual_seed(1)
    z, y = torch.randn(8, 5), torch.randint(0, 5, (8,))
    mse = OneHotMSE()
    expected = F.mse_loss(z.softmax(1), F.one_hot(y, 5).float(), reduction="none").mean(1)
    assert torch.allclose(mse(z, y, reduction="none"), expected)
    assert torch.equal(mse.predict(z), z.argmax(1))
    # prediction = nearest one-hot vector (Euclidean)
    nearest = torch.cdist(z.softmax(1), torch.eye(5)).argmin(1)
    assert torch.equal(mse.predict(z), nearest)
    # zero at the one-hot target
    assert float(OneHotMSE(from_logits=False)(torch.eye(5), torch.arange(5))) == 0.0


def test_make_loss_maps_paper_b_variants():
    assert isinstance(make_loss("O:SOFTMAX:CE", 10), CrossEntropy)
    assert isinstance(make_loss("O:SOFTMAX:MSE", 10), OneHotMSE)
    cw = make_loss("R:TANH:MSE", 10, code_dim=64, seed=5)
    assert isinstance(cw, CodewordMSE) and cw.codebook.codes.shape == (10, 64)
    assert torch.equal(cw.codebook.codes, Codebook.from_seed(10, 64, 5).codes)
    with pytest.raises(ValueError, match="unknown variant"):
        make_loss("X", 10)
