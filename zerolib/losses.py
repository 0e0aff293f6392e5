"""Output heads and losses of paper B, as adapters that training and attacks share.

Paper B compares three ways to turn a network's last layer into a class:

=================  ====================  =============================================
paper name         adapter               head, loss, prediction
=================  ====================  =============================================
``O:SOFTMAX:CE``   :class:`CrossEntropy`  softmax, cross-entropy to the label, argmax
``O:SOFTMAX:MSE``  :class:`OneHotMSE`     softmax, MSE to the one-hot label, argmax
``R:TANH:MSE``     :class:`CodewordMSE`   tanh, MSE to the label's random codeword,
                                          nearest codeword (Euclidean)
=================  ====================  =============================================

Convention: a model's ``forward`` returns its *pre-activation* outputs (the
logits, or for the codebook model the d pre-tanh values); the adapter applies
the head's activation. This keeps the pre-softmax logits available to the
attacks that need them (CW-L2, DeepFool). A model whose ``forward`` already
applies its activation is used with ``from_logits=False``.

Every adapter offers:

- ``adapter(outputs, y, reduction="mean")`` -- the training loss; ``reduction``
  is ``"mean"``, ``"sum"`` or ``"none"`` (one value per example).
- ``predict(outputs)`` -- predicted labels, shape (N,).
- ``scores(outputs)`` -- per-class scores, shape (N, k), larger = more likely,
  with ``predict == scores.argmax(1)``; margin attacks (CW-L2, DeepFool) work
  on these: the logits for the softmax heads, minus the Euclidean distances to
  the codewords for the codebook head (so the CW-L2 margin on these scores is
  exactly paper B's modified, codebook-aware margin).
- ``n_classes(outputs)`` -- the number of classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "Codebook",
    "LossAdapter",
    "CrossEntropy",
    "OneHotMSE",
    "CodewordMSE",
    "ScoreMargin",
    "make_loss",
    "PAPER_B_VARIANTS",
]


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class Codebook:
    """A random codeword per class (paper B): ``codes`` is a (k, d) tensor.

    Build it with :meth:`from_seed`; the seed plays the paper's "secret key".
    """

    def __init__(self, codes: torch.Tensor):
        codes = torch.as_tensor(codes)
        if codes.ndim != 2 or codes.shape[0] < 2 or codes.shape[1] < 1:
            raise ValueError(f"codes must have shape (k >= 2, d >= 1), got {tuple(codes.shape)}")
        if not codes.is_floating_point():
            raise ValueError(f"codes must be floating point, got {codes.dtype}")
        self.codes = codes

    @classmethod
    def from_seed(cls, n_classes: int, d: int = 128, seed: int = 0) -> "Codebook":
        """Draw the codebook once from U(-1, 1)^d with a CPU ``torch.Generator``
        seeded by ``seed`` (the same codes on every machine and device)."""
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        if int(d) < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        gen = torch.Generator().manual_seed(int(seed))
        codes = torch.rand(int(n_classes), int(d), generator=gen, dtype=torch.float32) * 2 - 1
        return cls(codes)

    @property
    def n_classes(self) -> int:
        return self.codes.shape[0]

    @property
    def dim(self) -> int:
        return self.codes.shape[1]

    def to(self, device=None, dtype=None) -> "Codebook":
        return Codebook(self.codes.to(device=device, dtype=dtype))

    def distances(self, z: torch.Tensor, squared: bool = False) -> torch.Tensor:
        """(N, k) distances between the rows of ``z`` (N, d) and the codewords.

        Euclidean by default; ``squared=True`` gives squared distances. Computed
        as a sum of squared differences (exact, differentiable; the square root
        is taken of a value clamped at 1e-24 so its gradient never becomes NaN).
        """
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise ValueError(f"z must have shape (N, {self.dim}), got {tuple(z.shape)}")
        codes = self.codes.to(device=z.device, dtype=z.dtype)
        sq = (z.unsqueeze(1) - codes.unsqueeze(0)).pow(2).sum(-1)
        return sq if squared else sq.clamp_min(1e-24).sqrt()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Label of the nearest codeword for each row of ``z``."""
        return self.distances(z, squared=True).argmin(1)

    def __repr__(self) -> str:
        return f"Codebook(n_classes={self.n_classes}, dim={self.dim})"


