"""The training loop: seeding, exact resume from checkpoints (also after a crash
mid-epoch), safe and atomic checkpoint files, learning, bad inputs."""

from __future__ import annotations

import pytest
import torch

from zerolib.data import load_dataset
from zerolib.losses import CrossEntropy
from zerolib.models import accuracy, load_checkpoint, make_model, train


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    d = load_dataset("digits")
    return d.x_train[:300], d.y_train[:300], d


def fresh(head="ce"):
    # batch norm (running statistics) and dropout (RNG) both have to survive a resume
    return make_model("densenet_small", (1, 8, 8), 10, head=head, seed=0, drop_rate=0.2)


SETTINGS = dict(lr=0.05, batch_size=64, seed=5, device="cpu", progress=False, lr_milestones=(2,))


def crashing_loss(at_step: int):
    """The model's own loss (cross-entropy), interrupted at call ``at_step``: a crash mid-run."""
    calls = {"n": 0}

    def loss(out, target):
        calls["n"] += 1
        if calls["n"] == at_step:
            raise KeyboardInterrupt
        return CrossEntropy()(out, target)

    return loss


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_same_weights(data):
    x, y, _ = data
    a, b, c = fresh(), fresh(), fresh()
    ha = train(a, (x, y), epochs=2, **SETTINGS)
    hb = train(b, (x, y), epochs=2, **SETTINGS)
    train(c, (x, y), epochs=2, **{**SETTINGS, "seed": 6})
    assert ha == hb and same_weights(a, b)
    assert not same_weights(a, c)


def test_resume_equals_uninterrupted(tmp_path, data):
    x, y, _ = data
    full = fresh()
    h_full = train(full, (x, y), epochs=4, **SETTINGS)

    # stop after 2 epochs, then continue to 4 from the checkpoint
    ckpt = tmp_path / "run.pt"
    part = fresh()
    train(part, (x, y), epochs=2, checkpoint_path=ckpt, **SETTINGS)
    assert load_checkpoint(ckpt)["epoch"] == 2
    resumed = fresh()
    h_resumed = train(resumed, (x, y), epochs=4, checkpoint_path=ckpt, **SETTINGS)
    assert h_resumed == h_full and same_weights(resumed, full)

    # a crash in the middle of epoch 3 leaves the epoch-2 checkpoint; resuming ends the same
    ckpt2 = tmp_path / "crash.pt"
    with pytest.raises(KeyboardInterrupt):  # 5 steps per epoch; crash at epoch 3, step 2
        train(fresh(), (x, y), crashing_loss(at_step=2 * 5 + 2), epochs=4, checkpoint_path=ckpt2, **SETTINGS)
    assert load_checkpoint(ckpt2)["epoch"] == 2
    again = fresh()
    assert train(again, (x, y), epochs=4, checkpoint_path=ckpt2, **SETTINGS) == h_full
    assert same_weights(again, full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crash.pt", "run.pt"]  # no temporary files left


def test_checkpoint_is_plain_tensors_and_checked(tmp_path, data):
    x, y, _ = data
    ckpt = tmp_path / "c.pt"
    model = fresh("codebook")
    train(model, (x, y), epochs=1, checkpoint_path=ckpt, **SETTINGS)
    state = torch.load(ckpt, weights_only=True)  # loads without unpickling code
    assert state["epoch"] == 1 and "codebook" in state["model"]
    with pytest.raises(ValueError, match="seed"):
        train(fresh("codebook"), (x, y), epochs=2, checkpoint_path=ckpt, **{**SETTINGS, "seed": 9})
    train(fresh("codebook"), (x, y), epochs=2, checkpoint_path=tmp_path / "d.pt", **SETTINGS)
    with pytest.raises(ValueError, match="more than epochs"):
        train(fresh("codebook"), (x, y), epochs=1, checkpoint_path=tmp_path / "d.pt", **SETTINGS)
    # resume=False starts afresh and overwrites
    train(fresh("codebook"), (x, y), epochs=1, checkpoint_path=ckpt, resume=False, **{**SETTINGS, "seed": 9})
    assert int(load_checkpoint(ckpt)["seed"]) == 9


@pytest.mark.parametrize("head", ["ce", "mse", "codebook"])
def test_loss_decreases(head, data):
    x, y, d = data
    model = make_model("substitute_mlp", (1, 8, 8), 10, head=head, code_length=32, seed=0)
    history = train(model, (x, y), epochs=15, optimizer="adam", lr=0.003, batch_size=32, seed=0,
                    device="cpu", progress=False)
    assert history[-1] < 0.5 * history[0]
    assert accuracy(model, d.x_test, d.y_test) > 0.7
    assert not model.training


def test_dataset_and_dataloader_inputs(tmp_path, data):
    x, y, _ = data
    ds = torch.utils.data.TensorDataset(x, y)
    a, b = fresh(), fresh()
    train(a, ds, epochs=2, **SETTINGS)
    train(b, ds, epochs=2, **SETTINGS)
    assert same_weights(a, b)
    loader = lambda: torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True,  # noqa: E731
                                                  generator=torch.Generator().manual_seed(1))
    full = fresh()
    train(full, loader(), epochs=3, **SETTINGS)
    ckpt = tmp_path / "l.pt"
    train(fresh(), loader(), epochs=1, checkpoint_path=ckpt, **SETTINGS)
    resumed = fresh()
    train(resumed, loader(), epochs=3, checkpoint_path=ckpt, **SETTINGS)
    assert same_weights(resumed, full)


