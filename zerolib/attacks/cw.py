"""Carlini & Wagner L2 attack, and paper B's codebook-aware variant.

Minimises, per example, ``||x' - x||_2^2 + c * f(x')`` over ``x' = (tanh(w) + 1) / 2``
(the box [0, 1] by a change of variables) with Adam, and binary-searches the
constant ``c`` per example (cleverhans' procedure and defaults: 5 search
steps, 1000 iterations, learning rate 5e-3, initial constant 1e-2, early
abort). ``f`` is the margin on the loss adapter's per-class scores ``s``:

- targeted:   ``f = max(max_{i != t} s_i - s_t, -kappa)``
- untargeted: ``f = max(s_y - max_{i != y} s_i, -kappa)``

The max over the other classes is taken after ``masked_fill(-inf)`` of the
label's entry -- not by multiplying by a 0/1 mask, which returns 0 as the
"max" whenever all other scores are negative (the fault in torchattacks' and
other ports).

For the softmax heads the scores are the logits, as in the original attack.
For the codebook head (:class:`~zerolib.losses.CodewordMSE`) they are minus the
Euclidean distances of tanh(z) to the codewords, so ``f`` becomes paper B's
modified margin ``max(D(z, c_t) - min_{i != t} D(z, c_i), -kappa)``: that is
:class:`CodebookCWL2`. The unmodified attack on a codebook model, as paper B
ran it, is ``CWL2(model, loss=CrossEntropy())``: its "scores" are then the raw
d outputs, read as if they were class logits.

Rows are independent: each has its own constant, bounds, Adam state, early
abort and best result, so a batch gives its rows' one-by-one results. Rows
the attack never succeeds on are returned unchanged.
"""

from __future__ import annotations

import torch

from zerolib.losses import Codebook, CodewordMSE
from .base import Attack, ConstSearch, check_int, check_nonneg, check_positive

__all__ = ["CWL2", "CodebookCWL2", "margin"]


