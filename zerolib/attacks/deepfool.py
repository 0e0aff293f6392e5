"""DeepFool (Moosavi-Dezfooli et al. 2016), batched over images.

Each step linearises, at the current base point ``x + r``, the score
differences between the label ``y`` and ``candidates - 1`` other classes (the
highest-scoring ones on the clean input, as cleverhans' ``nb_candidate``),
moves to the nearest linearised boundary, and accumulates the moves in ``r``,
projected after each step so that ``x + r`` stays in [0, 1] (ART's
projection; cleverhans clips only the point it evaluates). The returned
point is ``clip(x + (1 + overshoot) * r, 0, 1)``: the overshoot scales the
whole accumulated perturbation, as in the paper, its reference code,
cleverhans and ART (torchattacks scales only each step). A row stops as soon
as that overshot point is no longer classified as ``y``; rows already
misclassified on the clean input are returned unchanged. Each step's
distance gets 1e-5 added to ``|f_k|`` (cleverhans), so a step ends just past
its linearised boundary rather than on it.

Why the steps linearise at ``x + r`` and not at the overshot point: with the
[0, 1] box a step loses the part of it that points out of the box (on MNIST
often half or more), so ``x + r`` approaches the boundary geometrically
rather than in one step. Linearised at ``x + r``, the base point converges
onto the boundary and the overshot point, ``overshoot * ||r||`` further on,
crosses it. Linearised at the overshot point itself (this module before
the fix), it is the overshot point that converges onto the boundary, from
the inside, and never crosses: on a small MNIST DenseNet that left 66 %
accuracy after 10 steps where ART's DeepFool leaves 30 %
(``benchmarks/deepfool_lbfgs_art.py``).

All images still being attacked share each step: a forward pass at the base
points, ``candidates - 1`` backward passes (one per candidate, for the whole
batch) and a forward pass without gradients at the returned points.
Untargeted only, with the loss adapter's scores (logits; minus codeword
distances for the codebook head). Defaults as cleverhans (paper B): 10
candidates, overshoot 0.02, 50 steps; paper B varies the step limit
(10, 20, 30, 40). A row's iterate after m steps does not depend on the step
limit, so one run records every limit of such a grid: ``record_at=(10, 20, 30)``
keeps the batch after those steps in ``atk.recorded`` (a dict, on x's device).
"""

from __future__ import annotations

import torch

from .base import Attack, check_int, check_nonneg

__all__ = ["DeepFool"]


class DeepFool(Attack):
    norm = None
    targeted_modes = (False,)

    #: added to |f_k| so a step ends just past the linearised boundary, not on it
    PERT_EPS = 1e-5

    def __init__(
        self, model, steps: int = 50, overshoot: float = 0.02, candidates: int = 10, *, loss=None,
        targeted: bool = False, record_at=(),
    ):
        super().__init__(model, loss=loss, targeted=targeted)
        self.steps = check_int("steps", steps, 1)
        self.overshoot = check_nonneg("overshoot", overshoot)
        self.candidates = check_int("candidates", candidates, 2)
        self.record_at = tuple(check_int("record_at", m, 1) for m in record_at)
        if any(m > self.steps for m in self.record_at):
            raise ValueError(f"record_at {self.record_at} goes past steps={self.steps}")
        self.recorded: dict[int, torch.Tensor] = {}

    def __call__(self, x, y=None):
        self.recorded = {}
        adv = super().__call__(x, y)
        self.recorded = {m: a.clamp(0, 1).to(device=adv.device, dtype=adv.dtype) for m, a in self.recorded.items()}
        return adv

    def perturb(self, x, y):
        with torch.no_grad():
            out = self.forward(x)
            scores = self.loss.scores(out)
            k = min(self.candidates, scores.shape[1])
            others = scores.scatter(1, y[:, None], float("-inf")).topk(k - 1, dim=1).indices
            cand = torch.cat([y[:, None], others], 1)  # (N, k), the label first
            active = torch.nonzero(self.loss.predict(out) == y).squeeze(1)
        r = torch.zeros_like(x)  # the accumulated move; x + r (in [0, 1]) is where each step linearises
        adv = x.clone()  # clip(x + (1 + overshoot) r): what is checked, recorded and returned
        for done in range(self.steps):
            if done in self.record_at:
                self.recorded[done] = adv.detach().clone()
            if active.numel() == 0:
                break
            xa = (x[active] + r[active]).clamp(0, 1).requires_grad_(True)
            out = self.forward(xa)
            s = self.loss.scores(out).gather(1, cand[active])  # (n, k)
            diff = s[:, 1:] - s[:, :1]  # f_k - f_label, (n, k - 1)
            grads = []
            for j in range(k - 1):
                (g,) = torch.autograd.grad(diff[:, j].sum(), xa, retain_graph=j < k - 2)
                grads.append(g)
            with torch.no_grad():
                wk = torch.stack(grads, 1).flatten(2)  # (n, k - 1, D)
                wnorm = wk.norm(dim=2)
                pert = (diff.detach().abs() + self.PERT_EPS) / wnorm.clamp_min(1e-12)
                pert = torch.where(wnorm > 0, pert, torch.full_like(pert, float("inf")))
                best = pert.argmin(1)
                rows = torch.arange(len(best), device=x.device)
                p, w, wn = pert[rows, best], wk[rows, best], wnorm[rows, best]
                go = torch.isfinite(p)  # rows with no finite step cannot move: drop them
                step = p[go, None] * w[go] / wn[go, None]
                idx = active[go]
                r[idx] = (x[idx] + r[idx] + step.view(-1, *x.shape[1:])).clamp(0, 1) - x[idx]
                adv[idx] = (x[idx] + (1 + self.overshoot) * r[idx]).clamp(0, 1)
                if idx.numel():  # keep the rows whose returned point is still classified as y
                    idx = idx[self.loss.predict(self.forward(adv[idx])) == y[idx]]
                active = idx
        for m in self.record_at:  # limits the rows all reached before (or at) the end
            self.recorded.setdefault(m, adv.detach().clone())
        return adv
