"""Iterative Linf attacks: BIM (I-FGSM), MIM (momentum) and PGD (Madry et al.).

All three take ``steps`` signed-gradient steps of size ``alpha`` and project
after each onto the Linf ball of radius ``eps`` around ``x`` and onto [0, 1].
Defaults are cleverhans' (paper B's Table 2): BIM alpha 0.05, 10 steps; MIM
alpha 0.06, 10 steps, decay 1.0; PGD alpha 0.01, 40 steps, random start.
"""

from __future__ import annotations

import torch

from .base import Attack, check_int, check_nonneg

__all__ = ["BIM", "IFGSM", "MIM", "PGD"]


class _LinfIterative(Attack):
    norm = "Linf"

    def __init__(self, model, eps, alpha, steps, *, loss=None, targeted=False):
        super().__init__(model, loss=loss, targeted=targeted)
        self.eps = check_nonneg("eps", eps)
        self.alpha = check_nonneg("alpha", alpha)
        self.steps = check_int("steps", steps, 1)

    def start(self, x):
        return x

    def direction(self, grad, state):
        """The step direction from the loss gradient (which it may overwrite);
        ``state`` is per-call memory."""
        return grad.sign_()

    def perturb(self, x, y):
        if self.eps == 0:
            return x
        # the eps-ball intersected with [0, 1], computed once: projecting is one clamp
        lo, hi = (x - self.eps).clamp_(min=0), (x + self.eps).clamp_(max=1)
        adv = self.start(x)
        state = {}
        for _ in range(self.steps):
            step = self.direction(self.loss_grad(adv, y), state)
            adv = torch.add(adv, step, alpha=self.alpha).clamp_(lo, hi)
        return adv


class BIM(_LinfIterative):
    """Basic iterative method (Kurakin et al.), a.k.a. I-FGSM: FGSM steps of
    size ``alpha`` from ``x``, projected after each step."""

    def __init__(self, model, eps: float = 0.3, alpha: float = 0.05, steps: int = 10, *, loss=None, targeted=False):
        super().__init__(model, eps, alpha, steps, loss=loss, targeted=targeted)


IFGSM = BIM


class MIM(_LinfIterative):
    """Momentum iterative method (Dong et al. 2018): ``g <- decay * g +
    grad / mean(|grad|)`` per example, step ``alpha * sign(g)``. A zero gradient
    is divided by 1e-12 instead of 0 (as cleverhans; torchattacks gives NaN)."""

    def __init__(
        self, model, eps: float = 0.3, alpha: float = 0.06, steps: int = 10, decay: float = 1.0,
        *, loss=None, targeted=False,
    ):
        super().__init__(model, eps, alpha, steps, loss=loss, targeted=targeted)
        self.decay = check_nonneg("decay", decay)

    def direction(self, grad, state):
        l1 = grad.abs().flatten(1).mean(1).clamp_min(1e-12).view(-1, *[1] * (grad.ndim - 1))
        g = grad / l1
        if "momentum" in state:
            g = g + self.decay * state["momentum"]
        state["momentum"] = g
        return g.sign()


class PGD(_LinfIterative):
    """Projected gradient descent (Madry et al. 2018): BIM from a uniform
    random start in the eps-ball (``random_start=True``).

    The start is drawn on the CPU from ``torch.Generator().manual_seed(seed)``
    for the whole batch, then moved to the model's device: the same seed and
    batch give the same result on any device, but a row attacked alone draws
    a different start than inside a batch. With ``random_start=False`` PGD is
    BIM with PGD's defaults and rows are independent.
    """

    def __init__(
        self, model, eps: float = 0.3, alpha: float = 0.01, steps: int = 40, random_start: bool = True,
        *, loss=None, targeted=False, seed: int = 0,
    ):
        super().__init__(model, eps, alpha, steps, loss=loss, targeted=targeted)
        self.random_start = bool(random_start)
        self.seed = check_int("seed", seed, 0)
        self.deterministic = not self.random_start

    def start(self, x):
        if not self.random_start:
            return x
        gen = torch.Generator().manual_seed(self.seed)
        noise = torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)
        return (x + (2 * noise - 1) * self.eps).clamp(0, 1)
