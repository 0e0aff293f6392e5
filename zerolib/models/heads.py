"""Paper B's three heads, as a base class every torch network here derives from.

=============  ==================  ============================================
head           paper B's name      outputs, loss, prediction
=============  ==================  ============================================
``"ce"``       ``O:SOFTMAX:CE``    k logits; softmax + cross-entropy; argmax
``"mse"``      ``O:SOFTMAX:MSE``   k logits; softmax + MSE to one-hot; argmax
``"codebook"`` ``R:TANH:MSE``      d values; tanh + MSE to the class's random
                                   codeword; the nearest codeword (Euclidean)
=============  ==================  ============================================

Following ``zerolib.losses``, ``forward`` returns the *pre-activation* outputs
(the logits, or the d pre-tanh values); the head's activation, loss and decoding
live in the loss adapter ``net.loss`` (``CrossEntropy``, ``OneHotMSE`` or
``CodewordMSE``), which training and the attacks share. So ``net.loss(net(x), y)``
is the training loss, ``net.loss.activate(net(x))`` the head's outputs (softmax
probabilities, or tanh values in (-1, 1)), and ``net.predict(x)`` the labels.

The codebook is a buffer of the network (saved with its weights, moved with
``.to(device)``); by default ``Codebook.from_seed(n_classes, code_length,
code_seed)``, the seed playing the paper's secret key.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from zerolib.losses import PAPER_B_VARIANTS, Codebook, CodewordMSE, CrossEntropy, LossAdapter, OneHotMSE

__all__ = ["HEADS", "HeadNet", "canonical_head"]

HEADS = dict(zip(("ce", "mse", "codebook"), PAPER_B_VARIANTS))
"""Head name -> paper B's variant name; either name is accepted."""


def canonical_head(head: str) -> str:
    """``"ce"``, ``"mse"`` or ``"codebook"`` for a head or paper-B variant name."""
    if isinstance(head, str):
        key = head.lower()
        for name, variant in HEADS.items():
            if key in (name, variant.lower()):
                return name
    raise ValueError(f"head must be one of {list(HEADS)} or {list(HEADS.values())}, got {head!r}")


class HeadNet(nn.Module):
    """Base class: a classifier network with one of paper B's heads.

    Subclasses build their layers with ``self.out_features`` outputs and
    implement ``forward`` returning pre-activation outputs (N, out_features).

    Args:
        n_classes: number of classes (>= 2).
        head: ``"ce"``, ``"mse"``, ``"codebook"`` (or paper B's variant names).
        code_length: d, the codeword length of the codebook head (paper B: 128).
        codebook: a ``zerolib.losses.Codebook`` or a (k, d) tensor to use instead
            of drawing one; its d overrides ``code_length``.
        code_seed: seed of the drawn codebook.
    """

    def __init__(self, n_classes: int, head: str = "ce", code_length: int = 128, codebook=None,
                 code_seed: int = 0):
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        self.n_classes = int(n_classes)
        self.head = canonical_head(head)
        if self.head == "codebook":
            if codebook is None:
                codebook = Codebook.from_seed(n_classes, code_length, code_seed)
            elif not isinstance(codebook, Codebook):
                codebook = Codebook(torch.as_tensor(codebook, dtype=torch.float32))
            if codebook.n_classes != n_classes:
                raise ValueError(f"codebook has {codebook.n_classes} codewords for {n_classes} classes")
            self.register_buffer("codebook", codebook.codes.detach().clone().float())
            self.out_features = codebook.dim
        else:
            if codebook is not None:
                raise ValueError(f"a codebook is only used by the 'codebook' head, not {self.head!r}")
            self.out_features = n_classes

    @property
    def loss(self) -> LossAdapter:
        """The head's loss adapter (the training loss, decoding and attack scores)."""
        if self.head == "ce":
            return CrossEntropy()
        if self.head == "mse":
            return OneHotMSE()
        return CodewordMSE(Codebook(self.codebook))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class indices (N,): argmax, or the nearest codeword."""
        with torch.no_grad():
            return self.loss.predict(self(x))
