"""The training engine: SCD01 and MLP01, many binary problems in one torch program.

A *model* here is one vote of one binary problem (for one-vs-all, one class against
the rest). All models of a fit are leading tensor dimensions of the same tensors
and go through the same operations; only the random draws (batch rows, candidate
coordinates, hidden node) are made model by model, each from the model's own
`torch.Generator` (on the training device), so a model's trajectory depends only
on its seed, never on which other models are trained beside it. The arithmetic on
projections is elementwise (no fused multiply-adds, no reductions in float), sort
keys and objectives are exact, so a model trained alone is bitwise the same as
that model trained in a batch.

Objective (integer, exact): with n1, n0 the class counts of the rows scored,
  phase 0 (the first `balanced_fraction` of the iterations): balanced accuracy,
      TP * n0 + TN * n1           (= 2 n0 n1 * balanced accuracy)
  phase 1: balanced accuracy + accuracy,
      TP * (n0 n + 2 n0 n1) + TN * (n1 n + 2 n0 n1)
and each iteration's model is scored on the full training data with the same
phase's objective; the best one seen is what the fit returns.

Weights are kept unnormalised (their norm is tracked) so that projections of the
full data can be updated by adding one scaled column; a coordinate move of `step`
on the unit-norm weights is a move of `step * norm` on the stored ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from zerolib.models.scd import _kernels as K

__all__ = ["Config", "Problems", "train_linear", "train_mlp"]


@dataclass
class Config:
    n_iter: int = 1000
    batch_fraction: float = 0.75
    n_candidates: int = 128
    step: float = 0.17  # linear weights / hidden columns
    step_output: float = 0.2  # MLP01 output node
    window: int = 20
    balanced_fraction: float = 0.2
    hidden: int = 20
    resync_every: int = 100  # recompute full-data projections from the weights
    chunk_elems: int | None = None  # candidate keys per window-search chunk
    verbose: bool = False
    desc: str = "SCD"


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


class Problems:
    """M binary problems over the same rows: model i's positives are the rows whose
    encoded label equals ``pos_class[i]``; ``seeds[i]`` seeds its generator."""

    def __init__(self, y_enc: np.ndarray, pos_class, seeds, batch_fraction: float, device):
        y_enc = np.asarray(y_enc, dtype=np.int64)
        self.N = len(y_enc)
        self.M = len(seeds)
        self.device = torch.device(device)
        self.pos_class = [int(c) for c in pos_class]
        # one generator per model, on the training device: on CUDA the draws are
        # made there (a CPU loop would dominate), so CPU and CUDA fits draw differently
        self.gens = []
        for s in seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(int(s))
            self.gens.append(g)
        idx = {}
        for c in sorted(set(self.pos_class)):
            pos = np.flatnonzero(y_enc == c)
            neg = np.flatnonzero(y_enc != c)
            idx[c] = (torch.from_numpy(pos).to(self.device), torch.from_numpy(neg).to(self.device))
        self.pos_idx = [idx[c][0] for c in self.pos_class]
        self.neg_idx = [idx[c][1] for c in self.pos_class]
        n1 = np.array([len(p) for p in self.pos_idx], dtype=np.int64)
        n0 = np.array([len(q) for q in self.neg_idx], dtype=np.int64)
        if (n1 < 1).any() or (n0 < 1).any():
            raise ValueError("every binary problem needs rows of both classes")
        k1 = np.array([min(n, max(1, _round_half_up(batch_fraction * n))) for n in n1], dtype=np.int64)
        k0 = np.array([min(n, max(1, _round_half_up(batch_fraction * n))) for n in n0], dtype=np.int64)
        self.k1, self.k0 = k1, k0
        self.n_real_np = k1 + k0
        self.n_max = int(self.n_real_np.max())
        dev = self.device
        self.n_real = torch.from_numpy(self.n_real_np).to(dev)
        self.n1_full = torch.from_numpy(n1).to(dev)
        self.n0_full = torch.from_numpy(n0).to(dev)
        self.k1_t = torch.from_numpy(k1).to(dev)
        self.k0_t = torch.from_numpy(k0).to(dev)
        yt = torch.from_numpy(y_enc).to(dev)
        pc = torch.tensor(self.pos_class, device=dev)
        self.Y = yt[None, :] == pc[:, None]  # (M, N) bool
        ar = np.arange(self.n_max)
        codes = (ar[None, :] < k1[:, None]).astype(np.int32)
        pad = ar[None, :] >= self.n_real_np[:, None]
        self.codes_y = torch.from_numpy(codes).to(dev)  # batch rows: positives first
        self.pad = torch.from_numpy(pad).to(dev) if pad.any() else None

    def draw_batch(self) -> torch.Tensor:
        """Row indices (M, n_max): a stratified sample, positives first, padded with 0."""
        dev = self.device
        out = torch.zeros((self.M, self.n_max), dtype=torch.int64, device=dev)
        for i, g in enumerate(self.gens):
            k1, k0 = int(self.k1[i]), int(self.k0[i])
            pos, neg = self.pos_idx[i], self.neg_idx[i]
            if k1 < len(pos):
                out[i, :k1] = pos[torch.randperm(len(pos), generator=g, device=dev)[:k1]]
            else:
                out[i, :k1] = pos
            if k0 < len(neg):
                out[i, k1 : k1 + k0] = neg[torch.randperm(len(neg), generator=g, device=dev)[:k0]]
            else:
                out[i, k1 : k1 + k0] = neg
        return out

    def draw_cols(self, D: int, C: int) -> torch.Tensor:
        dev = self.device
        if C >= D:
            return torch.arange(D, device=dev).expand(self.M, D).contiguous()
        return torch.stack([torch.randperm(D, generator=g, device=dev)[:C] for g in self.gens])

    def draw_node(self, H: int) -> torch.Tensor:
        dev = self.device
        return torch.cat([torch.randint(H, (1,), generator=g, device=dev) for g in self.gens])

    def draw_perm(self, H: int) -> torch.Tensor:
        dev = self.device
        return torch.stack([torch.randperm(H, generator=g, device=dev) for g in self.gens])

    def randn(self, i: int, *shape) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gens[i], device=self.device)

    def weights(self, phase: int, batch: bool):
        """Integer class weights (w1, w0) per model for the batch or the full data."""
        n1, n0 = (self.k1_t, self.k0_t) if batch else (self.n1_full, self.n0_full)
        if phase == 0:
            w1, w0 = n0.clone(), n1.clone()
        else:
            n = n1 + n0
            w1 = n0 * n + 2 * n0 * n1
            w0 = n1 * n + 2 * n0 * n1
        g = torch.gcd(w1, w0).clamp(min=1)
        return w1 // g, w0 // g


# ----------------------------------------------------------------------------------
# helpers


_POOL = None
_POOL_SIZE = 0


def _pool(n: int):
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < n:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="zerolib-scd")
        _POOL_SIZE = n
    return _POOL


class _Threads:
    """During a CPU fit, torch runs single-threaded (OpenMP teams stall badly when
    the cores are shared) and the window searches run on a pool of Python threads
    instead (numpy's sort and torch's kernels release the GIL)."""

    def __init__(self, device: torch.device):
        self.cpu = device.type == "cpu"
        self.n = torch.get_num_threads() if self.cpu else 1

    def __enter__(self):
        if self.cpu:
            self.saved = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self.cpu:
            torch.set_num_threads(self.saved)
        return False


def _gather_cols(XT: torch.Tensor, XT_np, cols: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """(m, C, n): XT[cols[i]][:, batch[i]] for every model i."""
    m, C = cols.shape
    n = batch.shape[1]
    if XT.device.type == "cpu":
        out = np.empty((m, C, n), dtype=np.float32)
        cn = cols.numpy()
        bn = batch.numpy()
        for i in range(m):
            np.take(np.take(XT_np, cn[i], axis=0), bn[i], axis=1, out=out[i])
        return torch.from_numpy(out)
    return XT[cols[:, :, None], batch[:, None, :]]


def _candidate_search(p, step, codes, pad, n_real, idx, gtab, base, nbits, cfg, threads,
                      cols=None, batch=None, XT=None, XT_np=None, xc=None):
    """Window search over coordinate moves, split into jobs of (models, candidates).

    The candidates are the +step and -step moves of the coordinates ``cols`` (data
    gathered from XT on the batch rows) or of the rows of ``xc`` (m, C, n). Returns
    per model ``(coord, negative, t, theta, score)``: the position of the moved
    coordinate in cols / xc, whether it moved by -step, and the threshold. Ties
    between candidates go to the first in the order (+ moves, then - moves, each
    in coordinate order), however the jobs were split.
    """
    M, n = p.shape
    C = cols.shape[1] if xc is None else xc.shape[1]
    budget = cfg.chunk_elems
    if budget is None:
        budget = (1 << 20) if p.device.type == "cpu" else (1 << 27)
    per_cand = 2 * n
    if M * C * per_cand <= budget:
        jobs = [(0, M, 0, C)]
    elif C * per_cand <= budget:
        mstep = max(1, budget // (C * per_cand))
        jobs = [(a, min(M, a + mstep), 0, C) for a in range(0, M, mstep)]
    else:
        cstep = max(1, budget // per_cand)
        jobs = [(a, a + 1, c, min(C, c + cstep)) for a in range(M) for c in range(0, C, cstep)]

    def run(job):
        a, b, c0, c1 = job
        x = _gather_cols(XT, XT_np, cols[a:b, c0:c1], batch[a:b]) if xc is None else xc[a:b, c0:c1]
        r = K.window_search(
            p[a:b], x, step[a:b], codes[a:b], None if pad is None else pad[a:b], n_real[a:b],
            idx[a:b], gtab[a:b], base[a:b], cfg.window, nbits,
        )
        return job, r

    if threads.n > 1 and len(jobs) > 1:
        results = list(_pool(threads.n).map(run, jobs))
    else:
        results = [run(j) for j in jobs]
    dev = p.device
    score = torch.full((M,), K.INT64_MIN, dtype=torch.int64, device=dev)
    order = torch.full((M,), 1 << 62, dtype=torch.int64, device=dev)
    coord = torch.zeros(M, dtype=torch.int64, device=dev)
    neg = torch.zeros(M, dtype=torch.bool, device=dev)
    t = torch.zeros(M, dtype=torch.int64, device=dev)
    theta = torch.zeros(M, dtype=torch.float32, device=dev)
    for (a, b, c0, c1), (cand, tc, thc, sc) in results:
        w = c1 - c0
        ng = cand >= w
        co = c0 + cand % w
        od = ng.long() * C + co
        better = (sc > score[a:b]) | ((sc == score[a:b]) & (od < order[a:b]))
        score[a:b] = torch.where(better, sc, score[a:b])
        order[a:b] = torch.where(better, od, order[a:b])
        coord[a:b] = torch.where(better, co, coord[a:b])
        neg[a:b] = torch.where(better, ng, neg[a:b])
        t[a:b] = torch.where(better, tc, t[a:b])
        theta[a:b] = torch.where(better, thc, theta[a:b])
    return coord, neg, t, theta, score


def _phase(it: int, cfg: Config) -> int:
    n_bal = int(math.ceil(cfg.balanced_fraction * cfg.n_iter))
    return 0 if it < n_bal else 1


def _progress(cfg: Config):
    if not cfg.verbose:
        return range(cfg.n_iter)
    from tqdm.auto import tqdm

    return tqdm(range(cfg.n_iter), desc=cfg.desc, leave=False)


class _Best:
    """Per-model record of the best iterate on the full training data."""

    def __init__(self, prob: Problems, tensors: dict[str, torch.Tensor]):
        dev = prob.device
        self.prob = prob
        self.tp = torch.full((prob.M,), -1, dtype=torch.int64, device=dev)
        self.tn = torch.full((prob.M,), -1, dtype=torch.int64, device=dev)
        self.it = torch.full((prob.M,), -1, dtype=torch.int64, device=dev)
        self.state = {k: v.clone() for k, v in tensors.items()}
        self.history = []  # (mean accuracy of current iterates, mean of best)

    def update(self, it: int, phase: int, pred: torch.Tensor, tensors: dict[str, torch.Tensor]):
        Y = self.prob.Y
        tp = (pred & Y).sum(1)
        tn = (~pred & ~Y).sum(1)
        w1, w0 = self.prob.weights(phase, batch=False)
        obj = tp * w1 + tn * w0
        best = torch.where(self.tp >= 0, self.tp * w1 + self.tn * w0, torch.full_like(obj, -1))
        imp = obj > best
        self.tp = torch.where(imp, tp, self.tp)
        self.tn = torch.where(imp, tn, self.tn)
        self.it = torch.where(imp, torch.full_like(self.it, it), self.it)
        for k, v in tensors.items():
            shape = (-1,) + (1,) * (v.dim() - 1)
            self.state[k] = torch.where(imp.view(shape), v, self.state[k])
        N = self.prob.N
        self.history.append(torch.stack([(tp + tn).float().mean() / N, (self.tp + self.tn).float().mean() / N]))

    def accuracy(self) -> torch.Tensor:
        return (self.tp + self.tn).double() / self.prob.N


# ----------------------------------------------------------------------------------
# The steps both trainers share: a sign flip after a full search, an accepted weight move,
# and the best iterate as the estimator's result.


def _flip_signs(d: torch.Tensor) -> torch.Tensor | None:
    """-1 for the models whose full search chose the other direction (``d == 1``), else +1;
    None when no model flips."""
    flip = d == 1
    return torch.where(flip, -1.0, 1.0) if bool(flip.any()) else None


def _flip_rows(d: torch.Tensor, *tensors: torch.Tensor) -> None:
    """Negate, in place, the rows (one per model) of ``tensors`` where ``d == 1``."""
    sgn = _flip_signs(d)
    if sgn is not None:
        for t in tensors:
            t.mul_(sgn[:, None])


def _accepted(Jc, J0, co, ng, step, arM):
    """The models whose best candidate move beats the full search (``Jc > J0``): the mask,
    their indices, the chosen coordinates and the signed steps; None when none does."""
    acc = Jc > J0
    if not bool(acc.any()):
        return None
    ia = arM[acc]
    return acc, ia, co[acc], torch.where(ng[acc], -step[ia], step[ia])


def _begin(trainer, it: int):
    """The start of iteration ``it`` of either trainer: a periodic resync of the projections,
    the phase, the batch and the candidate coordinates (drawn in this order)."""
    if it > 0 and it % trainer.cfg.resync_every == 0:
        trainer.resync()
    return _phase(it, trainer.cfg), trainer.prob.draw_batch(), trainer.prob.draw_cols(trainer.D, trainer.C)


def _output_gains(prob: Problems, phase: int):
    """The batch's class weights and the gain table of a search on the output's labels
    (code 0: y = 0, code 1: y = 1) with its base."""
    w1, w0 = prob.weights(phase, batch=True)
    return w1, w0, torch.stack([w0, -w1], 1), prob.k1_t * w1


def _norm_after(wold: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """The change of ||w||^2 when one weight goes from ``wold`` to ``wold + s`` (float64)."""
    return 2.0 * wold.double() * s.double() + s.double() ** 2


def _unit(w: torch.Tensor, theta: torch.Tensor, dim: int):
    """``w`` scaled to unit norm along ``dim`` and the bias ``-theta`` scaled alike (CPU float32)."""
    w = w.double()
    n = torch.linalg.vector_norm(w, dim=dim).clamp(min=1e-300)
    return (w / n.unsqueeze(dim)).float().cpu(), (-theta.double() / n).float().cpu()


class _Trainer:
    """What both trainers share: the loop over the iterations and the result, the best
    iterate's unit-norm weights with when and how well it was found."""

    def run(self) -> dict:
        t_loop = time.perf_counter()
        for it in _progress(self.cfg):
            self.step(it)
        if self.prob.device.type == "cuda":
            torch.cuda.synchronize(self.prob.device)
        t_loop = time.perf_counter() - t_loop
        best = self.best
        return {**self.best_weights(), "best_iter": best.it.cpu(), "train_accuracy": best.accuracy().cpu(),
                "history": torch.stack(best.history).cpu() if best.history else torch.empty(0, 2),
                "loop_time": t_loop}