FAST = dict(SETTINGS, lr_milestones=(), schedule="onecycle", augment=("flip", "crop"))


def test_resume_equals_uninterrupted_with_onecycle_and_augmentation(tmp_path, data):
    # the augmentations draw from the run's generator and the one-cycle rate is a function
    # of the step, so a resumed run replays the same crops, flips and rates
    x, y, _ = data
    full = fresh()
    h_full = train(full, (x, y), epochs=3, **FAST)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):  # 5 steps per epoch; crash at epoch 2, step 3
        train(fresh(), (x, y), crashing_loss(at_step=5 + 3), epochs=3, checkpoint_path=ckpt, **FAST)
    assert load_checkpoint(ckpt)["epoch"] == 1
    resumed = fresh()
    assert train(resumed, (x, y), epochs=3, checkpoint_path=ckpt, **FAST) == h_full
    assert same_weights(resumed, full)
    # the one-cycle rate depends on the total: a checkpoint of a 3-epoch run does not go on as a 4-epoch one
    with pytest.raises(ValueError, match="epochs"):
        train(fresh(), (x, y), epochs=4, checkpoint_path=ckpt, **FAST)
    # nor does a float32 run go on in bfloat16: the checkpoint names its precision
    assert load_checkpoint(ckpt)["precision"] == "fp32"
    with pytest.raises(ValueError, match="precision 'fp32', not 'bf16'"):
        train(fresh(), (x, y), epochs=3, checkpoint_path=ckpt, **dict(FAST, precision="bf16"))
    old = {k: v for k, v in load_checkpoint(ckpt).items() if k != "precision"}   # one written before the field
    torch.save(old, ckpt)
    with pytest.raises(ValueError, match="does not record its precision"):
        train(fresh(), (x, y), epochs=3, checkpoint_path=ckpt, **FAST)
    plain = fresh()
    assert train(plain, (x, y), epochs=3, **SETTINGS) != h_full  # the settings are not ignored


def test_onecycle_rate_known_points():
    from zerolib.models.train import _rate

    lr, steps, epochs = 0.2, 10, 4      # 40 steps, warm-up over the first 10
    rates = [_rate("onecycle", lr, e, s, steps, epochs, (), 0.1, 0.25) for e in range(epochs) for s in range(steps)]
    assert rates[0] == pytest.approx(lr / 10)
    assert rates[5] == pytest.approx(lr * (0.1 + 0.9 * 0.5))       # half-way up the warm-up
    assert max(rates) == pytest.approx(lr) and rates.index(max(rates)) == 10
    assert rates[25] == pytest.approx(lr / 2)                     # half-way down the cosine
    assert all(a >= b for a, b in zip(rates[10:], rates[11:])) and rates[-1] < lr * 0.01
    step = [_rate("step", lr, e, 0, steps, epochs, (2, 3), 0.1, 0.25) for e in range(epochs)]
    assert step == pytest.approx([lr, lr, lr * 0.1, lr * 0.01])