class LossAdapter:
    """Base class: turns a model's raw outputs into a loss, labels and scores."""

    from_logits: bool = True

    def activate(self, outputs: torch.Tensor) -> torch.Tensor:
        """The head's activation applied to the model's raw outputs."""
        return outputs

    def losses(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One loss value per example, shape (N,)."""
        raise NotImplementedError

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        return _reduce(self.losses(outputs, y), reduction)

    def scores(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.scores(outputs).argmax(1)

    def n_classes(self, outputs: torch.Tensor) -> int:
        return outputs.shape[1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class CrossEntropy(LossAdapter):
    """Softmax + cross-entropy (``O:SOFTMAX:CE``). Scores are the logits.

    With ``from_logits=False`` the outputs are probabilities and the loss is
    ``-log p_y`` (clamped at 1e-12); scores are then the probabilities.
    """

    def __init__(self, from_logits: bool = True):
        self.from_logits = bool(from_logits)

    def activate(self, outputs):
        return outputs.softmax(1) if self.from_logits else outputs

    def losses(self, outputs, y):
        if self.from_logits:
            return F.cross_entropy(outputs, y, reduction="none")
        return -outputs.gather(1, y[:, None]).squeeze(1).clamp_min(1e-12).log()


class OneHotMSE(LossAdapter):
    """Softmax + mean squared error to the one-hot label (``O:SOFTMAX:MSE``).

    Per example: mean over the k outputs of ``(softmax(z) - onehot(y))^2``
    (Keras' and ``torch.nn.MSELoss``'s convention). Prediction: the nearest
    one-hot vector, which is the argmax of the probabilities (and of the
    logits). Scores: the raw outputs (logits, or probabilities when
    ``from_logits=False``), which have the same argmax.
    """

    def __init__(self, from_logits: bool = True):
        self.from_logits = bool(from_logits)

    def activate(self, outputs):
        return outputs.softmax(1) if self.from_logits else outputs

    def losses(self, outputs, y):
        p = self.activate(outputs)
        target = F.one_hot(y, p.shape[1]).to(p.dtype)
        return (p - target).pow(2).mean(1)


class CodewordMSE(LossAdapter):
    """Tanh + mean squared error to the label's codeword (``R:TANH:MSE``).

    Per example: mean over the d outputs of ``(tanh(z) - codes[y])^2``.
    Prediction: the nearest codeword (Euclidean). Scores: minus the Euclidean
    distances to the k codewords, shape (N, k).
    """

    def __init__(self, codebook: Codebook, from_logits: bool = True):
        if not isinstance(codebook, Codebook):
            raise TypeError(f"codebook must be a Codebook, got {type(codebook).__name__}")
        self.codebook = codebook
        self.from_logits = bool(from_logits)

    def activate(self, outputs):
        if outputs.ndim != 2 or outputs.shape[1] != self.codebook.dim:
            raise ValueError(
                f"model outputs must have shape (N, {self.codebook.dim}) to match the codebook, "
                f"got {tuple(outputs.shape)}"
            )
        return outputs.tanh() if self.from_logits else outputs

    def losses(self, outputs, y):
        z = self.activate(outputs)
        target = self.codebook.codes.to(device=z.device, dtype=z.dtype)[y]
        return (z - target).pow(2).mean(1)

    def scores(self, outputs):
        return -self.codebook.distances(self.activate(outputs))

    def predict(self, outputs):
        return self.codebook.decode(self.activate(outputs))

    def n_classes(self, outputs):
        return self.codebook.n_classes

    def __repr__(self) -> str:
        return f"CodewordMSE({self.codebook!r}, from_logits={self.from_logits})"


def label_margin(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``s_y - max_{j != y} s_j`` per row: positive exactly where ``y`` has the top score."""
    true = scores.gather(1, y[:, None]).squeeze(1)
    other = scores.masked_fill(F.one_hot(y, scores.shape[1]).bool(), float("-inf")).amax(1)
    return true - other


class ScoreMargin(LossAdapter):
    """The margin loss on another adapter's scores: ``max_{j != y} s_j - s_y``.

    The loss an attack maximises to cross the decision boundary whatever the head
    (Carlini & Wagner's margin, AutoAttack's checks): on a softmax-MSE or codebook
    model it does not saturate as their own losses can, so a PGD on it tells a flat
    loss (gradient masking) from real robustness. Prediction and scores are the
    wrapped adapter's.

    ``pre_activation=True`` takes the margin before the head's squashing, the adaptive
    attack of Tramer et al. (2020) on output-code defenses: for :class:`CodewordMSE`
    the scores become minus the squared Euclidean distances of the *pre-tanh* outputs to
    the codewords (the attacker knows the codebook): their differences are linear in the
    outputs, ``2 z . (c_j - c_y)`` plus a constant, so the margin's gradient never
    vanishes, however far tanh has saturated; for the softmax heads the scores are the
    logits either way.
    """

    def __init__(self, adapter: LossAdapter, pre_activation: bool = False):
        if not isinstance(adapter, LossAdapter):
            raise TypeError(f"adapter must be a LossAdapter, got {type(adapter).__name__}")
        if pre_activation and not adapter.from_logits:
            raise ValueError("pre_activation needs an adapter on raw outputs (from_logits=True)")
        self.adapter = adapter
        self.pre_activation = bool(pre_activation)
        self.from_logits = adapter.from_logits

    def activate(self, outputs):
        return self.adapter.activate(outputs)

    def _margin_scores(self, outputs):
        if self.pre_activation and isinstance(self.adapter, CodewordMSE):
            self.adapter.activate(outputs)  # checks the shape
            return -self.adapter.codebook.distances(outputs, squared=True)
        return self.adapter.scores(outputs)

    def losses(self, outputs, y):
        return -label_margin(self._margin_scores(outputs), y)

    def scores(self, outputs):
        return self.adapter.scores(outputs)

    def predict(self, outputs):
        return self.adapter.predict(outputs)

    def n_classes(self, outputs):
        return self.adapter.n_classes(outputs)

    def __repr__(self) -> str:
        extra = ", pre_activation=True" if self.pre_activation else ""
        return f"ScoreMargin({self.adapter!r}{extra})"


#: paper B's model variants -> (adapter class, number of model outputs)
PAPER_B_VARIANTS = ("O:SOFTMAX:CE", "O:SOFTMAX:MSE", "R:TANH:MSE")


def make_loss(variant: str, n_classes: int, code_dim: int = 128, seed: int = 0) -> LossAdapter:
    """The adapter for one of paper B's variants (``PAPER_B_VARIANTS``).

    For ``R:TANH:MSE`` the codebook is ``Codebook.from_seed(n_classes, code_dim, seed)``
    and the model needs ``code_dim`` outputs; the others need ``n_classes``.
    """
    key = variant.upper()
    if key == "O:SOFTMAX:CE":
        return CrossEntropy()
    if key == "O:SOFTMAX:MSE":
        return OneHotMSE()
    if key == "R:TANH:MSE":
        return CodewordMSE(Codebook.from_seed(n_classes, code_dim, seed))
    raise ValueError(f"unknown variant {variant!r}; expected one of {PAPER_B_VARIANTS}")
