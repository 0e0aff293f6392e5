"""Vote ensembles of the convex baselines: the torch modules that hold the votes'
weights, the majority-vote rule, and the scikit-learn plumbing they share.

Paper A fits every model one-vs-all (binary: one model for the positive class
``classes_[1]``; k > 2 classes: one per class) and, for "32 votes", fits each of
them on 32 bootstrap samples and takes the majority vote. Weights are stored with
the class problem P (1 for binary, k otherwise) and the vote V as leading
dimensions, in the input's own (flattened) feature order.

The vote rule (the same for every estimator here)
--------------------------------------------------
A one-vs-all vote is *for* class k when its decision value is > 0; a softmax vote
(MLP400) is for its argmax class. Class k's confidence is

    conf_k = count_k + sigmoid(t_k),   count_k = number of votes for k,

where the tie-break t_k is the votes' mean decision value for k (softmax: the
mean log-probability; for two classes the mean log-odds, antisymmetric). Since
``0 < sigmoid < 1``, the most votes always win and the mean decision value only
breaks ties; with one vote this is the usual one-vs-all argmax of the decision
values. A binary tie (16 of 32) thus goes to the side the votes' mean margin
favours. Then

- ``predict`` = the class of largest confidence,
- ``predict_proba`` = ``conf / conf.sum(1)``: vote fractions in which the
  tie-break counts as at most one extra vote (for two classes exactly
  ``(count_1 + sigmoid(t)) / (V + 1)``), so its argmax is ``predict``,
- ``decision_function`` = ``conf / (V + 1)`` per class; for two classes
  ``(conf_1 - conf_0) / (V + 1)``, positive exactly when class 1 is predicted.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

__all__ = [
    "VoteLinear",
    "VoteMLP",
    "VoteClassifierBase",
    "resolve_device",
    "stratified_bootstrap",
    "vote_confidence",
]

_PREDICT_CHUNK = 2048  # rows per forward pass when predicting


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else as ``torch.device``."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}") from err


def vote_confidence(counts: torch.Tensor, tiebreak: torch.Tensor) -> torch.Tensor:
    """``counts + sigmoid(tiebreak)``: the vote rule of this module's docstring."""
    return counts + torch.sigmoid(tiebreak.clamp(-30, 30))