def test_augmentations_are_flips_and_shifted_crops():
    from zerolib.models.train import _augment

    x = torch.rand(64, 3, 9, 7)
    gen = torch.Generator().manual_seed(0)
    flipped = _augment(x, ("flip",), 2, gen)
    is_flip = [torch.equal(f, a.flip(2)) for f, a in zip(flipped, x)]
    assert all(torch.equal(f, a) or fl for f, a, fl in zip(flipped, x, is_flip))
    assert 16 < sum(is_flip) < 48                                 # about half, not all or none
    pad = 2
    cropped = _augment(x, ("crop",), pad, gen)
    padded = torch.nn.functional.pad(x, (pad,) * 4, mode="reflect")
    offsets = set()
    for c, p in zip(cropped, padded):
        found = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                 if torch.equal(c, p[:, dy:dy + 9, dx:dx + 7])]
        assert found, "a crop is not a window of the padded image"
        offsets.add(found[0])
    assert len(offsets) > 10                                      # shifts vary per image
    assert torch.equal(_augment(x, ("crop",), 0, gen), x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(schedule="cosine"), "schedule"), (dict(warmup=1.0), "warmup"), (dict(augment=("rotate",)), "augment"),
    (dict(schedule="onecycle", lr_milestones=(2,)), "lr_milestones"), (dict(crop_pad=-1), "crop_pad"),
    (dict(epochs=0), "epochs"), (dict(lr=0.0), "lr"), (dict(batch_size=0), "batch_size"),
    (dict(optimizer="rmsprop"), "optimizer"), (dict(data=(torch.rand(4, 3), torch.zeros(5))), "shape"),
    (dict(data=(torch.full((4, 3), float("nan")), torch.zeros(4, dtype=torch.long))), "NaN"),
    (dict(data=[1, 2, 3]), "data"), (dict(device="gpu9"), "device"),
])
def test_bad_inputs_raise(kwargs, match, data):
    x, y, _ = data
    kwargs = {"data": (x, y), "epochs": 1, "progress": False, "device": "cpu", **kwargs}
    with pytest.raises(ValueError, match=match):
        train(fresh(), **kwargs)


def test_model_without_loss_needs_one(data):
    x, y, _ = data
    with pytest.raises(ValueError, match="loss"):
        train(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), (x, y), epochs=1, device="cpu")


def test_augmentation_needs_images_and_a_pad_smaller_than_them(data):
    x, y, _ = data                                    # digits: 1 x 8 x 8
    with pytest.raises(ValueError, match="crop_pad 8"):
        train(fresh(), (x, y), epochs=1, augment="crop", crop_pad=8, progress=False, device="cpu")
    flat = make_model("substitute_mlp", (1, 8, 8), 10, seed=0)
    with pytest.raises(ValueError, match="image batches"):
        train(flat, (x.flatten(1), y), epochs=1, augment=("flip",), progress=False, device="cpu")


def test_bf16_runs_the_forward_in_bfloat16_and_keeps_float32_weights(data):
    x, y, _ = data
    fp32, bf16 = fresh(), fresh()
    seen = []
    first_conv = next(m for m in bf16.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype) if m.training else None)
    h32 = train(fp32, (x, y), epochs=1, **SETTINGS)
    h16 = train(bf16, (x, y), epochs=1, **SETTINGS, precision="bf16")
    assert seen and set(seen) == {torch.bfloat16}          # the convolutions ran in bfloat16 while training
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    assert bf16(x[:5]).dtype == torch.float32                # and the trained model is float32 outside autocast
    # the same run up to bfloat16 rounding (8 significant bits: ~0.4 % per product), not the same numbers
    assert h16[0] != h32[0] and abs(h16[0] - h32[0]) < 0.05 * h32[0]


def test_unknown_precision_is_named(data):
    x, y, _ = data
    with pytest.raises(ValueError, match="precision must be one of"):
        train(fresh(), (x, y), epochs=1, precision="fp16", progress=False, device="cpu")