# ----------------------------------------------------------------------------------
# SCD01


def train_linear(XT: torch.Tensor, prob: Problems, cfg: Config) -> dict:
    """Train M linear 01-loss models on data XT (D, N) float32 (on prob.device).

    Returns a dict of the best iterates: ``w`` (M, D) unit norm, ``b`` (M,) with
    class 1 where ``x @ w + b > 0``, plus ``best_iter``, ``train_accuracy``, ``history``.
    """
    with _Threads(prob.device) as threads:
        return _LinearTrainer(XT, prob, cfg, threads).run()


class _LinearTrainer(_Trainer):
    """The SCD01 loop for M models at once: per iteration a full threshold search, then the
    best of ``n_candidates`` single-weight moves on a batch."""

    def __init__(self, XT, prob: Problems, cfg: Config, threads):
        dev = prob.device
        self.XT, self.prob, self.cfg, self.threads = XT, prob, cfg, threads
        self.D, N = XT.shape
        M = prob.M
        self.C = min(cfg.n_candidates, self.D)
        self.XT_np = XT.numpy() if XT.device.type == "cpu" else None
        self.XTt = XT.t()
        # initial weights: N(0, 1), unit norm, one generator per model
        self.w = torch.empty((M, self.D), dtype=torch.float32, device=dev)
        for i in range(M):
            v = prob.randn(i, self.D)
            self.w[i] = v / torch.linalg.vector_norm(v).clamp(min=1e-30)
        self.P = torch.empty((M, N), dtype=torch.float32, device=dev)
        self.normsq = torch.empty(M, dtype=torch.float64, device=dev)
        self.resync()
        self.theta = torch.zeros(M, dtype=torch.float32, device=dev)
        self.best = _Best(prob, self.state())
        self.arM = torch.arange(M, device=dev)

    def state(self) -> dict[str, torch.Tensor]:
        return {"w": self.w, "theta": self.theta, "normsq": self.normsq}

    def resync(self) -> None:
        """Recompute the projections (and renormalise a weight vector drifting in scale)."""
        w = self.w
        for i in range(self.prob.M):
            ns = float(torch.dot(w[i].double(), w[i].double()))
            if not (1e-4 < ns < 1e4):
                w[i] /= math.sqrt(ns)
                ns = float(torch.dot(w[i].double(), w[i].double()))
            self.normsq[i] = ns
            self.P[i] = torch.mv(self.XTt, w[i])

    def step(self, it: int) -> None:
        prob, cfg = self.prob, self.cfg
        phase, batch, cols = _begin(self, it)
        w1, w0, gtab, base = _output_gains(prob, phase)
        pb = self.P.gather(1, batch)
        d, t, self.theta, J0 = K.full_search(pb, prob.codes_y, prob.pad, prob.n_real, gtab, base, 1)
        _flip_rows(d, self.w, self.P, pb)
        stepv = (cfg.step * self.normsq.sqrt()).float()
        co, ng, tc, thc, Jc = _candidate_search(
            pb, stepv, prob.codes_y, prob.pad, prob.n_real, t, gtab, base, 1, cfg, self.threads,
            cols=cols, batch=batch, XT=self.XT, XT_np=self.XT_np,
        )
        moves = _accepted(Jc, J0, co, ng, stepv, self.arM)
        if moves is not None:
            acc, ia, c, s = moves
            j = cols[ia, c]
            wold = self.w[ia, j]
            self.w[ia, j] = wold + s
            self.normsq[ia] += _norm_after(wold, s)
            self.P[ia] = self.P[ia] + self.XT[j] * s[:, None]
            self.theta = torch.where(acc, thc, self.theta)
        self.best.update(it, phase, self.P > self.theta[:, None], self.state())

    def best_weights(self) -> dict:
        w, b = _unit(self.best.state["w"], self.best.state["theta"], 1)
        return {"w": w, "b": b}


