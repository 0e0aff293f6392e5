"""Decision-based (label-only) attacks: they query only the model's predicted labels,
so they work on every zerolib model -- SCD01 / MLP01 vote ensembles, the convex
models, the networks -- through :func:`zerolib.models.predict`, with no gradient
and no substitute model.

- :class:`HopSkipJump` (Chen, Jordan, Wainwright 2020), L2 or Linf, untargeted
  or targeted, with a per-image query budget. Batched over images: every image
  advances through the same loop together, each with its own step state (its
  distance, its binary-search bounds, its step size, its random stream, its
  query count), so a batch gives its rows' one-by-one results.
- :class:`BoundaryRandomSearch`: a simple label-only baseline in the spirit of
  Brendel et al.'s boundary attack, as a second opinion: from the same start,
  random steps along the boundary followed by a step toward the image, kept
  when they stay adversarial and come closer.

After a call, ``atk.queries`` (queries used per image), ``atk.norms`` (the
perturbation's size in the attack's norm; inf where no adversary was found) and
``atk.success`` (bool per image) describe each row. Rows already adversarial
(misclassified, or already the target) are returned unchanged with norm 0.

Randomness: row i draws from its own generator seeded ``seed + i`` (``i`` its
index in the batch), so ``atk(x[i:i+1], y[i:i+1])`` with ``seed=seed + i``
returns row i of the batch.
"""

from __future__ import annotations

import math

import torch

from .base import check_int, check_nonneg, check_positive, check_x, check_y

__all__ = ["HopSkipJump", "BoundaryRandomSearch"]


def _n_classes(model) -> int | None:
    """How many classes ``model`` labels (labels are 0..k-1), when it says: an estimator's
    ``classes_``, a network's or a vote view's ``n_classes``; else None."""
    if hasattr(model, "classes_"):
        return len(model.classes_)
    n = getattr(model, "n_classes", None)
    return int(n) if isinstance(n, int) else None