def test_steps_per_epoch_stops_each_epoch_after_that_many_steps(data):
    """A capped epoch is the uncapped run's first steps: the same shuffled order, the same
    batches, the same dropout draws, so 2 capped steps leave exactly the weights an uncapped
    run has after its second step (stopped there by a crash in the third's loss, after its
    forward pass moved the batch-norm statistics: the parameters are compared)."""
    x, y, _ = data
    steps = []
    capped = fresh()
    capped.register_forward_hook(lambda m, i, o: steps.append(len(i[0])) if m.training else None)
    history = train(capped, (x, y), epochs=1, **SETTINGS, steps_per_epoch=2)
    assert steps == [64, 64] and len(history) == 1          # 2 steps of 64 rows, of the 5 over 300 rows
    uncapped = fresh()
    with pytest.raises(KeyboardInterrupt):
        train(uncapped, (x, y), crashing_loss(3), epochs=1, **SETTINGS)
    pa, pb = dict(capped.named_parameters()), dict(uncapped.named_parameters())
    assert pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not same_weights(capped, fresh())


def test_onecycle_runs_its_course_over_the_capped_steps(data, monkeypatch):
    """With a cap, the one-cycle rate rises and falls over the steps taken: 2 epochs of 2
    steps put the steps at t = 0, 1/4, 1/2, 3/4 of the course (warm-up to 1/4), so the rates
    are lr x (0.1, 1, (1 + cos(pi/3)) / 2, (1 + cos(2 pi/3)) / 2); over the uncapped 5 steps
    per epoch the second step would still be warming up."""
    import math
    import sys

    tm = sys.modules["zerolib.models.train"]  # the module (zerolib.models.train is also the function's name)

    x, y, _ = data
    got, original = [], tm._rate
    monkeypatch.setattr(tm, "_rate", lambda *a: got.append(original(*a)) or got[-1])
    train(fresh(), (x, y), epochs=2, **{**SETTINGS, "lr_milestones": ()}, schedule="onecycle", steps_per_epoch=2)
    lr = SETTINGS["lr"]
    expected = [0.1 * lr, lr, lr * (1 + math.cos(math.pi / 3)) / 2, lr * (1 + math.cos(2 * math.pi / 3)) / 2]
    assert got == pytest.approx(expected)


def test_resume_refuses_another_steps_per_epoch(tmp_path, data):
    x, y, _ = data
    path = tmp_path / "ckpt.pt"
    train(fresh(), (x, y), epochs=1, **SETTINGS, steps_per_epoch=1, checkpoint_path=path)
    assert load_checkpoint(path)["steps_per_epoch"] == 1
    with pytest.raises(ValueError, match="steps_per_epoch 1, not None"):
        train(fresh(), (x, y), epochs=2, **SETTINGS, checkpoint_path=path)
    train(fresh(), (x, y), epochs=2, **SETTINGS, steps_per_epoch=1, checkpoint_path=path)  # the same cap resumes
    assert load_checkpoint(path)["epoch"] == 2


def test_a_checkpoint_from_before_the_cap_resumes_uncapped(tmp_path, data):
    """A checkpoint written before ``steps_per_epoch`` existed holds every batch of its epochs:
    an uncapped run resumes from it, a capped one is refused."""
    from zerolib._io import atomic_write

    x, y, _ = data
    path = tmp_path / "ckpt.pt"
    train(fresh(), (x, y), epochs=1, **SETTINGS, checkpoint_path=path)
    old = {k: v for k, v in load_checkpoint(path).items() if k != "steps_per_epoch"}
    atomic_write(path, lambda tmp: torch.save(old, tmp))
    with pytest.raises(ValueError, match="steps_per_epoch None, not 1"):
        train(fresh(), (x, y), epochs=2, **SETTINGS, steps_per_epoch=1, checkpoint_path=path)
    train(fresh(), (x, y), epochs=2, **SETTINGS, checkpoint_path=path)
    assert load_checkpoint(path)["epoch"] == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_bad_steps_per_epoch_is_named(data, bad):
    x, y, _ = data
    with pytest.raises(ValueError, match="steps_per_epoch must be None or an integer >= 1"):
        train(fresh(), (x, y), epochs=1, steps_per_epoch=bad, progress=False, device="cpu")