# ----------------------------------------------------------------------------------
# MLP01


def _ordered_sum(w2: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """sum_k w2[:, k] * h[:, k] in a fixed order, elementwise (h boolean)."""
    out = torch.where(h[:, 0], w2[:, 0, None], 0.0)
    for k in range(1, h.shape[1]):
        out = out + torch.where(h[:, k], w2[:, k, None], 0.0)
    return out


def train_mlp(XT: torch.Tensor, prob: Problems, cfg: Config) -> dict:
    """Train M one-hidden-layer 01-loss networks (0/1 hidden activations).

    Network: ``h = [x @ W1[k] + b1[k] > 0]`` for k < H, class 1 where
    ``h @ w2 + b2 > 0``. Returns the best iterates: ``W1`` (M, H, D) with unit rows,
    ``b1`` (M, H), ``w2`` (M, H) unit norm, ``b2`` (M,), and bookkeeping.
    """
    with _Threads(prob.device) as threads:
        return _MLPTrainer(XT, prob, cfg, threads).run()


# hidden-node codes: code = y + 2 out0 + 4 out1 (the output with the node off, and on)
_CODE_Y = (0, 1, 0, 1, 0, 1, 0, 1)
_CODE_OUT0 = (0, 0, 1, 1, 0, 0, 1, 1)
_CODE_OUT1 = (0, 0, 0, 0, 1, 1, 1, 1)


class _MLPTrainer(_Trainer):
    """The MLP01 loop for M networks at once. Per iteration: the output node's full search
    and weight moves, then one hidden node per network, searched and moved by the network's
    output with the other nodes fixed."""

    def __init__(self, XT, prob: Problems, cfg: Config, threads):
        dev = prob.device
        self.XT, self.prob, self.cfg, self.threads = XT, prob, cfg, threads
        self.D, N = XT.shape
        M, H = prob.M, cfg.hidden
        self.H = H
        self.C = min(cfg.n_candidates, self.D)
        self.XT_np = XT.numpy() if XT.device.type == "cpu" else None
        self.W1 = torch.empty((M, H, self.D), dtype=torch.float32, device=dev)
        self.w2 = torch.empty((M, H), dtype=torch.float32, device=dev)
        for i in range(M):
            v = prob.randn(i, H, self.D)
            self.W1[i] = v / torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp(min=1e-30)
            u = prob.randn(i, H)
            self.w2[i] = u / torch.linalg.vector_norm(u).clamp(min=1e-30)
        self.Z = torch.empty((M, H, N), dtype=torch.float32, device=dev)
        self.normsq1 = torch.empty((M, H), dtype=torch.float64, device=dev)
        self.normsq2 = torch.empty(M, dtype=torch.float64, device=dev)
        self.theta1 = torch.empty((M, H), dtype=torch.float32, device=dev)
        self.theta2 = torch.zeros(M, dtype=torch.float32, device=dev)
        self.resync(first=True)
        self.arM = torch.arange(M, device=dev)
        self.best = _Best(prob, self.state())
        self.cy, self.c0, self.c1 = (torch.tensor(c, device=dev) for c in (_CODE_Y, _CODE_OUT0, _CODE_OUT1))

    def state(self) -> dict[str, torch.Tensor]:
        return {"W1": self.W1, "theta1": self.theta1, "w2": self.w2, "theta2": self.theta2}

    def resync(self, first: bool = False) -> None:
        """Recompute projections, hidden outputs and network outputs (renormalising weights
        drifting in scale); on the first call, start each hidden threshold at its median."""
        W1, w2, theta1 = self.W1, self.w2, self.theta1
        for i in range(self.prob.M):
            ns = (W1[i].double() ** 2).sum(1)
            big = (ns <= 1e-4) | (ns >= 1e4)
            if bool(big.any()):
                r = ns.sqrt().where(big, torch.ones_like(ns))
                W1[i] /= r[:, None].float()
                theta1[i] /= r.float()
                ns = (W1[i].double() ** 2).sum(1)
            self.normsq1[i] = ns
            self.Z[i] = torch.mm(W1[i], self.XT)
            ns2 = float((w2[i].double() ** 2).sum())
            if not (1e-4 < ns2 < 1e4):
                w2[i] /= math.sqrt(ns2)
                self.theta2[i] /= math.sqrt(ns2)
                ns2 = float((w2[i].double() ** 2).sum())
            self.normsq2[i] = ns2
        if first:
            theta1.copy_(self.Z.median(dim=2).values)
        self.Hf = self.Z > theta1[..., None]
        self.O = _ordered_sum(w2, self.Hf)

    def output_search(self, batch, gtab, base):
        """The output node's full threshold search on the batch (flipping w2 where the other
        direction wins): the batch outputs and the search's results."""
        prob = self.prob
        ob = self.O.gather(1, batch)
        d, t, th2, J0 = K.full_search(ob, prob.codes_y, prob.pad, prob.n_real, gtab, base, 1)
        _flip_rows(d, self.w2, self.O, ob)
        return ob, t, th2, J0

    def hidden_codes(self, node, batch, w1c, w0c):
        """What hidden node ``node[i]``'s threshold search scores: each batch row's code
        (label, output with the node off, output with it on) and the gain table."""
        prob, arM = self.prob, self.arM
        hk = self.Hf[arM, node]
        w2k = self.w2[arM, node]
        O0 = self.O - torch.where(hk, w2k[:, None], 0.0)  # network output with h_k = 0
        O1 = O0 + w2k[:, None]  # ... with h_k = 1
        o0b = (O0 > self.theta2[:, None]).gather(1, batch)
        o1b = (O1 > self.theta2[:, None]).gather(1, batch)
        y_b = prob.codes_y.bool()
        codes = prob.codes_y + 2 * o0b.int() + 4 * o1b.int()
        if prob.pad is not None:
            codes = codes.masked_fill(prob.pad, 0)
        # a = w_y [out0 == y] (node below its threshold), b = w_y [out1 == y] (above)
        cy, c0, c1 = self.cy, self.c0, self.c1
        wy = torch.where(cy[None, :] == 1, w1c[:, None], w0c[:, None])  # (M, 8)
        gtab_h = wy * (c0 == cy).long()[None, :] - wy * (c1 == cy).long()[None, :]
        brow = torch.where(y_b, w1c[:, None], w0c[:, None]) * (o1b == y_b).long()
        if prob.pad is not None:
            brow = brow.masked_fill(prob.pad, 0)
        return codes, gtab_h, brow.sum(1), O0, O1

    def hidden_search(self, node, batch, w1c, w0c):
        """Full threshold search (both directions) of hidden node ``node[i]`` of every
        network, scored by the network output with the other nodes fixed; flips the node's
        weights where the other direction wins."""
        arM = self.arM
        zk = self.Z[arM, node]  # (M, N)
        codes, gtab_h, base_h, O0, O1 = self.hidden_codes(node, batch, w1c, w0c)
        zb = zk.gather(1, batch)
        d, t, th1, J0 = K.full_search(zb, codes, self.prob.pad, self.prob.n_real, gtab_h, base_h, 3)
        sgn = _flip_signs(d)
        if sgn is not None:
            self.W1[arM, node] = self.W1[arM, node] * sgn[:, None]
            zk.mul_(sgn[:, None])
            zb.mul_(sgn[:, None])
        return zk, zb, codes, gtab_h, base_h, t, th1, J0, O0, O1

    def commit_hidden(self, node, zk, th1, O0, O1) -> None:
        """Store node ``node[i]``'s projections and threshold, and the new network output."""
        arM = self.arM
        self.Z[arM, node] = zk
        self.theta1[arM, node] = th1
        hk_new = zk > th1[:, None]
        self.Hf[arM, node] = hk_new
        self.O = torch.where(hk_new, O1, O0)

    def first_thresholds(self, batch, w1c, w0c, gtab, base):
        """First iteration: every hidden threshold by a full search, nodes in a random order
        per network, then the output threshold again."""
        order = self.prob.draw_perm(self.H)
        for r in range(self.H):
            nd = order[:, r].contiguous()
            zk, _, _, _, _, _, th1, _, O0, O1 = self.hidden_search(nd, batch, w1c, w0c)
            self.commit_hidden(nd, zk, th1, O0, O1)
        ob, t, self.theta2, J0 = self.output_search(batch, gtab, base)
        return ob, t, J0

    def output_moves(self, ob, t, J0, batch, gtab, base) -> None:
        """The best move of one of the output node's H weights, where it beats the search."""
        prob, M = self.prob, self.prob.M
        hb = self.Hf.gather(2, batch[:, None, :].expand(M, self.H, batch.shape[1]))
        step2 = (self.cfg.step_output * self.normsq2.sqrt()).float()
        co, ng, tc, thc, Jc = _candidate_search(
            ob, step2, prob.codes_y, prob.pad, prob.n_real, t, gtab, base, 1, self.cfg, self.threads,
            xc=hb.float(),
        )
        moves = _accepted(Jc, J0, co, ng, step2, self.arM)
        if moves is not None:
            acc, ia, k2, s = moves
            wold = self.w2[ia, k2]
            self.w2[ia, k2] = wold + s
            self.normsq2[ia] += _norm_after(wold, s)
            self.O[ia] = self.O[ia] + torch.where(self.Hf[ia, k2], s[:, None], 0.0)
            self.theta2 = torch.where(acc, thc, self.theta2)

    def hidden_moves(self, node, batch, cols, w1c, w0c) -> None:
        """One hidden node per network: its full search, then the best of its weight moves."""
        prob = self.prob
        zk, zb, codes, gtab_h, base_h, t, th1, J0, O0, O1 = self.hidden_search(node, batch, w1c, w0c)
        step1 = (self.cfg.step * self.normsq1[self.arM, node].sqrt()).float()
        co, ng, tc, thc, Jc = _candidate_search(
            zb, step1, codes, prob.pad, prob.n_real, t, gtab_h, base_h, 3, self.cfg, self.threads,
            cols=cols, batch=batch, XT=self.XT, XT_np=self.XT_np,
        )
        moves = _accepted(Jc, J0, co, ng, step1, self.arM)
        if moves is not None:
            acc, ia, c, s = moves
            na = node[acc]
            j = cols[ia, c]
            wold = self.W1[ia, na, j]
            self.W1[ia, na, j] = wold + s
            self.normsq1[ia, na] += _norm_after(wold, s)
            zk[ia] = zk[ia] + self.XT[j] * s[:, None]
            th1 = torch.where(acc, thc, th1)
        self.commit_hidden(node, zk, th1, O0, O1)

    def step(self, it: int) -> None:
        prob = self.prob
        phase, batch, cols = _begin(self, it)
        node = prob.draw_node(self.H)
        w1c, w0c, gtab, base = _output_gains(prob, phase)
        ob, t, self.theta2, J0 = self.output_search(batch, gtab, base)
        if it == 0:
            ob, t, J0 = self.first_thresholds(batch, w1c, w0c, gtab, base)
        self.output_moves(ob, t, J0, batch, gtab, base)
        self.hidden_moves(node, batch, cols, w1c, w0c)
        self.best.update(it, phase, self.O > self.theta2[:, None], self.state())

    def best_weights(self) -> dict:
        W1, b1 = _unit(self.best.state["W1"], self.best.state["theta1"], 2)
        w2, b2 = _unit(self.best.state["w2"], self.best.state["theta2"], 1)
        return {"W1": W1, "b1": b1, "w2": w2, "b2": b2}
