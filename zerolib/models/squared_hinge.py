"""The linear SVM's solver: many L2-regularised squared-hinge problems at once, by
Newton's method with conjugate gradients, in torch on CPU or CUDA.

Every problem b minimises LinearSVC's primal objective (liblinear's
``L2R_L2LOSS_SVC`` with ``intercept_scaling=1``, the intercept penalised like
every other weight):

    f_b(w, c) = (|w|^2 + c^2) / 2 + C_b * sum_i r_bi * max(0, 1 - y_bi (w . x_i + c))^2

over one shared data matrix X (n, d), with its own labels y_b in {-1, +1}, its own
row weights r_b >= 0 (a bootstrap sample is integer weights; a cross-validation
fold is 0/1 weights, so held-out rows never touch the fit) and its own C_b. That
is what the SVM needs at once: every (C, fold, class problem) of the C search,
then every (class problem, vote) of the final fit, all as one batched program.

Why not liblinear: on dense image data it is single-threaded over a sparse
copy of X, and its dual coordinate descent stalls at C >= 0.1 on CIFAR10 (it
hits ``max_iter``); the primal Newton method converges there in tens of
iterations, and batching turns its matrix-vector products into matrix products.

The method (as liblinear's primal solver, with a line search instead of a trust
region): f is strongly convex with a piecewise-linear gradient, so at each
iterate the generalised Hessian ``I + 2 C X_A^T diag(r) X_A`` (A: rows with
margin < 1) gives the Newton direction by preconditioned conjugate gradients
(Jacobi preconditioner, truncated at a relative residual of 0.1), and the step
length minimises f exactly along it (f is a one-dimensional piecewise quadratic
there: safeguarded Newton on its derivative). A problem stops when
``|grad f| <= tol * max(min(n_pos, n_neg), 1) / n * |grad f(0)|`` (liblinear's
rule, weighted counts), or after ``max_iter`` Newton steps; ``n_iter`` says
which. Arithmetic is float64.
"""

from __future__ import annotations

import torch

__all__ = ["fit_squared_hinge"]


def _margins(X, W, c):
    """Decision values (B, n) of every problem on every row."""
    return (X @ W.T).T + c[:, None]


def fit_squared_hinge(X: torch.Tensor, Y: torch.Tensor, weights: torch.Tensor, C: torch.Tensor, *,
                      tol: float = 1e-4, max_iter: int = 100, max_cg: int = 200):
    """Solve B squared-hinge SVM problems on the rows of ``X``.

    Args:
        X: (n, d) data, shared by all problems.
        Y: (B, n) labels in {-1, +1}.
        weights: (B, n) row weights >= 0 (0 leaves a row out of that problem).
        C: (B,) penalty of each problem, > 0.
        tol: relative gradient tolerance (module docstring).
        max_iter: Newton steps at most.
        max_cg: conjugate-gradient steps per Newton step at most.

    Returns:
        (W (B, d), c (B,), n_iter (B,) long, converged (B,) bool), float64, on X's device.
    """
    dt = torch.float64
    X = X.to(dt)
    Y, R, C = Y.to(device=X.device, dtype=dt), weights.to(device=X.device, dtype=dt), C.to(device=X.device, dtype=dt)
    B, n = Y.shape
    if X.ndim != 2 or X.shape[0] != n or R.shape != (B, n) or C.shape != (B,):
        raise ValueError(f"shapes must be X (n, d), Y and weights (B, n), C (B,); got {tuple(X.shape)}, "
                         f"{tuple(Y.shape)}, {tuple(R.shape)}, {tuple(C.shape)}")
    if not bool(((Y == 1) | (Y == -1)).all()) or bool((R < 0).any()) or not bool((C > 0).all()):
        raise ValueError("labels must be -1 or +1, weights >= 0 and C > 0")
    d = X.shape[1]
    precond = _SpectralPreconditioner(X)
    W = torch.zeros(B, d, dtype=dt, device=X.device)
    c = torch.zeros(B, dtype=dt, device=X.device)
    n_iter = torch.zeros(B, dtype=torch.long, device=X.device)
    pos, neg = (R * (Y > 0)).sum(1), (R * (Y < 0)).sum(1)
    scale = torch.clamp(torch.minimum(pos, neg), min=1) / R.sum(1).clamp(min=1)

    def gradient(W, c):
        z = _margins(X, W, c)
        viol = (1 - Y * z).clamp(min=0)  # (B, n)
        coef = -2 * C[:, None] * R * viol * Y  # d f / d z
        return W + (X.T @ coef.T).T, c + coef.sum(1), z, viol

    g, gc, z, viol = gradient(W, c)
    g0 = torch.sqrt((g * g).sum(1) + gc * gc)
    active = torch.ones(B, dtype=torch.bool, device=X.device)
    converged = torch.zeros(B, dtype=torch.bool, device=X.device)
    for _ in range(int(max_iter)):
        gnorm = torch.sqrt((g * g).sum(1) + gc * gc)
        converged = gnorm <= tol * scale * g0
        active = ~converged
        if not bool(active.any()):
            break
        n_iter += active.long()
        h = 2 * C[:, None] * R * (viol > 0)  # (B, n): Hessian weight of each row
        S, sc = _newton_direction(X, precond, h, g, gc, max_cg)
        u = _margins(X, S, sc)  # (B, n): change of the decision values per unit step
        t = _exact_step(W, c, S, sc, Y * z, Y * u, C, R)
        t = torch.where(active, t, torch.zeros_like(t))
        W = W + t[:, None] * S
        c = c + t * sc
        g, gc, z, viol = gradient(W, c)
    else:
        gnorm = torch.sqrt((g * g).sum(1) + gc * gc)
        converged = gnorm <= tol * scale * g0
    return W, c, n_iter, converged


