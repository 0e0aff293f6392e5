"""Threshold searches for stochastic coordinate descent on the 01 loss.

Every search here scores thresholds on a batch of projections. A row's *code* (a
small integer) says how much it adds to the objective when it falls below the
threshold (``a``) and when it falls above (``b``); ``gtab[code] = a - b`` and
``base = sum of b`` over the batch, so the objective at threshold position ``t``
of the sorted projections is ``base + sum of gtab over the t lowest rows``.
Objectives are integers (int64): the class weights of the balanced objectives are
scaled to integers, so every comparison is exact and ties are decided the same way
on every device and in every batch layout.

Sort keys. A float32 projection's lowest ``nbits`` mantissa bits are replaced by
the row's code, so one float32 sort orders the projections and carries the codes
along (no argsort, no second gather). Truncating mantissa bits is monotone, so the
order of distinct truncated values is the order of the projections; rows whose
truncated values are equal form a tie group, and a threshold inside a tie group is
never used (it could not be realised). Thresholds placed between two groups are
exact for the untruncated projections: every row below has a projection
``<= theta`` and every row above ``> theta`` (see `_theta`).

Only elementwise float operations (products and sums as separate kernels, never a
fused multiply-add) touch the projections here, so the keys of a row are bitwise
the same whether its model is searched alone or in a batch of models.

Padding: models in one batch may have different batch sizes (one-vs-all); padded
rows get key +inf, sort last, and thresholds past ``n_real`` are never used.
"""

from __future__ import annotations

import math

import numpy as np
import torch

INT64_MIN = torch.iinfo(torch.int64).min


def lowmask(nbits: int) -> int:
    return (1 << nbits) - 1


def sort_rows(q: torch.Tensor) -> torch.Tensor:
    """Sort a contiguous float32 tensor along its last dimension (in place on CPU).

    On CPU numpy's vectorised sort (AVX-512 where available) is ~15x faster than
    torch.sort for these shapes; on CUDA torch.sort is used.
    """
    if q.device.type == "cpu":
        a = q.numpy()
        a.sort(axis=-1)
        return q
    return torch.sort(q, dim=-1).values


def make_keys_(q: torch.Tensor, codes: torch.Tensor, nbits: int, pad: torch.Tensor | None) -> None:
    """Turn projections ``q`` (float32, ..., n) into sort keys in place."""
    b = q.view(torch.int32)
    b.bitwise_and_(~lowmask(nbits))
    b.bitwise_or_(codes)
    if pad is not None:
        q.masked_fill_(pad, math.inf)


def _trunc(bits: torch.Tensor, nbits: int) -> torch.Tensor:
    """Truncated value of keys (int32 bits) as float32, for tie tests."""
    return (bits & ~lowmask(nbits)).view(torch.float32)


def _group_hi(bits: torch.Tensor, nbits: int) -> torch.Tensor:
    """Largest float32 whose truncated key equals that of ``bits``."""
    t = bits & ~lowmask(nbits)
    return torch.where(t < 0, t, t | lowmask(nbits)).view(torch.float32)


def _group_lo(bits: torch.Tensor, nbits: int) -> torch.Tensor:
    """Smallest float32 whose truncated key equals that of ``bits``."""
    t = bits & ~lowmask(nbits)
    return torch.where(t < 0, t | lowmask(nbits), t).view(torch.float32)


def _theta(a_bits, b_bits, t, n_real, nbits):
    """Threshold between the group of key ``a`` (rank t-1) and that of ``b`` (rank t).

    Returns float32 ``theta`` with ``x <= theta`` for every projection ``x`` in a's
    group or below and ``x > theta`` for every one in b's group or above (the
    midpoint when it lies strictly between the groups). ``t == 0``: below every
    row; ``t == n_real``: above every row.
    """
    a_hi = _group_hi(a_bits, nbits)
    b_lo = _group_lo(b_bits, nbits)
    mid = a_hi + (b_lo - a_hi) * 0.5
    mid = torch.where(mid >= b_lo, a_hi, mid)
    mid = torch.where(mid < a_hi, a_hi, mid)
    below = b_lo - (1.0 + b_lo.abs())
    above = a_hi + (1.0 + a_hi.abs())
    theta = torch.where(t == 0, below, torch.where(t >= n_real, above, mid))
    return theta


