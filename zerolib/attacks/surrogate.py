"""Adaptive white-box attacks on the 01-loss models through a differentiable stand-in (BPDA).

SCD01 and MLP01 (single runs and vote ensembles) are built from step units: a vote is
``[w.x + b > 0]``, an MLP01 hidden node ``[x.W1[:, k] + b1[k] > 0]``. Their gradient is
zero almost everywhere, so gradient attacks on the models themselves see nothing, and
paper A's own attacks (``sign(w)``, the hidden-node heuristic) are heuristics. The
standard answer (Athalye, Carlini and Wagner 2018, "Obfuscated gradients give a false
sense of security"; Tramer et al. 2020, "On adaptive attacks to adversarial example
defenses") is to differentiate through a smooth stand-in of the non-differentiable part
while every candidate is judged by the real model:

- :class:`SmoothVotes` replaces each step by a tempered sigmoid ``sigmoid(z / T)`` of the
  unit's *signed distance* ``z`` to its hyperplane (the pre-activation divided by the
  weight vector's L2 norm, so ``T`` is in input units for the first layer), and averages
  the voters' soft votes: the vote ensemble is attacked through the mean of its voters'
  soft outputs. ``T = inf`` is the linear limit (the units' distances themselves).
  ``straight_through=True`` keeps the exact forward pass (hard steps) and uses the
  sigmoid's derivative only on the way back.
- :class:`SurrogatePGD` runs PGD (Linf or L2) on the margin of those soft scores,
  for several temperatures, both variants and random restarts; **every iterate is scored
  on the real model** (its majority-vote confidence), and per image the first adversary
  found, else the iterate of smallest real margin, is kept. Same call as every attack:
  ``x_adv = SurrogatePGD(model, eps=0.3)(x, y)``.

A temperature so sharp that every unit sits far out on its sigmoid gives gradients
that underflow to zero: the attack records, per configuration, the fraction of rows
whose first gradient vanished (``atk.vanished``) and warns
(:class:`VanishingGradientWarning`) when a configuration had no usable gradient on any
row, so a weak result is never silent.

``transform`` (e.g. paper A's input discretization) is applied in the forward pass of
both the stand-in and the real model; its backward pass is the identity (BPDA).
"""

from __future__ import annotations

import copy
import math
import warnings

import torch
from torch import nn

from zerolib.models.votes import VoteLinear, VoteMLP, VoteModule
from .base import Attack, attack_margin, check_int, check_nonneg, project_linf

__all__ = ["SmoothVotes", "SurrogatePGD", "VanishingGradientWarning", "as_vote_module"]

VANISHED = 1e-20
"""A row's gradient counts as vanished when its largest entry is below this: float32
sigmoid derivatives far out on the tails underflow to 0 or to denormal noise."""


class VanishingGradientWarning(UserWarning):
    """A surrogate configuration produced no usable gradient on any row."""


def as_vote_module(model) -> VoteModule:
    """The :class:`~zerolib.models.votes.VoteModule` of a fitted zerolib estimator (or the module itself)."""
    if isinstance(model, VoteModule):
        return model
    if callable(getattr(model, "as_module", None)):
        module = model.as_module()
        if isinstance(module, VoteModule):
            return module
    raise TypeError(f"expected a zerolib vote model (SCD01, MLP01, ...) or its VoteModule, got {type(model).__name__}")


class _StraightThroughIdentity(torch.autograd.Function):
    """``transform(x)`` forward, the identity backward (BPDA)."""

    @staticmethod
    def forward(ctx, x, transform):
        return transform(x)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def _soft_step(z: torch.Tensor, temperature: float, straight_through: bool) -> torch.Tensor:
    """``sigmoid(z / T)`` (``z`` itself for ``T = inf``); straight-through: the exact
    step ``[z > 0]`` forward, the soft step's derivative backward."""
    soft = z if math.isinf(temperature) else torch.sigmoid(z / temperature)
    if not straight_through:
        return soft
    return (z > 0).to(z.dtype) + (soft - soft.detach())