class _SpectralPreconditioner:
    """M_b = I + a_b G_k, with G_k the top-k eigenpairs of G = X~^T X~ (X~ = [X, 1]) and
    a_b the mean Hessian weight of problem b: the Hessian as if every row had the
    average weight, on the subspace where G is large. Image features are strongly
    correlated, so G has a few huge eigenvalues that would slow CG down; inverting
    M_b on that subspace (identity elsewhere) removes them for every problem and
    step. The eigenpairs come from a seeded randomised subspace iteration on X~
    (k = ``rank``), so G itself is never formed."""

    def __init__(self, X, rank: int = 256, power_iters: int = 3, seed: int = 0):
        n, d = X.shape
        k = min(rank, d + 1, n)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        Q = torch.randn(d + 1, k, generator=gen, dtype=X.dtype).to(X.device)

        def gram_times(V):  # X~^T X~ V without forming X~
            XV = X @ V[:-1] + V[-1:]
            return torch.cat([X.T @ XV, XV.sum(0, keepdim=True)], 0)

        for _ in range(power_iters):
            Q = torch.linalg.qr(gram_times(Q))[0]
        lam, U = torch.linalg.eigh(Q.T @ gram_times(Q))  # Rayleigh-Ritz on the subspace
        self.Q = Q @ U  # (d + 1, k), orthonormal
        self.lam = lam.clamp(min=0)
        self.n = n

    def solve(self, h, r, rc):
        """M_b^-1 [r_b, rc_b] for every problem b."""
        a = h.sum(1) / self.n  # (B,)
        v = torch.cat([r, rc[:, None]], 1)
        coef = v @ self.Q  # (B, k)
        shrink = a[:, None] * self.lam[None] / (1 + a[:, None] * self.lam[None])
        out = v - (coef * shrink) @ self.Q.T
        return out[:, :-1], out[:, -1]


def _newton_direction(X, precond, h, g, gc, max_cg):
    """Preconditioned CG for (I + X~^T diag(h) X~) s = -g, per problem (X~ = [X, 1])."""

    def hess(S, sc):
        u = _margins(X, S, sc) * h
        return S + (X.T @ u.T).T, sc + u.sum(1)

    S, sc = torch.zeros_like(g), torch.zeros_like(gc)
    r, rc = -g, -gc
    zr, zc = precond.solve(h, r, rc)
    P, pc = zr.clone(), zc.clone()
    rz = (r * zr).sum(1) + rc * zc
    stop = 0.1 * torch.sqrt((g * g).sum(1) + gc * gc)
    for _ in range(int(max_cg)):
        running = torch.sqrt((r * r).sum(1) + rc * rc) > stop
        if not bool(running.any()):
            break
        HP, hpc = hess(P, pc)
        pHp = (P * HP).sum(1) + pc * hpc
        alpha = torch.where(running, rz / pHp.clamp(min=1e-300), torch.zeros_like(rz))
        S, sc = S + alpha[:, None] * P, sc + alpha * pc
        r, rc = r - alpha[:, None] * HP, rc - alpha * hpc
        zr, zc = precond.solve(h, r, rc)
        rz_new = (r * zr).sum(1) + rc * zc
        beta = torch.where(running, rz_new / rz.clamp(min=1e-300), torch.zeros_like(rz))
        P, pc = zr + beta[:, None] * P, zc + beta * pc
        rz = rz_new
    return S, sc


def _exact_step(W, c, S, sc, m, mu, C, R, iters: int = 30):
    """argmin_t f(w + t s): f is a convex piecewise quadratic in t whose derivative is

        phi'(t) = w.s + t |s|^2 - 2 C sum_i r_i max(0, 1 - m_i - t mu_i) mu_i

    (m = y z, mu = y u): safeguarded Newton on phi' inside a bracket [lo, hi]."""
    ws = (W * S).sum(1) + c * sc
    ss = (S * S).sum(1) + sc * sc

    def dphi(t):
        viol = (1 - m - t[:, None] * mu).clamp(min=0)
        d1 = ws + t * ss - 2 * C * (R * viol * mu).sum(1)
        d2 = ss + 2 * C * (R * (viol > 0) * mu * mu).sum(1)
        return d1, d2

    lo = torch.zeros_like(ws)
    hi = torch.ones_like(ws)
    for _ in range(60):  # grow hi until phi'(hi) >= 0 (the Newton step 1 nearly always is)
        d1, _ = dphi(hi)
        short = d1 < 0
        if not bool(short.any()):
            break
        lo = torch.where(short, hi, lo)
        hi = torch.where(short, hi * 2, hi)
    t = hi.clone()
    for _ in range(iters):
        d1, d2 = dphi(t)
        lo = torch.where(d1 < 0, t, lo)
        hi = torch.where(d1 > 0, t, hi)
        nt = t - d1 / d2
        inside = (nt > lo) & (nt < hi)
        t = torch.where(inside, nt, (lo + hi) / 2)
        if bool((d1.abs() <= 1e-12 * (ss.abs() + ws.abs() + 1)).all()):
            break
    return t
