"""The torch networks of both papers, each with a paper-B head (``heads.HeadNet``).

Every network takes ``in_shape`` = (C, H, W) (the MLP: any shape) so the same
class serves 1x8x8 digits, 1x28x28 MNIST / Fashion-MNIST and 3x32x32 CIFAR10,
and returns pre-activation outputs (N, out_features): k logits, or d codeword
values for the codebook head.

- :class:`SubstituteMLP` -- paper A's black-box substitute: 2 x 200 ReLU.
- :class:`LeNet` -- LeNet-5 convolutions (6 and 16 5x5 kernels, ReLU, 2x2 max
  pool), then 120 and 84 ReLU nodes. A 5x5 convolution is zero-padded by 2
  ("same") where its input is too small for the classic unpadded one: the first
  below 32 pixels (MNIST's usual LeNet), the second below 10 (digits 8x8).
- :class:`SimpleNet80` -- paper A's LeNet convolutions + one 80-node hidden layer.
- :class:`SubstituteCNN` -- paper A's Fig. 7 substitute: 4 blocks of 3x3 conv
  ("same") + ReLU + 2x2 max pool + batch norm, 32/64/128/256 kernels, a linear
  output; a block skips its pool once the map is 1 pixel wide (small inputs).
- :class:`DenseNet` -- Huang et al.'s DenseNet without bottleneck or compression
  (paper B's benchmark; the classic DenseNet-40): a 3x3 conv to 16 channels,
  3 dense blocks of (depth - 4) / 3 layers BN-ReLU-conv3x3(growth) each
  concatenated to its input, BN-ReLU-conv1x1-avgpool2 transitions, then
  BN-ReLU-global average pool-linear. depth 40, growth 12: about 1.02M
  parameters on CIFAR10; ``make_model("densenet_small", ...)`` is depth 10,
  growth 6 for CPU tests.
- :class:`ConvNet` -- a VGG-style network with batch norm, sized to train on a
  full dataset on a few CPU cores (the ``-cpu`` profiles' paper-B network):
  3x3 conv-BN-ReLU layers of width w, then 2w, 2w, then 4w, 4w, a 2x2 max pool
  after the first, third and fifth, a global max pool and a linear output.
  w = 32: about 0.29M weights and 29M multiply-adds per 32x32 image (DenseNet-40:
  about 1.0M and 0.27G); no concatenations, so it is cheap to attack as well.

Build by name with :func:`make_model`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .heads import HeadNet

__all__ = ["SubstituteMLP", "LeNet", "SimpleNet80", "SubstituteCNN", "DenseNet", "ConvNet", "MODELS", "make_model"]


def _image_shape(in_shape) -> tuple[int, int, int]:
    shape = tuple(in_shape) if isinstance(in_shape, (tuple, list, torch.Size)) else None
    if shape is None or len(shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ValueError(f"in_shape must be (channels, height, width) of positive integers, got {in_shape!r}")
    return shape


def _features_out(features: nn.Module, in_shape, name: str) -> int:
    """Flattened size of ``features``' output for one input; ValueError if too small."""
    try:
        with torch.no_grad():
            out = features.eval()(torch.zeros(1, *in_shape))
    except RuntimeError as err:
        raise ValueError(f"in_shape {tuple(in_shape)} is too small for {name}: {err}") from err
    features.train()
    return out[0].numel()


class SubstituteMLP(HeadNet):
    """Paper A's substitute: flatten, ``hidden`` ReLU layers (default 200, 200), linear out."""

    def __init__(self, in_shape, n_classes: int, hidden=(200, 200), **head):
        super().__init__(n_classes, **head)
        if isinstance(in_shape, int):
            in_shape = (in_shape,)
        if not all(isinstance(s, int) and s >= 1 for s in in_shape) or len(in_shape) == 0:
            raise ValueError(f"in_shape must be a tuple of positive integers, got {in_shape!r}")
        layers, width = [nn.Flatten()], math.prod(in_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, self.out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def _lenet_convs(in_shape) -> nn.Sequential:
    c, h, w = _image_shape(in_shape)
    pad1 = 2 if min(h, w) < 32 else 0
    pooled = (min(h, w) + 2 * pad1 - 4) // 2
    pad2 = 2 if pooled < 10 else 0
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=pad1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=pad2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
    )