class _LabelOnly:
    """Shared call contract: validation, the query oracle, per-row generators, records."""

    norm = "L2"

    def __init__(self, model, *, norm: str = "L2", targeted: bool = False, max_queries: int = 5000,
                 init_tries: int = 100, seed: int = 0, batch_size: int = 4096):
        from zerolib.models.interface import predict

        if norm not in ("L2", "Linf"):
            raise ValueError(f"norm must be 'L2' or 'Linf', got {norm!r}")
        if not callable(getattr(model, "predict", None)) and not callable(model):
            raise TypeError(f"model must have predict (or be an nn.Module), got {type(model).__name__}")
        self.model, self._predict = model, predict
        self.norm, self.targeted = norm, bool(targeted)
        self.max_queries = check_int("max_queries", max_queries, 1)
        self.init_tries = check_int("init_tries", init_tries, 1)
        self.seed = check_int("seed", seed, 0)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.queries = self.norms = self.success = None

    # -- the oracle ------------------------------------------------------------
    def _is_adv(self, points: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Adversarial or not, per point (one query each, charged to its image ``rows``)."""
        self.queries.index_add_(0, rows, torch.ones_like(rows, dtype=self.queries.dtype))
        pred = self._predict(self.model, points.clamp(0, 1), batch_size=self.batch_size,
                             check_values=False).to(labels.device)  # clipped here: no value check needed
        return pred == labels if self.targeted else pred != labels

    def _dist(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = (a - b).flatten(1)
        return d.norm(dim=1) if self.norm == "L2" else d.abs().amax(1)

    # -- the call --------------------------------------------------------------
    def __call__(self, x, y, x_init=None) -> torch.Tensor:
        """Adversaries of ``x`` (labels ``y``; targets when targeted). ``x_init``: a start
        per row that is already adversarial (required for targeted: e.g. an image of the
        target class); without it an untargeted start is searched among uniform noise."""
        x = check_x(x)
        if x.shape[0] == 0:
            raise ValueError(f"x is an empty batch {tuple(x.shape)}: there is nothing to attack")
        y = check_y(y, x.shape[0], _n_classes(self.model))
        if self.targeted and x_init is None:
            raise ValueError("a targeted label-only attack needs x_init: a start per row the model already "
                             "labels as its target (e.g. a training image of that class)")
        if x_init is not None:
            x_init = check_x(x_init)
            if x_init.shape != x.shape:
                raise ValueError(f"x_init must have x's shape {tuple(x.shape)}, got {tuple(x_init.shape)}")
        n = x.shape[0]
        xd = x.detach().to(torch.float64 if x.dtype == torch.float64 else torch.float32).clone()
        y = y.to(xd.device)
        self.queries = torch.zeros(n, dtype=torch.long, device=xd.device)
        self.gens = [torch.Generator(device="cpu").manual_seed(int(self.seed) + i) for i in range(n)]
        adv = xd.clone()
        found = torch.zeros(n, dtype=torch.bool, device=xd.device)
        if n:
            done = self._is_adv(xd, y, torch.arange(n, device=xd.device))
            found |= done
            todo = torch.nonzero(~done).squeeze(1)
            if len(todo):
                start, ok = self._start(xd[todo], y[todo], todo, None if x_init is None else x_init[todo].to(xd))
                rows = todo[ok]
                if len(rows):
                    adv[rows] = self.run(xd[rows], y[rows], rows, start[ok])
                    found[rows] = True
        self.success = found.cpu()
        norms = self._dist(adv, xd)
        self.norms = torch.where(found, norms, torch.full_like(norms, float("inf"))).cpu()
        self.queries = self.queries.cpu()
        return adv.clamp(0, 1).to(device=x.device, dtype=x.dtype)

    def _randn(self, rows: torch.Tensor, shape, like: torch.Tensor) -> torch.Tensor:
        """Per image, its own standard normal draws of ``shape``."""
        return torch.stack([torch.randn(shape, generator=self.gens[int(r)], dtype=like.dtype) for r in rows]).to(
            like.device)

    def _rand(self, rows: torch.Tensor, shape, like: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.rand(shape, generator=self.gens[int(r)], dtype=like.dtype) for r in rows]).to(
            like.device)

    def _start(self, x, y, rows, x_init):
        """(a first adversarial point per row, which rows have one)."""
        if x_init is not None:
            ok = self._is_adv(x_init, y, rows)
            return x_init, ok
        start, ok = x.clone(), torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.init_tries):
            left = torch.nonzero(~ok).squeeze(1)
            if not len(left):
                break
            noise = self._rand(rows[left], x.shape[1:], x)
            hit = self._is_adv(noise, y[left], rows[left])
            start[left[hit]] = noise[hit]
            ok[left[hit]] = True
        return start, ok

    def _blend(self, x, adv, alpha):
        """The point a fraction ``alpha`` (per row) of the way from x to adv (L2), or adv
        clipped to the Linf ball of radius ``alpha`` around x (Linf)."""
        a = alpha.view(-1, *[1] * (x.ndim - 1))
        if self.norm == "L2":
            return (1 - a) * x + a * adv
        return torch.minimum(torch.maximum(adv, x - a), x + a)

    def _binary_search(self, x, y, rows, adv, threshold):
        """Per row, the adversarial end of a bisection between x (not adversarial) and
        adv (adversarial) once the bracket is below ``threshold`` (per row)."""
        if self.norm == "L2":
            high = torch.ones(len(x), dtype=x.dtype, device=x.device)
        else:
            high = self._dist(adv, x)
        low = torch.zeros_like(high)
        thr = threshold if self.norm == "L2" else torch.minimum(threshold * high, threshold)
        while True:
            active = (high - low > thr) & (self.queries[rows] < self.max_queries)
            idx = torch.nonzero(active).squeeze(1)
            if not len(idx):
                break
            mid = (high[idx] + low[idx]) / 2
            hit = self._is_adv(self._blend(x[idx], adv[idx], mid), y[idx], rows[idx])
            high[idx] = torch.where(hit, mid, high[idx])
            low[idx] = torch.where(hit, low[idx], mid)
        return self._blend(x, adv, high)


class HopSkipJump(_LabelOnly):
    """HopSkipJumpAttack, batched over images.

    Each iteration: a binary search to the decision boundary, a Monte-Carlo estimate
    of the boundary's normal from ``init_evals * sqrt(t)`` (at most ``max_evals``)
    label queries around the boundary point, a geometric step-size search along it,
    and the next boundary point. An image stops at ``steps`` iterations or when it has
    used ``max_queries``; its best (last) boundary point is returned.

    Args:
        model: anything :func:`zerolib.models.predict` accepts.
        norm: ``"L2"`` or ``"Linf"``.
        targeted: reach the label ``y`` (then ``x_init`` is required).
        max_queries: label queries per image, the initialisation included.
        steps: iterations (the paper: 64 by default in the reference code).
        init_evals, max_evals: queries of the gradient estimate (100, 1000).
        gamma: sets the binary search's threshold theta = gamma / d^(3/2) (L2) or
            gamma / d^2 (Linf), d the input dimension.
        init_tries: uniform-noise draws per image to find an untargeted start.
        seed: row i draws from a generator seeded seed + i.
        record_at: query counts at which to record each image's distance so far:
            after a call ``atk.trace[b]`` holds, per image, the size of the best
            adversary it had after at most ``b`` queries (inf: none yet), the curve
            of distance against queries of one run.
    """

    def __init__(self, model, norm: str = "L2", *, targeted: bool = False, max_queries: int = 5000,
                 steps: int = 64, init_evals: int = 100, max_evals: int = 1000, gamma: float = 1.0,
                 init_tries: int = 100, seed: int = 0, batch_size: int = 4096, eval_chunk: int = 2 ** 22,
                 record_at=()):
        super().__init__(model, norm=norm, targeted=targeted, max_queries=max_queries, init_tries=init_tries,
                         seed=seed, batch_size=batch_size)
        self.record_at = tuple(sorted({check_int("record_at", b, 1) for b in record_at}))
        self.trace: dict = {}
        self.steps = check_int("steps", steps, 1)
        self.init_evals = check_int("init_evals", init_evals, 1)
        self.max_evals = check_int("max_evals", max_evals, self.init_evals)
        self.gamma = check_positive("gamma", gamma)
        self.eval_chunk = check_int("eval_chunk", eval_chunk, 1)

    def _theta(self, d: int) -> float:
        return self.gamma / (d * math.sqrt(d)) if self.norm == "L2" else self.gamma / (d * d)

    def _gradient(self, xb, y, rows, delta, n_evals):
        """The boundary normal's estimate at xb (per row), from n_evals label queries each."""
        d = xb[0].numel()
        grads = []
        per = max(1, self.eval_chunk // max(1, n_evals * d))  # rows per chunk of (rows x evals x d)
        for s in range(0, len(xb), per):
            sl = slice(s, s + per)
            r = rows[sl]
            if self.norm == "L2":
                u = self._randn(r, (n_evals, *xb.shape[1:]), xb)
            else:
                u = self._rand(r, (n_evals, *xb.shape[1:]), xb) * 2 - 1
            u = u / u.flatten(2).norm(dim=2).clamp_min(1e-12).view(*u.shape[:2], *[1] * (xb.ndim - 1))
            base = xb[sl].unsqueeze(1)
            dl = delta[sl].view(-1, 1, *[1] * (xb.ndim - 1))
            pts = (base + dl * u).clamp(0, 1)
            u = (pts - base) / dl
            m = len(r)
            hit = self._is_adv(pts.reshape(m * n_evals, *xb.shape[1:]), y[sl].repeat_interleave(n_evals),
                               r.repeat_interleave(n_evals)).view(m, n_evals)
            f = hit.to(xb.dtype) * 2 - 1
            mean = f.mean(1, keepdim=True)
            # baseline-corrected mean; all one sign: the mean direction with that sign
            weight = torch.where(mean.abs() == 1, mean.expand_as(f), f - mean)
            g = (weight.view(m, n_evals, *[1] * (xb.ndim - 1)) * u).mean(1)
            grads.append(g)
        g = torch.cat(grads)
        if self.norm == "L2":
            return g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (xb.ndim - 1))
        return g.sign()

    def __call__(self, x, y, x_init=None) -> torch.Tensor:
        self.trace = {}
        adv = super().__call__(x, y, x_init)
        if self.record_at:  # rows adversarial from the start: size 0 after 1 query
            start = self.success & (self.norms == 0)
            for b in self.record_at:
                self.trace.setdefault(b, torch.full((len(self.norms),), float("inf"), dtype=torch.float64))[start] = 0.0
        return adv

    def _record(self, rows, dist) -> None:
        """Each row's distance so far, at every recorded budget it has not passed."""
        for b in self.record_at:
            t = self.trace.setdefault(b, torch.full((len(self.queries),), float("inf"), dtype=torch.float64))
            ok = (self.queries[rows] <= b).cpu()
            t[rows.cpu()[ok]] = dist.detach().cpu().double()[ok]

    def run(self, x, y, rows, start):
        d = x[0].numel()
        theta = torch.full((len(x),), self._theta(d), dtype=x.dtype, device=x.device)
        xb = self._binary_search(x, y, rows, start, theta)
        dist = self._dist(xb, x)
        self._record(rows, dist)
        for t in range(1, self.steps + 1):
            live = torch.nonzero(self.queries[rows] < self.max_queries).squeeze(1)
            if not len(live):
                break
            xl, yl, rl = x[live], y[live], rows[live]
            if t == 1:
                delta = torch.full((len(live),), 0.1, dtype=x.dtype, device=x.device)
            else:
                delta = (math.sqrt(d) if self.norm == "L2" else d) * theta[live] * dist[live]
            n_evals = min(int(self.init_evals * math.sqrt(t)), self.max_evals)
            # do not start an estimate that would overrun an image's budget
            room = torch.nonzero(self.max_queries - self.queries[rl] >= n_evals).squeeze(1)
            if not len(room):
                break
            live, xl, yl, rl, delta = live[room], xl[room], yl[room], rl[room], delta[room]
            grad = self._gradient(xb[live], yl, rl, delta, n_evals)
            # geometric step-size search: halve until the step stays adversarial
            eps = dist[live] / math.sqrt(t)
            cand = xb[live].clone()
            pending = torch.ones(len(live), dtype=torch.bool, device=x.device)
            for _ in range(30):
                idx = torch.nonzero(pending & (self.queries[rl] < self.max_queries)).squeeze(1)
                if not len(idx):
                    break
                step = (xb[live][idx] + eps[idx].view(-1, *[1] * (x.ndim - 1)) * grad[idx]).clamp(0, 1)
                hit = self._is_adv(step, yl[idx], rl[idx])
                cand[idx[hit]] = step[hit]
                pending[idx[hit]] = False
                eps[idx[~hit]] /= 2
            moved = ~pending
            if bool(moved.any()):
                m = live[moved]
                nb = self._binary_search(x[m], y[m], rows[m], cand[moved], theta[m])
                nd = self._dist(nb, x[m])
                better = nd <= dist[m]  # a boundary point is adversarial; keep the closer one
                xb[m[better]] = nb[better]
                dist[m[better]] = nd[better]
            self._record(rows, dist)
        return xb


class BoundaryRandomSearch(_LabelOnly):
    """A label-only random search along the decision boundary (a simplified boundary
    attack): from the same start as HopSkipJump, each step proposes an orthogonal
    random move of relative size ``spherical`` and a move of relative size ``source``
    toward the image, kept when still adversarial and closer; the two sizes grow by
    1.5 after a success and shrink by 1.5 after a failure, per image."""

    def __init__(self, model, norm: str = "L2", *, targeted: bool = False, max_queries: int = 5000,
                 spherical: float = 0.05, source: float = 0.05, init_tries: int = 100, seed: int = 0,
                 batch_size: int = 4096):
        super().__init__(model, norm=norm, targeted=targeted, max_queries=max_queries, init_tries=init_tries,
                         seed=seed, batch_size=batch_size)
        self.spherical = check_positive("spherical", spherical)
        self.source = check_nonneg("source", source)

    def run(self, x, y, rows, start):
        theta = torch.full((len(x),), 1.0 / x[0].numel(), dtype=x.dtype, device=x.device)
        adv = self._binary_search(x, y, rows, start, theta)
        dist = self._dist(adv, x)
        sph = torch.full_like(dist, self.spherical)
        src = torch.full_like(dist, self.source)
        shape = [-1, *[1] * (x.ndim - 1)]
        while True:
            live = torch.nonzero(self.queries[rows] < self.max_queries).squeeze(1)
            if not len(live):
                break
            xa, xl = adv[live], x[live]
            diff = xa - xl
            dn = diff.flatten(1).norm(dim=1).clamp_min(1e-12)
            eta = self._randn(rows[live], x.shape[1:], x)
            eta = eta - ((eta * diff).flatten(1).sum(1) / dn ** 2).view(shape) * diff  # orthogonal to diff
            eta = eta / eta.flatten(1).norm(dim=1).clamp_min(1e-12).view(shape) * (sph[live] * dn).view(shape)
            cand = xa + eta
            cand = xl + (cand - xl) * ((1 - src[live]) * dn / (cand - xl).flatten(1).norm(dim=1)
                                       .clamp_min(1e-12)).view(shape)
            cand = cand.clamp(0, 1)
            hit = self._is_adv(cand, y[live], rows[live])
            nd = self._dist(cand, xl)
            keep = hit & (nd < dist[live])
            adv[live[keep]] = cand[keep]
            dist[live[keep]] = nd[keep]
            sph[live] = torch.where(hit, sph[live] * 1.5, sph[live] / 1.5).clamp(1e-4, 1.0)
            src[live] = torch.where(hit, src[live] * 1.5, src[live] / 1.5).clamp(1e-4, 0.5)
        return adv
