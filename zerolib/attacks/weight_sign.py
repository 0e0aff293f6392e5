"""Paper A's white-box attacks on binary (labels 0/1) models, from their weights.

Weights are in the input's own (flattened) feature order: the attacks flatten
``x`` (N, ...) to (N, D), perturb, and give back ``x``'s shape.

- :class:`SignAttack` -- linear models (SVM, SCD01):
  ``x' = clip(x - eps * sign(w) * (2y - 1), 0, 1)``.
- :class:`MLP01HiddenNodeAttack` -- the one-hidden-layer sign network MLP01:
  push ``x`` across one hidden node's hyperplane at a time.
- The MLP's attack is plain :class:`~zerolib.attacks.FGSM` on its loss.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Attack, check_int, check_nonneg

__all__ = ["SignAttack", "MLP01HiddenNodeAttack"]


def _tensor(a, name) -> torch.Tensor:
    if isinstance(a, np.ndarray):
        a = torch.from_numpy(a)
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"{name} must be a tensor or numpy array, got {type(a).__name__}")
    if not a.is_floating_point():
        a = a.double()
    if not bool(torch.isfinite(a).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return a.detach()


class _WeightAttack(Attack):
    """Attacks defined by weights rather than by a differentiable model."""

    norm = "Linf"

    def __init__(self, eps, targeted):
        super().__init__(None, targeted=targeted)
        self.eps = check_nonneg("eps", eps)

    def n_classes(self):
        return 2

    def _device_dtype(self, x):
        return self._weights_device, x.dtype

    def default_labels(self, x):
        raise ValueError(f"{type(self).__name__} needs the labels y")

    def _check_features(self, x):
        if x[0].numel() != self.n_features:
            raise ValueError(f"x has {x[0].numel()} features per row, the weights {self.n_features}")

    def _direction_sign(self, y):
        """+1 where the attack should push a row towards class 1, -1 towards class 0."""
        s = 2 * y - 1  # untargeted: move away from y
        return s if self.targeted else -s


class SignAttack(_WeightAttack):
    """Paper A's attack on linear models: ``x' = clip(x - eps * sign(w) * (2y - 1), 0, 1)``.

    It lowers ``w.x`` for label 1 and raises it for label 0, by ``eps`` per
    feature -- the optimal Linf move against a linear model. With
    ``targeted=True``, ``y`` is the class to move towards.

    Args:
        weights: ``w`` as a tensor or array of shape (D,), (1, D), (V, D) for
            V votes, or (1, V, D), or a fitted binary model exposing ``coef_``
            of such a shape: scikit-learn's ``LinearSVC`` (1, D), or
            ``zerolib.SCD01Classifier`` and the convex SVM, whose ``coef_`` is
            (P, V, D) with P = 1 problem for two classes.
        eps: the Linf distortion (paper A: 0.3 MNIST, 0.0625 CIFAR10).
        combine: how V > 1 votes' weights become one direction:
            ``"mean_w"`` (default) -- the sign of the votes' mean weight vector,
            the direction of the vote-averaged linear model; ``"mean_sign"`` --
            the sign of the mean of the votes' signs (a per-feature majority of
            the votes; a tie gives 0, that feature is not moved). Paper A
            attacks single runs; the two coincide for one vote.
    """

    def __init__(self, weights, eps: float = 0.3, *, combine: str = "mean_w", targeted: bool = False):
        super().__init__(eps, targeted)
        if combine not in ("mean_w", "mean_sign"):
            raise ValueError(f"combine must be 'mean_w' or 'mean_sign', got {combine!r}")
        self.combine = combine
        if hasattr(weights, "coef_") and not isinstance(weights, (torch.Tensor, np.ndarray)):
            weights = weights.coef_
        w = _tensor(weights, "weights")
        if w.ndim == 0 or w.ndim > 3 or w.shape[-1] < 1:
            raise ValueError(f"weights must have shape (D,), (V, D) or (1, V, D), got {tuple(w.shape)}")
        if w.ndim == 3 and w.shape[0] != 1:
            raise ValueError(
                f"SignAttack is for binary models: weights (P, V, D) must have P = 1 problem, got P = {w.shape[0]}"
            )
        w = w.reshape(-1, w.shape[-1])
        self.sign = (w.mean(0) if combine == "mean_w" else w.sign().mean(0)).sign()
        self.n_features = self.sign.numel()
        self._weights_device = w.device

    def perturb(self, x, y):
        self._check_features(x)
        flat = x.flatten(1)
        sign = self.sign.to(device=x.device, dtype=x.dtype)
        d = self._direction_sign(y).to(x.dtype)[:, None]
        return (flat + self.eps * d * sign).clamp(0, 1).view(x.shape)


class MLP01HiddenNodeAttack(_WeightAttack):
    """Paper A's heuristic white-box attack on MLP01 (binary, sign activations).

    For hidden node k with weights ``W1[:, k]`` and bias ``b1[k]``, let
    ``h_k = 1`` if ``x . W1[:, k] + b1[k] > 0`` else 0, and
    ``x'_k = clip(x - eps * sign(W1[:, k]) * (2 h_k - 1), 0, 1)``, which pushes
    x across that node's hyperplane. The nodes are tried in a random order
    (one permutation per row, from ``torch.Generator().manual_seed(seed)`` on
    the CPU); the first ``x'_k`` that the model misclassifies is returned.
    A row for which none does, or that the model already misclassifies, gets
    a randomly chosen node's ``x'_k`` (the first of its order).

    "Misclassifies" means ``predict_fn(x'_k) != y`` for the given labels, or,
    with ``y=None``, differs from the prediction on ``x``. With
    ``targeted=True`` the search accepts the first ``x'_k`` predicted as ``y``.

    Args:
        W1: hidden weights (D, H), in the input's feature order; for V votes
            (V, D, H) or (1, V, D, H) -- then every hidden node of every vote is
            a candidate (the candidates are the V * H columns), which suits an
            ensemble whose ``predict_fn`` is the majority vote.
        b1: hidden biases (H,), (V, H) or (1, V, H).
        predict_fn: maps a float batch (N, ...) in [0, 1] on the weights'
            device to labels (N,) in {0, 1} (a tensor or numpy array), e.g. a
            fitted MLP01's ``predict`` or ``lambda x: module(x).argmax(1)``.
        eps: the Linf distortion.
        seed: seed of the node order.
    """

    deterministic = False  # the node order depends on the row's position

    def __init__(self, W1, b1, predict_fn, eps: float = 0.3, seed: int = 0, *, targeted: bool = False):
        super().__init__(eps, targeted)
        if not callable(predict_fn):
            raise TypeError("predict_fn must be callable")
        W1, b1 = _tensor(W1, "W1"), _tensor(b1, "b1")
        if W1.ndim == 4:  # (P, V, D, H), the layout of zerolib's MLP01Classifier
            if W1.shape[0] != 1:
                raise ValueError(f"the attack is for binary models: W1 (P, V, D, H) needs P = 1, got {W1.shape[0]}")
            W1 = W1[0]
        if W1.ndim == 3:  # (V, D, H) -> (D, V * H)
            v, d, h = W1.shape
            W1 = W1.permute(1, 0, 2).reshape(d, v * h)
        if W1.ndim != 2:
            raise ValueError(f"W1 must have shape (D, H) or (V, D, H), got {tuple(W1.shape)}")
        b1 = b1.reshape(-1)
        if b1.numel() != W1.shape[1]:
            raise ValueError(f"b1 must have one bias per hidden node ({W1.shape[1]}), got {b1.numel()}")
        self.W1, self.b1 = W1, b1
        self.predict_fn = predict_fn
        self.seed = check_int("seed", seed, 0)
        self.n_features, self.n_hidden = W1.shape
        self._weights_device = W1.device

    @classmethod
    def from_estimator(cls, estimator, eps: float = 0.3, seed: int = 0, *, targeted: bool = False):
        """The attack on a fitted binary ``zerolib.MLP01Classifier``: its
        ``hidden_coef_`` (1, V, D, H) and ``hidden_intercept_`` (1, V, H), and
        its ``as_module().predict`` (class indices 0/1, i.e. positions in
        ``classes_``, so ``y`` must be given as such indices)."""
        for attr in ("hidden_coef_", "hidden_intercept_", "as_module"):
            if not hasattr(estimator, attr):
                raise TypeError(f"estimator has no {attr}: expected a fitted MLP01Classifier")
        module = estimator.as_module()
        return cls(estimator.hidden_coef_, estimator.hidden_intercept_, module.predict, eps, seed, targeted=targeted)

    def default_labels(self, x):
        return self._predict(x)

    def _predict(self, x):
        p = self.predict_fn(x)
        p = torch.as_tensor(np.asarray(p) if not isinstance(p, torch.Tensor) else p)
        return p.to(x.device).long().reshape(-1)

    def perturb(self, x, y):
        self._check_features(x)
        n = x.shape[0]
        flat = x.flatten(1)
        W1 = self.W1.to(device=x.device, dtype=x.dtype)
        b1 = self.b1.to(device=x.device, dtype=x.dtype)
        h = (flat @ W1 + b1 > 0).to(x.dtype)  # (N, H)
        gen = torch.Generator().manual_seed(self.seed)
        order = torch.rand(n, self.n_hidden, generator=gen).argsort(1).to(x.device)
        sign = W1.sign().T  # (H, D)
        rows = torch.arange(n, device=x.device)

        def candidate(idx, node):
            return (flat[idx] - self.eps * sign[node] * (2 * h[idx, node] - 1)[:, None]).clamp(0, 1)

        def reached(pred, idx):
            return pred == y[idx] if self.targeted else pred != y[idx]

        out = candidate(rows, order[:, 0])  # the fallback: a random node
        pending = rows
        if not self.targeted:  # rows already misclassified keep the fallback
            pending = rows[self._predict(x) == y]
        for j in range(self.n_hidden):
            if pending.numel() == 0:
                break
            cand = candidate(pending, order[pending, j])
            hit = reached(self._predict(cand.view(-1, *x.shape[1:])), pending)
            out[pending[hit]] = cand[hit]
            pending = pending[~hit]
        return out.view(x.shape)