def stratified_bootstrap(y_idx: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Row indices of one bootstrap sample drawn with replacement *within each class*.

    Every class keeps its size, so every vote sees every class and each
    one-vs-all problem has both labels even on tiny data sets.
    """
    rows = [rng.choice(np.flatnonzero(y_idx == c), size=int(np.sum(y_idx == c)), replace=True)
            for c in np.unique(y_idx)]
    return np.sort(np.concatenate(rows))


# ------------------------------------------------------------ torch modules
class _VoteModule(nn.Module):
    """Base of the vote views. Subclasses implement ``votes`` and ``_counts_tiebreak``.

    ``forward(x)`` returns differentiable per-class scores (N, K) for gradient
    attacks; ``predict(x)`` applies the majority-vote rule. Inputs (N, ...) are
    flattened; the weights are buffers (a frozen view of a fitted estimator).
    """

    def __init__(self, n_classes: int):
        super().__init__()
        self.n_classes = int(n_classes)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.n_features:
            raise ValueError(f"x has {x.shape[1]} features per row, the model expects {self.n_features}")
        return x.to(self._dtype())

    def _dtype(self) -> torch.dtype:
        return next(self.buffers()).dtype

    def counts(self, x: torch.Tensor) -> torch.Tensor:
        """Votes for each class, (N, K) (binary: column 0 counts classes_[0]'s)."""
        return self._counts_tiebreak(x)[0]

    def confidence(self, x: torch.Tensor) -> torch.Tensor:
        """``counts + sigmoid(tie-break)``, (N, K); see the module docstring."""
        return vote_confidence(*self._counts_tiebreak(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Majority-vote class indices (N,)."""
        return self.confidence(x).argmax(1)


class VoteLinear(_VoteModule):
    """Linear one-vs-all votes: ``weight`` (P, V, D), ``bias`` (P, V); P = 1 for binary.

    ``votes(x)`` -> decision values (N, P, V). ``forward(x)`` -> the votes' mean
    decision value per class, (N, K); for binary ``[0, mean]`` so that softmax
    cross-entropy on it is the logistic loss of the mean margin.
    """

    def __init__(self, weight, bias, n_classes: int):
        super().__init__(n_classes)
        weight, bias = torch.as_tensor(weight), torch.as_tensor(bias)
        if weight.ndim != 3 or bias.shape != weight.shape[:2]:
            raise ValueError(f"weight must be (P, V, D) and bias (P, V), got {tuple(weight.shape)}, {tuple(bias.shape)}")
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.n_features = weight.shape[2]

    def votes(self, x: torch.Tensor) -> torch.Tensor:
        p, v, d = self.weight.shape
        return (self._flat(x) @ self.weight.reshape(p * v, d).T).reshape(-1, p, v) + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ovr_scores(self.votes(x))

    def _counts_tiebreak(self, x):
        return _ovr_counts_tiebreak(self.votes(x))


class VoteMLP(_VoteModule):
    """One-hidden-layer sigmoid networks, one per (class problem, vote).

    ``W1`` (P, V, D, H), ``b1`` (P, V, H), ``W2`` (P, V, H, O), ``b2`` (P, V, O).
    One-vs-all (``softmax=False``): O = 1, ``votes(x)`` -> logits (N, P, V) and
    ``forward`` as in :class:`VoteLinear`. Softmax (MLP400): P = 1, O = K,
    ``votes(x)`` -> logits (N, V, K) and ``forward`` = the votes' mean
    log-softmax (for one vote: the log-probabilities, whose softmax is the net's).
    """

    def __init__(self, W1, b1, W2, b2, n_classes: int, softmax: bool = False):
        super().__init__(n_classes)
        for name, t in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
            self.register_buffer(name, torch.as_tensor(t))
        p, v, d, h = self.W1.shape
        o = 1 if not softmax else int(n_classes)
        if self.b1.shape != (p, v, h) or self.W2.shape != (p, v, h, o) or self.b2.shape != (p, v, o):
            raise ValueError("W1, b1, W2, b2 must have shapes (P, V, D, H), (P, V, H), (P, V, H, O), (P, V, O)")
        self.softmax = bool(softmax)
        self.n_features = d

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations (N, P, V, H)."""
        p, v, d, h = self.W1.shape
        pre = self._flat(x) @ self.W1.permute(2, 0, 1, 3).reshape(d, p * v * h)
        return torch.sigmoid(pre.reshape(-1, p, v, h) + self.b1)

    def votes(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("npvh,pvho->npvo", self.hidden(x), self.W2) + self.b2
        return out[:, 0] if self.softmax else out[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.softmax:
            return self.votes(x).log_softmax(-1).mean(1)
        return _ovr_scores(self.votes(x))

    def _counts_tiebreak(self, x):
        if not self.softmax:
            return _ovr_counts_tiebreak(self.votes(x))
        logits = self.votes(x)  # (N, V, K)
        counts = nn.functional.one_hot(logits.argmax(-1), self.n_classes).sum(1).to(logits.dtype)
        logp = logits.log_softmax(-1).mean(1)
        if self.n_classes == 2:  # antisymmetric, so the two confidences sum to V + 1
            t = (logits[..., 1] - logits[..., 0]).mean(1)
            logp = torch.stack([-t, t], 1)
        return counts, logp


def _ovr_scores(votes: torch.Tensor) -> torch.Tensor:
    mean = votes.mean(2)
    return torch.cat([torch.zeros_like(mean), mean], 1) if mean.shape[1] == 1 else mean


def _ovr_counts_tiebreak(votes: torch.Tensor):
    counts = (votes > 0).sum(2).to(votes.dtype)  # (N, P)
    mean = votes.mean(2)
    if votes.shape[1] == 1:  # binary: votes for class 1, the rest for class 0
        counts = torch.cat([votes.shape[2] - counts, counts], 1)
        mean = torch.cat([-mean, mean], 1)
    return counts, mean


# ------------------------------------------------------ scikit-learn base
class VoteClassifierBase(ClassifierMixin, BaseEstimator):
    """scikit-learn plumbing shared by the vote-ensemble estimators.

    Subclasses implement ``fit`` (using ``_validate_fit_data``, ``_seed`` and
    ``_rows_of_vote``) and ``as_module(device=None, dtype=torch.float32)``.
    X may be a numpy array or a torch tensor of any shape (N, ...); it is
    flattened to (N, D). NaN or inf raise a ValueError.
    """

    # parameters every subclass has: n_votes, bootstrap, random_state, device, verbose

    def _check_common_params(self):
        if isinstance(self.n_votes, bool) or not isinstance(self.n_votes, numbers.Integral) or self.n_votes < 1:
            raise ValueError(f"n_votes must be an integer >= 1, got {self.n_votes!r}")
        resolve_device(self.device)

    @staticmethod
    def _as_numpy(a):
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        if isinstance(a, np.ndarray) and a.ndim > 2:
            a = a.reshape(a.shape[0], -1)
        return a

    def _validate_X(self, X, reset: bool = False) -> np.ndarray:
        X = validate_data(self, self._as_numpy(X), reset=reset, dtype=(np.float64, np.float32))
        return X

    def _validate_fit_data(self, X, y):
        """-> X (N, D) float, class indices (N,); sets ``classes_``; checks labels."""
        self._check_common_params()
        X, y = validate_data(self, self._as_numpy(X), self._as_numpy(y), dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has only one class ({self.classes_[0]!r}); need at least two classes")
        return X, y_idx

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _rows_of_vote(self, y_idx: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        """All rows for a single vote (the paper's single run), else a stratified bootstrap."""
        if self.n_votes == 1 or not self.bootstrap:
            return np.arange(len(y_idx))
        return stratified_bootstrap(y_idx, rng)

    @property
    def _problems(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    # -- prediction ---------------------------------------------------------
    def _per_row(self, X, method: str) -> np.ndarray:
        """``module.<method>`` on X in float64, in chunks, as numpy (N, K)."""
        check_is_fitted(self)
        X = self._validate_X(X)
        module = self.as_module(dtype=torch.float64)
        device = next(module.buffers()).device
        out = []
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                xb = torch.from_numpy(np.array(X[start:start + _PREDICT_CHUNK], dtype=np.float64))
                out.append(getattr(module, method)(xb.to(device)).cpu())
        if not out:
            return np.zeros((0, len(self.classes_)))
        return torch.cat(out).numpy()

    def _confidence(self, X) -> np.ndarray:
        return self._per_row(X, "confidence")

    def vote_fractions(self, X) -> np.ndarray:
        """Plain fractions of votes: for class 1 (binary, shape (N,)) or for each
        class (shape (N, k); one-vs-all fractions need not sum to one)."""
        f = self._per_row(X, "counts") / self.n_votes
        return f[:, 1] if f.shape[1] == 2 else f

    def decision_function(self, X) -> np.ndarray:
        """Per-class ``conf / (V + 1)``; binary: ``(conf_1 - conf_0) / (V + 1)`` (N,)."""
        conf = self._confidence(X) / (self.n_votes + 1)
        return conf[:, 1] - conf[:, 0] if conf.shape[1] == 2 else conf

    def predict_proba(self, X) -> np.ndarray:
        """Vote fractions with the tie-break as at most one extra vote; rows sum to 1."""
        conf = self._confidence(X)
        return conf / conf.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The class with the most votes (ties: the larger mean decision value)."""
        conf = self._confidence(X)
        return self.classes_[conf.argmax(1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
