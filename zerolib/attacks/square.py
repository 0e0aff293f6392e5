"""The Square attack (Andriushchenko, Croce, Flammarion and Hein 2020), Linf and L2.

A score-based black-box attack: it queries only the model's per-class scores, never a
gradient, so it is the gradient-free second opinion on every model that gives scores
(the 01-loss ensembles' vote fractions count). Each iteration changes one random square
window of the perturbation and keeps the change where it lowers the margin loss
``s_y - max_{j != y} s_j`` (targeted: ``max_{j != t} s_j - s_t``); a row stops once the
margin is negative (the real model then misclassifies it). The window's area is a
fraction ``p`` of the image that halves on the paper's schedule.

- Linf: the start is vertical stripes of ``+-eps`` per column and channel; a window is
  set to ``+-eps`` per channel.
- L2: the start is a grid of the paper's "meta pseudo-Gaussian" patches with random
  signs, scaled to norm ``eps``; a step moves the mass of a second window into the
  first, with a new patch, keeping the norm at ``eps``.

Batched over images as in the paper's code: each iteration draws one window position for
the batch and new signs per row and channel, from one CPU generator seeded ``seed`` (a
batch is reproducible; a row attacked alone draws differently).
Inputs must be images (N, C, H, W). ``atk.queries`` holds the queries used per row
after a call.

Scores: a :class:`~zerolib.models.votes.VoteModule` (``as_module()`` of every zerolib
estimator) gives its majority-vote confidence (vote counts plus the tie-break);
another ``nn.Module`` gives ``loss.scores(model(x))`` of its loss adapter; or pass
``scores=`` (a callable on a batch).
"""

from __future__ import annotations

import math

import torch

from .base import Attack, attack_margin, check_int, check_nonneg, check_positive

__all__ = ["Square"]


def _p_schedule(p_init: float, it: int, n_iters: int) -> float:
    """The paper's piecewise-constant window fraction, on a 10000-iteration clock."""
    it = int(it / n_iters * 10000)
    for bound, div in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
                       (8000, 256)):
        if it <= bound:
            return p_init / div
    return p_init / 512


def _pseudo_gaussian(h: int, w: int) -> torch.Tensor:
    """Nested rectangles with weights ``1 / (k + 1)^2`` around the centre, unit L2 norm."""
    delta = torch.zeros(h, w, dtype=torch.float64)
    ch, cw = h // 2 + 1, w // 2 + 1
    top, left = ch - 1, cw - 1
    for k in range(max(ch, cw)):
        delta[max(top, 0):min(top + 2 * k + 1, h), max(left, 0):min(left + 2 * k + 1, w)] += 1.0 / (k + 1) ** 2
        top, left = top - 1, left - 1
    return delta / delta.norm()