def full_search(p, codes, pad, n_real, gtab, base, nbits):
    """Best threshold for projections ``p`` (m, n), in both directions.

    Direction 0 predicts "above" for rows above the threshold; direction 1 does the
    same for the negated projections (the flipped model). Returns
    ``(direction, t, theta, score)``, each of shape (m,): the threshold position
    ``t`` and value ``theta`` refer to the chosen direction's projections.
    """
    m, n = p.shape
    q = torch.stack([p, -p], 1)
    make_keys_(q, codes[:, None, :], nbits, None if pad is None else pad[:, None, :])
    q = sort_rows(q)
    bits = q.view(torch.int32)
    code_s = (bits & lowmask(nbits)).long()
    K = gtab.shape[1]
    g = torch.gather(gtab[:, None, :].expand(m, 2, K), 2, code_s.view(m, 2, n))
    G = torch.cumsum(g, -1)
    S = torch.cat([torch.zeros_like(G[..., :1]), G], -1) + base[:, None, None]  # (m,2,n+1)
    tr = _trunc(bits, nbits)
    neq = tr[..., 1:] != tr[..., :-1]  # boundary at t = 1..n-1
    ones = torch.ones_like(neq[..., :1])
    valid = torch.cat([ones, neq, ones], -1)  # t = 0..n
    tpos = torch.arange(n + 1, device=p.device)
    valid &= (tpos[None, :] <= n_real[:, None])[:, None, :]
    valid |= (tpos[None, :] == n_real[:, None])[:, None, :]
    S = S.masked_fill(~valid, INT64_MIN)
    flat = S.view(m, -1).argmax(1)
    score = S.view(m, -1).gather(1, flat[:, None])[:, 0]
    d = flat // (n + 1)
    t = flat % (n + 1)
    rows = bits[torch.arange(m, device=p.device), d]  # (m, n)
    ia = (t - 1).clamp(0, n - 1)
    ib = t.clamp(0, n - 1)
    a = rows.gather(1, ia[:, None])[:, 0]
    b = rows.gather(1, ib[:, None])[:, 0]
    theta = _theta(a, b, t, n_real, nbits)
    return d, t, theta, score


def _prefix_sums(bits, lo, gtab, nbits):
    """Sum of ``gtab[code]`` over the ``lo`` lowest keys of every row: (m, R) int64."""
    m, R, n = bits.shape
    mask = lowmask(nbits)
    K = gtab.shape[1]
    if bits.device.type == "cpu":
        out = np.empty((m, R), dtype=np.int64)
        bn = bits.numpy()
        gt = gtab.numpy()
        for i, l in enumerate(lo.tolist()):
            if l == 0:
                out[i] = 0
                continue
            c = np.bitwise_and(bn[i, :, :l], mask)
            if K == 2:
                cnt1 = c.sum(-1)
                out[i] = gt[i, 0] * l + (gt[i, 1] - gt[i, 0]) * cnt1
            else:
                out[i] = np.take(gt[i], c).sum(-1)
        return torch.from_numpy(out)
    code = (bits & mask).long()
    g = torch.gather(gtab[:, None, :].expand(m, R, K), 2, code)
    below = torch.arange(n, device=bits.device)[None, :] < lo[:, None]
    return torch.where(below[:, None, :], g, 0).sum(-1)


def window_search(p, xc, step, codes, pad, n_real, idx, gtab, base, window, nbits):
    """Best (candidate, threshold) among coordinate moves of the current weights.

    p: (m, n) current projections of the batch; xc: (m, C, n) the batch's values of
    the C candidate coordinates; step: (m,) the move size in the projections' units.
    Candidate c < C moves its coordinate by +step, candidate C + c by -step; its
    projections are ``p + xc * step`` (no renormalisation: it changes no order).
    Thresholds are tried at sorted positions ``idx - window .. idx + window``.

    Returns ``(cand, t, theta, score)`` per model; score is INT64_MIN where no
    position was usable.
    """
    m, C, n = xc.shape
    prod = xc * step[:, None, None]
    q = torch.empty((m, 2 * C, n), dtype=torch.float32, device=p.device)
    torch.add(p[:, None, :], prod, out=q[:, :C])
    torch.sub(p[:, None, :], prod, out=q[:, C:])
    del prod
    make_keys_(q, codes[:, None, :], nbits, None if pad is None else pad[:, None, :])
    q = sort_rows(q)
    bits = q.view(torch.int32)
    R = 2 * C
    lo = (idx - window).clamp(min=0)
    hi = torch.minimum(idx + window, n_real)
    glo = _prefix_sums(bits, lo, gtab, nbits).to(p.device)  # (m, R)
    L = 2 * window + 1
    ar = torch.arange(L + 1, device=p.device)
    ranks = (lo[:, None] - 1 + ar[None, :]).clamp(0, n - 1)  # ranks lo-1 .. lo+2W
    wb = torch.gather(bits, 2, ranks[:, None, :].expand(m, R, L + 1))
    K = gtab.shape[1]
    wcode = (wb[..., 1:L] & lowmask(nbits)).long()  # ranks lo .. lo+2W-1
    gw = torch.gather(gtab[:, None, :].expand(m, R, K), 2, wcode)
    G = torch.cat([torch.zeros_like(glo[..., None]), torch.cumsum(gw, -1)], -1) + glo[..., None]
    S = G + base[:, None, None]  # (m, R, L): t = lo .. lo + 2W
    tr = _trunc(wb, nbits)
    neq = tr[..., 1:] != tr[..., :-1]  # boundary at t = lo + j
    tpos = lo[:, None] + ar[None, :L]  # (m, L)
    valid = neq | ((tpos == 0) | (tpos == n_real[:, None]))[:, None, :]
    valid &= (tpos <= hi[:, None])[:, None, :]
    S = S.masked_fill(~valid, INT64_MIN)
    flat = S.view(m, -1).argmax(1)
    score = S.view(m, -1).gather(1, flat[:, None])[:, 0]
    cand = flat // L
    j = flat % L
    t = lo + j
    sel = wb[torch.arange(m, device=p.device), cand]  # (m, L+1)
    a = sel.gather(1, j[:, None])[:, 0]
    b = sel.gather(1, (j + 1)[:, None])[:, 0]
    theta = _theta(a, b, t, n_real, nbits)
    return cand, t, theta, score
