"""Fast gradient sign method (Goodfellow et al. 2015)."""

from __future__ import annotations

import torch

from .base import Attack, check_nonneg


class FGSM(Attack):
    """One step ``x' = clip(x + eps * sign(grad), 0, 1)``.

    ``grad`` is the gradient of the model's loss (the ``loss`` adapter; cross-
    entropy on logits by default) w.r.t. the input: for the label's loss,
    ascended (untargeted), or for the target's loss, descended (``targeted=True``).
    Paper A's white-box attack on its MLP, and paper B's FGSM (cleverhans
    default eps 0.3).
    """

    norm = "Linf"

    def __init__(self, model, eps: float = 0.3, *, loss=None, targeted: bool = False):
        super().__init__(model, loss=loss, targeted=targeted)
        self.eps = check_nonneg("eps", eps)

    def perturb(self, x, y):
        if self.eps == 0:
            return x
        return torch.add(x, self.loss_grad(x, y).sign_(), alpha=self.eps).clamp_(0, 1)