class LeNet(HeadNet):
    """LeNet-5: two 5x5 conv + ReLU + max-pool stages, then 120 and 84 ReLU nodes."""

    def __init__(self, in_shape, n_classes: int, **head):
        super().__init__(n_classes, **head)
        self.features = _lenet_convs(in_shape)
        n = _features_out(self.features, _image_shape(in_shape), "LeNet")
        self.classifier = nn.Sequential(nn.Linear(n, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, self.out_features))

    def forward(self, x):
        return self.classifier(self.features(x))


class SimpleNet80(HeadNet):
    """LeNet's convolutions followed by one hidden layer of ``hidden`` (80) ReLU nodes."""

    def __init__(self, in_shape, n_classes: int, hidden: int = 80, **head):
        super().__init__(n_classes, **head)
        self.features = _lenet_convs(in_shape)
        n = _features_out(self.features, _image_shape(in_shape), "SimpleNet80")
        self.classifier = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, self.out_features))

    def forward(self, x):
        return self.classifier(self.features(x))


class SubstituteCNN(HeadNet):
    """4 x (3x3 conv, ReLU, 2x2 max pool, batch norm) with ``channels`` kernels, linear out."""

    def __init__(self, in_shape, n_classes: int, channels=(32, 64, 128, 256), **head):
        super().__init__(n_classes, **head)
        c, h, w = _image_shape(in_shape)
        layers = []
        for k in channels:
            layers += [nn.Conv2d(c, k, 3, padding=1), nn.ReLU()]
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            layers.append(nn.BatchNorm2d(k))
            c = k
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c * h * w, self.out_features)

    def forward(self, x):
        return self.classifier(self.features(x))


class _DenseLayer(nn.Module):
    """BN-ReLU-conv3x3 producing ``growth`` maps, concatenated to the input."""

    def __init__(self, channels: int, growth: int, drop_rate: float):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                  nn.Conv2d(channels, growth, 3, padding=1, bias=False))
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()

    def forward(self, x):
        return torch.cat([x, self.drop(self.body(x))], 1)


class DenseNet(HeadNet):
    """DenseNet (no bottleneck, no compression): ``depth`` = 3 * layers per block + 4.

    Args:
        depth: total depth; (depth - n_blocks - 1) must divide by ``n_blocks``.
        growth_rate: maps added per layer (k).
        n_blocks: dense blocks (3 in the paper), separated by transitions.
        init_channels: output maps of the first convolution (16 in Huang et al.).
        drop_rate: dropout after each dense layer's convolution (Huang et al.
            use 0.2 without data augmentation; default 0).
    """

    def __init__(self, in_shape, n_classes: int, depth: int = 40, growth_rate: int = 12, n_blocks: int = 3,
                 init_channels: int = 16, drop_rate: float = 0.0, **head):
        super().__init__(n_classes, **head)
        c, h, w = _image_shape(in_shape)
        per_block, rest = divmod(depth - n_blocks - 1, n_blocks) if n_blocks >= 1 else (0, 1)
        if n_blocks < 1 or per_block < 1 or rest:
            raise ValueError(f"depth {depth} does not give a whole number (>= 1) of layers in each of "
                             f"{n_blocks} blocks: need depth = {n_blocks} * layers + {n_blocks + 1}")
        if growth_rate < 1 or init_channels < 1 or not 0 <= drop_rate < 1:
            raise ValueError("growth_rate and init_channels must be >= 1 and drop_rate in [0, 1)")
        self.depth, self.growth_rate = depth, growth_rate
        layers, ch = [nn.Conv2d(c, init_channels, 3, padding=1, bias=False)], init_channels
        for b in range(n_blocks):
            for _ in range(per_block):
                layers.append(_DenseLayer(ch, growth_rate, drop_rate))
                ch += growth_rate
            if b < n_blocks - 1:
                layers += [nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, ch, 1, bias=False), nn.AvgPool2d(2)]
        layers += [nn.BatchNorm2d(ch), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        _features_out(self.features, (c, h, w), f"DenseNet with {n_blocks} blocks")
        self.classifier = nn.Linear(ch, self.out_features)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x))