class SmoothVotes(nn.Module):
    """A differentiable stand-in for a vote ensemble of linear or one-hidden-layer step
    (or sigmoid-hidden) one-vs-all votes: per-class scores (N, K), the mean over votes of
    the soft votes (binary: ``[1 - f, f]`` with ``f`` the soft fraction of votes for class 1).

    Args:
        model: a fitted SCD01 / MLP01 / SVM / MLP estimator or its ``as_module()``
            (one-vs-all votes; softmax votes are already differentiable).
        temperature: ``T`` of the soft steps, in units of the unit's signed distance;
            ``float("inf")``: the linear limit.
        straight_through: exact hard steps forward, the soft derivative backward.
        transform: applied to the input first (forward exact, backward identity).
    """

    def __init__(self, model, temperature: float = 0.1, *, straight_through: bool = False, transform=None):
        super().__init__()
        module = as_vote_module(model)
        if module.softmax:
            raise ValueError("softmax votes (MLP400) are differentiable already: attack model.as_module() directly")
        if not isinstance(module, (VoteLinear, VoteMLP)):
            raise TypeError(f"no stand-in for {type(module).__name__}")
        self.votes_module = module
        self.temperature = float(temperature)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (inf allowed), got {temperature!r}")
        self.straight_through = bool(straight_through)
        self.transform = transform
        self.n_classes = module.n_classes

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.transform is None else _StraightThroughIdentity.apply(x, self.transform)

    def soft_votes(self, x: torch.Tensor) -> torch.Tensor:
        """Soft votes (N, P, V) in [0, 1] (in R for ``T = inf``)."""
        m, T, st = self.votes_module, self.temperature, self.straight_through
        xf = m._flat(self._input(x))
        if isinstance(m, VoteLinear):
            p, v, d = m.weight.shape
            norm = m.weight.norm(dim=2).clamp_min(1e-12)  # (P, V)
            z = ((xf @ m.weight.reshape(p * v, d).T).reshape(-1, p, v) + m.bias) / norm
            return _soft_step(z, T, st)
        p, v, d, h = m.W1.shape
        pre = (xf @ m.W1.permute(2, 0, 1, 3).reshape(d, p * v * h)).reshape(-1, p, v, h) + m.b1
        if m.activation == "step":
            hidden = _soft_step(pre / m.W1.norm(dim=2).clamp_min(1e-12), T, st)
        else:
            hidden = torch.sigmoid(pre)
        out = torch.einsum("npvh,pvho->npvo", hidden, m.W2)[..., 0] + m.b2[..., 0]  # (N, P, V)
        return _soft_step(out / m.W2[..., 0].norm(dim=2).clamp_min(1e-12), T, st)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.soft_votes(x).mean(2)  # (N, P)
        return torch.cat([1 - f, f], 1) if f.shape[1] == 1 else f


