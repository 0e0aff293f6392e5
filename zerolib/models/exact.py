"""The exact 01-loss minimum of a linear classifier on a small 2D set.

Prediction rule (used everywhere in the project): class 1 where ``w @ x + b > 0``.

Why enumerating pairs is enough. Take any line that realises some labelling with
no training point on it. Translate it until it touches a point, then rotate it
about that point until it touches another: no point crosses it on the way, so the
points off the final line keep their sides, and the touched points lie on it.
Every labelling is therefore "the sides of a line through two points, plus some
labelling of the points on that line". The points on a line can be labelled by
any linear classifier restricted to the line, that is by a 1D threshold along it
(for two distinct points: any of the four labellings), and every such labelling is
realised by tilting and shifting the line by a small enough amount. So

    min 01 loss = min over pairs (i, j), both orientations, of
                  (errors off the line) + (best 1D threshold errors on the line),

together with the two constant classifiers. That is O(n^3) for n points, done
with numpy over all pairs at once; a collinear triple (rare) takes a short loop.

The returned line is then re-fitted to the optimal labelling as a max-margin
(hard-margin SVM) line, so it sits in the middle of the gap instead of grazing
two training points; if that fails numerically, the tilted-and-shifted line is
returned. Either way the errors of the returned ``(w, b)`` under the strict rule
are checked to equal ``errors``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ExactLine", "min01_line", "count_errors"]

# Points closer to a candidate line than this fraction of the data's extent count
# as lying on it.
_REL_TOL = 1e-10


@dataclass(frozen=True)
class ExactLine:
    """A linear classifier ``class 1 where w @ x + b > 0`` and its training errors."""

    w: np.ndarray  # shape (2,), unit length
    b: float
    errors: int


def count_errors(w, b, X, y) -> int:
    """Training errors of ``class 1 where w @ x + b > 0`` on (X, y), y in {0, 1}."""
    X, y = _check(X, y)
    pred = (X @ np.asarray(w, dtype=float) + float(b)) > 0
    return int(np.sum(pred != (y == 1)))


def _check(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    labels = np.unique(y)
    if not np.all(np.isin(labels, [0, 1])):
        raise ValueError(f"labels must be 0 or 1, got {labels.tolist()}")
    return X, y.astype(int)


def _best_threshold_1d(t: np.ndarray, y: np.ndarray) -> tuple[int, float, float]:
    """Best labelling of points at positions t on a line by a 1D threshold.

    Returns (errors, sigma, t0): predicted class 1 where sigma * (t - t0) > 0,
    with sigma in {+1, -1}; t0 = +-inf encodes "all one class".
    """
    ts = np.unique(t)
    cuts = np.concatenate([[-np.inf], (ts[:-1] + ts[1:]) / 2, [np.inf]])
    best = (len(t) + 1, 1.0, np.inf)
    for t0 in cuts:
        for sigma in (1.0, -1.0):
            pred = sigma * (t - t0) > 0
            err = int(np.sum(pred != (y == 1)))
            if err < best[0]:
                best = (err, sigma, t0)
    return best


def _max_margin(X: np.ndarray, labels: np.ndarray, w0, b0) -> tuple[np.ndarray, float] | None:
    """The max-margin line realising `labels` (class 1 where > 0), or None.

    Minimises |w|^2 subject to (2 l - 1)(w . x + b) >= 1 (a hard-margin SVM),
    with SLSQP started from the feasible line (w0, b0) rescaled. Cosmetic: it
    only moves the line to the middle of its gap; None if it does not realise
    `labels` exactly.
    """
    if labels.min() == labels.max():
        return None
    from scipy.optimize import minimize

    centre = X.mean(axis=0)
    scale = max(float(np.abs(X - centre).max()), 1e-300)
    Z = (X - centre) / scale
    sgn = 2.0 * labels - 1.0
    v0 = np.array([*(np.asarray(w0) * scale), b0 + float(np.asarray(w0) @ centre)])
    m = float(np.min(sgn * (Z @ v0[:2] + v0[2])))
    if not m > 0:
        return None
    v0 = v0 / m
    res = minimize(
        lambda v: v[0] ** 2 + v[1] ** 2,
        v0,
        jac=lambda v: np.array([2 * v[0], 2 * v[1], 0.0]),
        constraints=[{
            "type": "ineq",
            "fun": lambda v: sgn * (Z @ v[:2] + v[2]) - 1.0,
            "jac": lambda v: sgn[:, None] * np.c_[Z, np.ones(len(Z))],
        }],
        method="SLSQP",
        options={"maxiter": 200, "ftol": 1e-12},
    )
    w = res.x[:2] / scale
    b = float(res.x[2] - w @ centre)
    if np.all(np.isfinite(res.x)) and np.array_equal((X @ w + b) > 0, labels == 1):
        return w, b
    return None


def _normalise(w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    n = float(np.linalg.norm(w))
    return (w / n, b / n) if n > 0 else (w, b)


def _constant_line(X: np.ndarray, cls: int) -> tuple[np.ndarray, float]:
    """A line beyond all points that predicts `cls` everywhere on the data."""
    w = np.array([1.0, 0.0])
    b = -X[:, 0].min() + 1.0 if cls == 1 else -X[:, 0].max() - 1.0
    return w, b


def _candidates(X: np.ndarray, y: np.ndarray):
    """Errors of every (pair, orientation) candidate, before the on-line points.

    Returns i, j (pair indices), d (P, 2) directions x_j - x_i, s (P, n) signed
    distances to each line times |d|, the on-line mask (P, n), and err_pos,
    err_neg (P,): errors off the line with class 1 on the s > 0 / s < 0 side.
    """
    n = len(X)
    i, j = np.triu_indices(n, k=1)
    d = X[j] - X[i]  # (P, 2) direction of the line
    keep = np.any(d != 0, axis=1)  # skip coincident pairs
    i, j, d = i[keep], j[keep], d[keep]
    # w = (-d_y, d_x): s_k = w . (x_k - x_i)
    rel = X[None, :, :] - X[i][:, None, :]  # (P, n, 2)
    s = -d[:, None, 1] * rel[:, :, 0] + d[:, None, 0] * rel[:, :, 1]
    extent = max(float(np.ptp(X, axis=0).max()), 1e-300)
    tol = _REL_TOL * np.linalg.norm(d, axis=1)[:, None] * extent
    on = np.abs(s) <= tol
    pos, neg = (s > 0) & ~on, (s < 0) & ~on
    is1 = (y == 1)[None, :]
    err_pos = np.sum(pos & ~is1, axis=1) + np.sum(neg & is1, axis=1)  # class 1 on s > 0
    err_neg = np.sum(neg & ~is1, axis=1) + np.sum(pos & is1, axis=1)  # class 1 on s < 0
    return i, j, d, s, on, err_pos, err_neg


def _realise(X, i, d, s_row, on_row, orient, sigma, t0):
    """The tilted/shifted line for one candidate, as (w, b), strict rule."""
    w0 = orient * np.array([-d[1], d[0]])
    b0 = -float(w0 @ X[i])
    dd = float(d @ d)
    # g(x) = sigma * (t(x) - t0), t(x) = d . (x - x_i) / |d|^2; constant sigma if t0 infinite
    if np.isfinite(t0):
        gw = sigma * d / dd
        gb = sigma * (-float(d @ X[i]) / dd - t0)
    else:
        gw = np.zeros(2)
        gb = sigma * (1.0 if t0 == -np.inf else -1.0)
    g = X @ gw + gb
    off = ~on_row
    margin = np.abs(s_row[off]).min() if off.any() else 1.0
    scale = np.abs(g).max()
    delta = 0.5 * margin / scale if scale > 0 else 0.0
    return w0 + delta * gw, b0 + delta * gb


def min01_line(X, y) -> ExactLine:
    """The exact minimum 01 loss of a linear classifier on a 2D set.

    Parameters
    ----------
    X : (n, 2) float array.
    y : (n,) labels in {0, 1}; anything else raises ValueError.

    Returns an ``ExactLine`` whose ``(w, b)`` makes exactly ``errors`` mistakes
    under the strict rule ``class 1 where w @ x + b > 0``, with no training point
    on the line. O(n^3) time; fine for n <= 60.
    """
    X, y = _check(X, y)
    n = len(X)
    if n == 0:
        raise ValueError("X is empty")
    n1 = int(y.sum())
    # constant classifiers: (errors, how to build)
    options: list[tuple[int, tuple]] = [(n1, ("const", 0)), (n - n1, ("const", 1))]

    if n >= 2:
        i, j, d, s, on, err_pos, err_neg = _candidates(X, y)
        n_on = on.sum(axis=1)
        extra = np.zeros(len(i), dtype=int)  # best on-line errors; 0 for two points
        seen: dict[bytes, int] = {}  # one 1D search per distinct set of collinear points
        for p in np.flatnonzero(n_on > 2):  # collinear triples or duplicates
            key = on[p].tobytes()
            if key in seen:
                extra[p] = extra[seen[key]]
                continue
            seen[key] = p
            idx = np.flatnonzero(on[p])
            t = (X[idx] - X[i[p]]) @ d[p] / float(d[p] @ d[p])  # positions along the line
            extra[p] = _best_threshold_1d(t, y[idx])[0]
        for orient, err in ((1.0, err_pos), (-1.0, err_neg)):
            total = err + extra
            p = int(np.argmin(total)) if len(total) else None
            if p is not None:
                options.append((int(total[p]), ("pair", p, orient)))

    best_err, how = min(options, key=lambda o: o[0])
    if how[0] == "const":
        w, b = _constant_line(X, how[1])
    else:
        _, p, orient = how
        # positions of the points on the line along d (x_i at 0, x_j at 1)
        idx = np.flatnonzero(on[p])
        t = (X[idx] - X[i[p]]) @ d[p] / float(d[p] @ d[p])
        _, sigma, t0 = _best_threshold_1d(t, y[idx])
        w, b = _realise(X, int(i[p]), d[p], s[p], on[p], orient, sigma, t0)

    labels = ((X @ w + b) > 0).astype(int)
    mm = _max_margin(X, labels, w, b)
    if mm is not None:
        w, b = mm
    w, b = _normalise(np.asarray(w, dtype=float), float(b))
    errors = count_errors(w, b, X, y)
    if errors != best_err:  # pragma: no cover - would be a bug
        raise RuntimeError(f"realised line makes {errors} errors, expected {best_err}")
    return ExactLine(w=w, b=b, errors=errors)