class ConvNet(HeadNet):
    """VGG-style: conv-BN-ReLU layers of ``width`` x (1, pool, 2, 2, pool, 4, 4, pool), global max pool, linear.

    Args:
        width: channels of the first layer (w); the others have 2w and 4w.
    """

    def __init__(self, in_shape, n_classes: int, width: int = 32, **head):
        super().__init__(n_classes, **head)
        c, h, w = _image_shape(in_shape)
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an integer >= 1, got {width!r}")
        self.width = width

        def layer(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        layers = [*layer(c, width), nn.MaxPool2d(2), *layer(width, 2 * width), *layer(2 * width, 2 * width),
                  nn.MaxPool2d(2), *layer(2 * width, 4 * width), *layer(4 * width, 4 * width), nn.MaxPool2d(2),
                  nn.AdaptiveMaxPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        _features_out(self.features, (c, h, w), "ConvNet (three 2x2 pools: at least 8 x 8 pixels)")
        self.classifier = nn.Linear(4 * width, self.out_features)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x):
        # channels-last input: oneDNN's fast convolution path on CPUs (training about 1.6x faster
        # on 2 cores at width 24); the outputs are the same up to the last bits
        return self.classifier(self.features(x.contiguous(memory_format=torch.channels_last)))


MODELS = {
    "substitute_mlp": (SubstituteMLP, {}),
    "lenet": (LeNet, {}),
    "simplenet80": (SimpleNet80, {}),
    "substitute_cnn": (SubstituteCNN, {}),
    "densenet": (DenseNet, {}),  # depth 40, growth 12
    "densenet_small": (DenseNet, {"depth": 10, "growth_rate": 6}),
    "convnet": (ConvNet, {}),  # width 32
}
"""Names accepted by :func:`make_model` -> (class, default architecture arguments)."""


def make_model(name: str, in_shape, n_classes: int, head: str = "ce", code_length: int = 128, codebook=None,
               code_seed: int = 0, seed: int | None = None, **arch) -> HeadNet:
    """Build network ``name`` (see ``MODELS``) for inputs ``in_shape`` and ``n_classes``.

    ``head`` is ``"ce"``, ``"mse"`` or ``"codebook"`` (or paper B's variant
    names); the codebook head outputs ``code_length`` values and decodes with
    ``codebook`` or ``Codebook.from_seed(n_classes, code_length, code_seed)``.
    ``seed`` seeds the weight initialisation (without touching the caller's
    global RNG); ``arch`` overrides architecture arguments (e.g. ``depth=``).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    cls, defaults = MODELS[name]
    kwargs = {**defaults, **arch, "head": head, "code_length": code_length, "codebook": codebook,
              "code_seed": code_seed}
    if seed is None:
        model = cls(in_shape, n_classes, **kwargs)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls(in_shape, n_classes, **kwargs)
    model.in_shape = tuple(int(s) for s in ((in_shape,) if isinstance(in_shape, int) else in_shape))
    model.register_forward_pre_hook(_check_batch)
    return model


def _check_batch(model: HeadNet, args) -> None:
    """A batch (N, *in_shape) or a clear error: an image without its batch dimension
    would otherwise fail deep inside a layer with a shape message about matrices."""
    x, shape = args[0], model.in_shape
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{type(model).__name__} takes a tensor, got {type(x).__name__}")
    if tuple(x.shape[1:]) == shape or (isinstance(model, SubstituteMLP) and x[0].numel() == math.prod(shape)
                                       and x.ndim >= 2):
        return
    hint = " (add a batch dimension: x[None])" if tuple(x.shape) == shape else ""
    raise ValueError(f"{type(model).__name__} takes a batch of shape (N, {', '.join(map(str, shape))}), "
                     f"got {tuple(x.shape)}{hint}")
