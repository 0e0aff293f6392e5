"""The threshold searches of zerolib.models.scd against brute force on small random sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zerolib.models.scd._kernels import INT64_MIN, full_search, window_search


def brute(p, code, gtab, base, positions=None):
    """Best objective over realisable thresholds (rows <= theta below)."""
    vals = np.unique(p)
    best = None
    for th in [vals[0] - 1] + list(vals):
        below = p <= th
        if positions is not None and below.sum() not in positions:
            continue
        s = base + gtab[code[below]].sum()
        best = s if best is None or s > best else best
    return best


@pytest.mark.parametrize("nbits", [1, 3])
def test_full_and_window_search_match_brute_force(nbits):
    rng = np.random.default_rng(nbits)
    K = 1 << nbits
    for trial in range(120):
        m, n = 3, int(rng.integers(3, 30))
        if trial % 2:
            p = rng.standard_normal((m, n)).astype(np.float32)
        else:  # many ties
            p = rng.integers(-5, 5, (m, n)).astype(np.float32) * np.float32(0.37)
        p = torch.from_numpy(p)
        codes = torch.from_numpy(rng.integers(0, K, (m, n)).astype(np.int32))
        gtab = torch.from_numpy(rng.integers(-9, 9, (m, K)))
        base = torch.from_numpy(rng.integers(0, 50, m))
        n_real = torch.from_numpy(rng.integers(1, n + 1, m)) if trial % 3 else torch.full((m,), n)
        pad = torch.arange(n)[None] >= n_real[:, None]
        codes = codes.masked_fill(pad, 0)
        d, t, th, sc = full_search(p.clone(), codes, pad, n_real, gtab, base, nbits)
        for i in range(m):
            r = int(n_real[i])
            pi, ci, gi = p[i, :r].numpy(), codes[i, :r].numpy(), gtab[i].numpy()
            best = max(brute(pi, ci, gi, int(base[i])), brute(-pi, ci, gi, int(base[i])))
            assert sc[i].item() == best
            pp = pi if d[i] == 0 else -pi
            below = pp <= th[i].item()  # theta is exact: every row below <= theta < every row above
            assert below.sum() == t[i]
            assert int(base[i]) + gi[ci[below]].sum() == best
        C, W = 4, int(rng.integers(0, 4))
        xc = torch.from_numpy(rng.integers(0, 3, (m, C, n)).astype(np.float32))
        step = torch.full((m,), 0.37)
        idx = torch.from_numpy(np.array([rng.integers(0, int(r) + 1) for r in n_real]))
        cand, tw, thw, scw = window_search(p.clone(), xc, step, codes, pad, n_real, idx, gtab, base, W, nbits)
        for i in range(m):
            r = int(n_real[i])
            ci, gi = codes[i, :r].numpy(), gtab[i].numpy()
            pos = set(range(max(0, int(idx[i]) - W), min(r, int(idx[i]) + W) + 1))
            best, arg = None, None
            for c in range(2 * C):
                q = p[i] + xc[i, c % C] * step[i] if c < C else p[i] - xc[i, c % C] * step[i]
                b = brute(q[:r].numpy(), ci, gi, int(base[i]), pos)
                if b is not None and (best is None or b > best):
                    best, arg = b, q[:r].numpy()
            if best is None:
                assert scw[i].item() == INT64_MIN
                continue
            assert scw[i].item() == best
            c = int(cand[i])
            q = (p[i] + xc[i, c % C] * step[i] if c < C else p[i] - xc[i, c % C] * step[i])[:r].numpy()
            below = q <= thw[i].item()
            assert below.sum() == tw[i] and int(base[i]) + gi[ci[below]].sum() == best


def test_thresholds_are_exact_between_adjacent_floats():
    """Groups one float apart: the threshold still separates them exactly."""
    a = np.float32(1.0)
    vals = [a]
    for _ in range(6):
        vals.append(np.nextafter(vals[-1], np.float32(2)))
    p = torch.tensor([vals + [-v for v in vals]], dtype=torch.float32)
    n = p.shape[1]
    codes = torch.tensor([[1, 0, 1, 0, 1, 0, 1] * 2], dtype=torch.int32)
    gtab = torch.tensor([[5, -7]])
    base = torch.tensor([0])
    n_real = torch.tensor([n])
    for nbits in (1, 3):
        d, t, th, sc = full_search(p.clone(), codes, None, n_real, gtab, base, nbits)
        pp = p[0] if d[0] == 0 else -p[0]
        below = pp <= th[0]
        assert below.sum() == t[0]
        assert sc[0] == gtab[0][codes[0][below].long()].sum()