class SurrogatePGD(Attack):
    """PGD through :class:`SmoothVotes` on the 01-loss models, judged by the real model.

    Args:
        model: a fitted vote estimator (SCD01, MLP01, ...) or its ``as_module()``.
        eps: the perturbation budget in ``norm``.
        norm: ``"Linf"`` (signed steps, box projection) or ``"L2"`` (normalised steps,
            projection onto the L2 ball, then onto [0, 1]).
        steps: iterations per configuration; ``alpha``: the step (default ``2.5 eps / steps``,
            Madry et al.'s rule).
        temperatures: the stand-in's temperatures, each tried in turn (``inf``: the linear limit).
        variants: ``"smooth"`` (soft forward and backward) and/or ``"straight-through"``.
        restarts: starts per configuration: the first at ``x``, the others uniform in the
            ball, from ``torch.Generator().manual_seed(seed + restart)`` on the CPU.
        transform: input transform of the real model (BPDA: identity backward).

    After a call: ``atk.vanished`` maps ``(temperature, variant)`` to the fraction of the
    rows it attacked whose first gradient vanished; ``atk.margins`` holds the real
    model's margin per row at the returned point (negative: the attack succeeded).
    """

    VARIANTS = ("smooth", "straight-through")
    deterministic = False  # restarts draw for the batch as a whole

    def __init__(self, model, eps: float = 0.3, *, norm: str = "Linf", steps: int = 50, alpha: float | None = None,
                 temperatures=(float("inf"), 1.0, 0.1), variants=VARIANTS, restarts: int = 1, transform=None,
                 seed: int = 0, targeted: bool = False):
        module = as_vote_module(model)
        super().__init__(module, targeted=targeted)
        # the real model judges every candidate in float64, as the estimators' predict does
        self.judge = copy.deepcopy(module).to(torch.float64)
        if norm not in ("Linf", "L2"):
            raise ValueError(f"norm must be 'Linf' or 'L2', got {norm!r}")
        self.norm = norm
        self.eps = check_nonneg("eps", eps)
        self.steps = check_int("steps", steps, 1)
        self.alpha = 2.5 * self.eps / self.steps if alpha is None else check_nonneg("alpha", alpha)
        temperatures = tuple(float(t) for t in temperatures)
        if not temperatures or any(not t > 0 for t in temperatures):
            raise ValueError(f"temperatures must be a non-empty list of numbers > 0, got {temperatures!r}")
        self.temperatures = temperatures
        variants = tuple(variants)
        if not variants or set(variants) - set(self.VARIANTS):
            raise ValueError(f"variants must be some of {self.VARIANTS}, got {variants!r}")
        self.variants = variants
        self.restarts = check_int("restarts", restarts, 1)
        self.transform = transform
        self.seed = check_int("seed", seed, 0)
        self.vanished: dict = {}
        self.margins = None

    def n_classes(self) -> int:
        return self.model.n_classes

    def default_labels(self, x):
        return self.judge.predict(self._transformed(x))

    def _transformed(self, x):
        return x if self.transform is None else self.transform(x)

    def _real_margin(self, x, y) -> torch.Tensor:
        """The real model's margin on ``x`` (float64 confidence of its majority vote)."""
        with torch.no_grad():
            return attack_margin(self.judge.confidence(self._transformed(x)), y, self.targeted)

    # -- geometry ----------------------------------------------------------------
    def _start(self, x: torch.Tensor, restart: int) -> torch.Tensor:
        if restart == 0:
            return x.clone()
        gen = torch.Generator().manual_seed(self.seed + restart)
        if self.norm == "Linf":
            noise = (2 * torch.rand(x.shape, generator=gen, dtype=x.dtype) - 1) * self.eps
        else:
            noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
            noise = noise / noise.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.ndim - 1)) * self.eps
            noise = noise * torch.rand(x.shape[0], generator=gen, dtype=x.dtype).view(-1, *[1] * (x.ndim - 1))
        return self._project(x + noise.to(x.device), x)

    def _project(self, adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.norm == "Linf":
            return project_linf(adv, x, self.eps)
        delta = adv - x
        size = delta.flatten(1).norm(dim=1).view(-1, *[1] * (x.ndim - 1))
        delta = delta * torch.where(size > self.eps, self.eps / size.clamp_min(1e-12), torch.ones_like(size))
        return (x + delta).clamp(0, 1)

    def _step(self, adv: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        if self.norm == "Linf":
            return adv + self.alpha * grad.sign()
        g = grad.flatten(1)
        return adv + self.alpha * (g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)).view_as(adv)

    # -- the attack ------------------------------------------------------------------
    def perturb(self, x, y):
        best = x.clone()
        best_margin = self._real_margin(x, y)
        self.vanished = {}
        if self.eps > 0:
            for temperature in self.temperatures:
                for variant in self.variants:
                    stand_in = SmoothVotes(self.model, temperature, straight_through=variant == "straight-through",
                                           transform=self.transform)
                    self._run(stand_in, x, y, best, best_margin, (temperature, variant))
        self.margins = best_margin
        dead = [k for k, v in self.vanished.items() if v == 1.0]
        if dead:
            warnings.warn(f"SurrogatePGD: no usable gradient on any row for (temperature, variant) {dead}; "
                          "those configurations attacked nothing (choose a larger temperature)",
                          VanishingGradientWarning, stacklevel=3)
        return best

    def _run(self, stand_in, x, y, best, best_margin, config) -> None:
        """One configuration, all restarts; updates ``best`` / ``best_margin`` in place."""
        vanished, attacked = 0, 0
        for restart in range(self.restarts):
            rows = torch.nonzero(best_margin >= 0).flatten()  # rows not yet broken
            if rows.numel() == 0:
                break
            xr, yr = x[rows], y[rows]
            adv = self._start(xr, restart)
            for step in range(self.steps):
                adv = adv.detach().requires_grad_(True)
                loss = -attack_margin(stand_in(adv), yr, self.targeted).sum()  # ascend: push the margin down
                (grad,) = torch.autograd.grad(loss, adv)
                if step == 0:
                    dead = grad.flatten(1).abs().amax(1) < VANISHED
                    vanished, attacked = vanished + int(dead.sum()), attacked + len(rows)
                adv = self._project(self._step(adv.detach(), grad), xr)
                m = self._real_margin(adv, yr)
                better = m < best_margin[rows]
                if better.any():
                    best[rows[better]] = adv[better]
                    best_margin[rows[better]] = m[better]
                keep = best_margin[rows] >= 0  # broken rows stop here
                if not keep.all():
                    rows, xr, yr, adv = rows[keep], xr[keep], yr[keep], adv[keep]
                    if rows.numel() == 0:
                        break
        self.vanished[config] = vanished / attacked if attacked else 0.0