def _meta_pseudo_gaussian(s: int, gen: torch.Generator) -> torch.Tensor:
    """Two opposite pseudo-Gaussian halves, unit L2 norm, transposed half of the time."""
    delta = torch.zeros(s, s, dtype=torch.float64)
    delta[: s // 2] = _pseudo_gaussian(s // 2, s)
    delta[s // 2:] = -_pseudo_gaussian(s - s // 2, s)
    delta = delta / delta.norm()
    return delta.T.contiguous() if float(torch.rand(1, generator=gen)) > 0.5 else delta


class Square(Attack):
    """Square attack: ``x_adv = Square(model, eps=0.3, norm="Linf", n_queries=1000)(x, y)``.

    Args:
        model: an ``nn.Module`` (a zerolib estimator's ``as_module()`` included).
        eps: the budget in ``norm``; ``n_queries``: score queries per row (the start counts one).
        p_init: the first window's fraction of the image (the paper: 0.05 Linf, 0.1 L2).
        scores: optional callable ``x -> (N, K)`` scores, replacing the default.
        seed: the CPU generator's seed.
    """

    deterministic = False

    def __init__(self, model, eps: float = 0.3, *, norm: str = "Linf", n_queries: int = 1000,
                 p_init: float | None = None, scores=None, loss=None, targeted: bool = False, seed: int = 0):
        super().__init__(model, loss=loss, targeted=targeted)
        if norm not in ("Linf", "L2"):
            raise ValueError(f"norm must be 'Linf' or 'L2', got {norm!r}")
        self.norm = norm
        self.eps = check_nonneg("eps", eps)
        self.n_queries = check_int("n_queries", n_queries, 1)
        self.p_init = check_positive("p_init", (0.05 if norm == "Linf" else 0.1) if p_init is None else p_init)
        if self.p_init > 1:
            raise ValueError(f"p_init must be <= 1, got {self.p_init}")
        if scores is not None and not callable(scores):
            raise TypeError("scores must be callable")
        self._scores = scores
        self.seed = check_int("seed", seed, 0)
        self.queries = None

    def n_classes(self):
        return getattr(self.model, "n_classes", None)

    def default_labels(self, x):
        return self.scores(x).argmax(1)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Per-class scores (N, K), larger = more likely."""
        with torch.no_grad():
            if self._scores is not None:
                return torch.as_tensor(self._scores(x))
            if callable(getattr(self.model, "confidence", None)):
                return self.model.confidence(x)
            return self.loss.scores(self.forward(x))

    def perturb(self, x, y):
        if x.ndim != 4:
            raise ValueError(f"Square needs image batches (N, C, H, W), got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        gen = torch.Generator().manual_seed(self.seed)
        self.queries = torch.zeros(n, dtype=torch.long)
        margin = attack_margin(self.scores(x), y, self.targeted)
        best = x.clone()
        if self.eps == 0:
            return best
        start = self._init(x, gen)
        m = attack_margin(self.scores(start), y, self.targeted)
        self.queries += 1
        better = m < margin
        best[better], margin[better] = start[better], m[better]
        step = self._linf_step if self.norm == "Linf" else self._l2_step
        for it in range(self.n_queries - 1):
            rows = torch.nonzero(margin >= 0).flatten()
            if rows.numel() == 0:
                break
            p = _p_schedule(self.p_init, it, self.n_queries)
            cand = step(x[rows], best[rows], p, gen)
            m = attack_margin(self.scores(cand), y[rows], self.targeted)
            self.queries[rows.cpu()] += 1
            better = m < margin[rows]
            best[rows[better]], margin[rows[better]] = cand[better], m[better]
        return best

    def _signs(self, shape, gen, like) -> torch.Tensor:
        return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(device=like.device, dtype=like.dtype)

    def _window(self, p: float, h: int, w: int, smallest: int = 1) -> int:
        """The window's side: ``sqrt(p * H * W)`` rounded, at least ``smallest``, at most ``H - 1``."""
        s = int(round(math.sqrt(p * h * w)))
        return max(min(s, max(min(h, w) - 1, 1)), smallest)

    @staticmethod
    def _corner(s: int, h: int, w: int, gen) -> tuple[int, int]:
        return int(torch.randint(0, h - s + 1, (1,), generator=gen)), int(torch.randint(0, w - s + 1, (1,), generator=gen))

    # -- the start ----------------------------------------------------------------------------
    def _init(self, x, gen):
        n, c, h, w = x.shape
        if self.norm == "Linf":
            return (x + self.eps * self._signs((n, c, 1, w), gen, x)).clamp(0, 1)
        delta = torch.zeros(x.shape, dtype=torch.float64)
        s = max(h // 5, 1)
        off_h, off_w = (h - s * (h // s)) // 2, (w - s * (w // s)) // 2
        for i in range(h // s):
            for j in range(w // s):
                patch = _meta_pseudo_gaussian(s, gen) if s > 1 else torch.ones(1, 1, dtype=torch.float64)
                sign = torch.randint(0, 2, (n, c, 1, 1), generator=gen).double() * 2 - 1
                delta[:, :, off_h + i * s: off_h + (i + 1) * s, off_w + j * s: off_w + (j + 1) * s] += patch * sign
        delta = delta / delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1) * self.eps
        return (x + delta.to(device=x.device, dtype=x.dtype)).clamp(0, 1)

    # -- Linf: one window per iteration, a new sign per row and channel in it -------------------
    def _linf_step(self, x, best, p, gen):
        n, c, h, w = x.shape
        s = self._window(p, h, w)
        a, b = self._corner(s, h, w, gen)
        win = (slice(None), slice(None), slice(a, a + s), slice(b, b + s))
        delta = best - x
        new = self.eps * self._signs((n, c, 1, 1), gen, x)
        for _ in range(10):  # redraw where the new signs would change nothing (the paper's rule)
            same = ((x[win] + new).clamp(0, 1) - best[win]).abs().flatten(1).amax(1) <= 1e-7
            if not same.any():
                break
            new[same] = self.eps * self._signs((int(same.sum()), c, 1, 1), gen, x)
        delta[win] = new
        return (x + delta).clamp(0, 1)

    # -- L2: move the mass of a second window into the first, with a new patch ------------------
    def _l2_step(self, x, best, p, gen):
        n, c, h, w = x.shape
        s = self._window(p, h, w, smallest=min(3, h, w))
        if s % 2 == 0 and s < min(h, w):
            s += 1
        delta = best - x
        a1, b1 = self._corner(s, h, w, gen)
        a2, b2 = self._corner(s, h, w, gen)
        win1 = (slice(None), slice(None), slice(a1, a1 + s), slice(b1, b1 + s))
        win2 = (slice(None), slice(None), slice(a2, a2 + s), slice(b2, b2 + s))
        mask = torch.zeros_like(delta)
        mask[win1], mask[win2] = 1.0, 1.0
        mass = (delta * mask).pow(2).sum((2, 3), keepdim=True)  # (N, C, 1, 1): both windows, per channel
        norm_image = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        old = delta[win1] / (delta[win1].pow(2).sum((2, 3), keepdim=True).sqrt() + 1e-10)
        patch = _meta_pseudo_gaussian(s, gen).to(device=x.device, dtype=x.dtype)
        new = patch * self._signs((n, c, 1, 1), gen, x) + old
        room = ((self.eps ** 2 - norm_image ** 2).clamp_min(0) / c + mass).sqrt()
        new = new / new.pow(2).sum((2, 3), keepdim=True).sqrt().clamp_min(1e-12) * room
        delta[win2] = 0.0
        delta[win1] = new
        size = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        return (x + delta / size * self.eps).clamp(0, 1)