def margin(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``s_label - max_{i != label} s_i`` per row (masked with -inf, never 0)."""
    own = scores.gather(1, labels[:, None]).squeeze(1)
    mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, labels[:, None], True)
    other = scores.masked_fill(mask, float("-inf")).amax(1)
    return own - other


def _atanh_box(x: torch.Tensor) -> torch.Tensor:
    return torch.atanh((2 * x - 1) * (1 - 1e-6))


def _from_w(w: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(w) + 1) / 2


class CWL2(Attack):
    """Carlini & Wagner L2 attack with a binary search over ``c`` per example.

    Args:
        initial_const: the starting ``c`` (paper B's grid: 0.01, 0.1, 1, 10).
        kappa: confidence; a success needs the score margin ``>= kappa``.
        steps: Adam iterations per binary-search step (cleverhans: 1000).
        binary_search_steps: search steps over ``c``: after a success ``c`` is
            bisected down, after a failure bisected up (or multiplied by 10 while
            no success is known).
        lr: Adam's learning rate.
        abort_early: stop a row's search step when its objective has not
            fallen by 0.01 % over the last ``steps // 10`` iterations.
    """

    norm = None

    def __init__(
        self, model, initial_const: float = 1e-2, kappa: float = 0.0, steps: int = 1000,
        binary_search_steps: int = 5, lr: float = 5e-3, abort_early: bool = True,
        *, loss=None, targeted: bool = False,
    ):
        super().__init__(model, loss=loss, targeted=targeted)
        self.initial_const = check_positive("initial_const", initial_const)
        self.kappa = check_nonneg("kappa", kappa)
        self.steps = check_int("steps", steps, 1)
        self.binary_search_steps = check_int("binary_search_steps", binary_search_steps, 1)
        self.lr = check_positive("lr", lr)
        self.abort_early = bool(abort_early)

    def objective_terms(self, adv, x, y):
        """(squared L2 distance, f, success) per row for the batch ``adv``."""
        l2 = (adv - x).pow(2).flatten(1).sum(1)
        out = self.forward(adv)
        m = margin(self.loss.scores(out), y)  # own-label margin
        pred = self.loss.predict(out)
        if self.targeted:
            f = (-m).clamp_min(-self.kappa)
            success = (m >= self.kappa) & (pred == y)
        else:
            f = m.clamp_min(-self.kappa)
            success = (-m >= self.kappa) & (pred != y)
        return l2, f, success

    def perturb(self, x, y):
        n = x.shape[0]
        dev, dt = x.device, x.dtype
        search = ConstSearch(n, self.initial_const, x)
        best_l2 = torch.full((n,), float("inf"), device=dev, dtype=dt)
        best_adv = x.clone()
        w0 = _atanh_box(x)
        b1, b2, adam_eps = 0.9, 0.999, 1e-8
        check_every = max(self.steps // 10, 1)

        for _ in range(self.binary_search_steps):
            found = torch.zeros(n, dtype=torch.bool, device=dev)
            # the rows still optimised, and their state, kept compact (rows that
            # abort early are dropped, so no step indexes the full batch)
            active = torch.arange(n, device=dev)
            w, xa, ya, ca = w0.clone(), x, y, search.const
            m1, m2 = torch.zeros_like(w), torch.zeros_like(w)
            best_l2_a, best_adv_a = best_l2.clone(), best_adv.clone()
            prev = torch.full((n,), float("inf"), device=dev, dtype=dt)
            for it in range(self.steps):
                w.requires_grad_(True)
                adv = _from_w(w)
                l2, f, success = self.objective_terms(adv, xa, ya)
                obj = l2 + ca * f
                (g,) = torch.autograd.grad(obj.sum(), w)
                with torch.no_grad():
                    w = w.detach()
                    # best result among the images evaluated (before this update)
                    better = success & (l2 < best_l2_a)
                    best_l2_a = torch.where(better, l2.detach(), best_l2_a)
                    best_adv_a = torch.where(better.view(-1, *[1] * (x.ndim - 1)), adv.detach(), best_adv_a)
                    found[active[success]] = True
                    # Adam, elementwise, so each row evolves on its own
                    t = it + 1
                    m1.mul_(b1).add_(g, alpha=1 - b1)
                    m2.mul_(b2).addcmul_(g, g, value=1 - b2)
                    w -= self.lr * (m1 / (1 - b1**t)) / ((m2 / (1 - b2**t)).sqrt() + adam_eps)
                    if self.abort_early and it % check_every == 0:
                        obj = obj.detach()
                        stalled = obj > prev * 0.9999
                        prev = obj
                        if bool(stalled.any()):
                            best_l2[active] = best_l2_a
                            best_adv[active] = best_adv_a
                            keep = ~stalled
                            active, w, m1, m2, prev = active[keep], w[keep], m1[keep], m2[keep], prev[keep]
                            xa, ya, ca = xa[keep], ya[keep], ca[keep]
                            best_l2_a, best_adv_a = best_l2_a[keep], best_adv_a[keep]
                            if active.numel() == 0:
                                break
            best_l2[active] = best_l2_a
            best_adv[active] = best_adv_a
            search.update(found)
        return best_adv


class CodebookCWL2(CWL2):
    """Paper B's CW-L2 tailored to the codebook model (R:TANH:MSE).

    The margin uses Euclidean distances of the model's tanh outputs to the
    codewords: ``f = max(D(z, c_t) - min_{i != t} D(z, c_i), -kappa)`` when
    targeted, ``max(min_{i != y} D(z, c_i) - D(z, c_y), -kappa)`` untargeted.
    This is :class:`CWL2` with ``loss=CodewordMSE(codebook)``.
    """

    def __init__(self, model, codebook: Codebook, initial_const: float = 1e-2, kappa: float = 0.0,
                 steps: int = 1000, binary_search_steps: int = 5, lr: float = 5e-3,
                 abort_early: bool = True, *, from_logits: bool = True, targeted: bool = False):
        super().__init__(
            model, initial_const=initial_const, kappa=kappa, steps=steps,
            binary_search_steps=binary_search_steps, lr=lr, abort_early=abort_early,
            loss=CodewordMSE(codebook, from_logits=from_logits), targeted=targeted,
        )
