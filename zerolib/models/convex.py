"""Paper A's convex baselines, with the estimator API of the 01-loss models.

- :class:`LinearSVMClassifier` -- the model of scikit-learn's ``LinearSVC`` (paper A
  uses it), fitted by a batched primal Newton solver, C chosen by cross-validation
  on the training data passed to ``fit``.
- :class:`MLPClassifier` -- 20 sigmoid hidden nodes, logistic loss, SGD with
  batch 200, momentum 0.9, lr 0.01; written in torch so attacks get gradients.
- :class:`MLP400Classifier` -- one shared 400-node sigmoid hidden layer and a
  softmax output (paper A's ImageNet model), not one-vs-all.

All are one-vs-all for k > 2 classes (except MLP400) and fit ``n_votes``
bootstrap votes combined by majority (``zerolib.models.votes`` documents the rule); ``n_votes=1`` (the default, the paper's "single run") fits on all rows.
Fitted weights are per (class problem, vote), in the input's feature order:
``coef_`` / ``intercept_`` for the SVM, ``coefs_`` / ``intercepts_`` for the MLPs.
``as_module()`` gives a torch view for attacks (see ``VoteLinear`` / ``VoteMLP``).
"""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from zerolib._checks import check_int, check_positive, check_real

from .votes import VoteClassifier, VoteLinear, VoteMLP, stratified_bootstrap
from .squared_hinge import fit_squared_hinge

__all__ = ["LinearSVMClassifier", "MLPClassifier", "MLP400Classifier", "DEFAULT_CS"]

DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0)
"""The C grid searched by ``LinearSVMClassifier`` when ``C=None``."""


def _rows_of_vote(est, y_idx: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """All rows for a single vote (the paper's single run), else a stratified bootstrap."""
    if est.n_votes == 1 or not est.bootstrap:
        return np.arange(len(y_idx))
    return stratified_bootstrap(y_idx, rng)


def _positive(name, value, integer=False):
    """A ValueError naming ``name`` unless ``value`` is a positive number (integer if asked)."""
    if integer:
        check_int(name, value, 1)
    else:
        check_positive(name, value)


class LinearSVMClassifier(VoteClassifier):
    """Linear SVM (``LinearSVC``'s model: squared hinge, L2 penalty), one-vs-all, with votes.

    The solver is :func:`~zerolib.models.squared_hinge.fit_squared_hinge`: the
    same objective as scikit-learn's ``LinearSVC`` (liblinear ``L2R_L2LOSS_SVC``,
    intercept penalised like the weights, ``intercept_scaling=1``), minimised by
    a primal Newton method in torch that solves many problems as one batched
    program -- every (C, fold, class problem) of the C search at once, then every
    (class problem, vote). Why not liblinear: its dual solver stalls on dense
    image data at C >= 0.1 (hits ``max_iter`` on CIFAR10) and it runs one
    problem at a time on one core; the primal Newton method converges there in
    about ten steps (see ``squared_hinge``). ``tol`` is liblinear's primal
    stopping rule, ``max_iter`` counts Newton steps.

    C: with ``C=None`` (default), chosen once per ``fit`` by ``cv``-fold
    stratified cross-validation (mean one-vs-all accuracy, ties to the smaller
    C) over ``Cs`` (default 1e-3 .. 10, ``DEFAULT_CS``), tried in ascending
    order and stopped once the accuracy has fallen ``cv_patience`` times in a
    row (default 1; None tries every C): a larger C costs more Newton-CG work
    (the Hessian's condition grows with C) and past the peak buys nothing.
    While the best C is the smallest tried, the search goes on below the grid
    by factors of 10, at most ``cv_extend`` times (default 2; small C are cheap
    to fit), so the chosen C is not an artefact of the grid's lower end. On at most
    ``cv_max_samples`` rows drawn (stratified) from the training data passed to
    ``fit`` -- never test data; held-out rows have weight 0 in the fold's fits.
    The folds shrink to the smallest class's size; below 2 rows per class the
    search is skipped and C = 1. The chosen C is used for every vote;
    ``cv_scores_`` maps each C to its mean validation accuracy.

    Fitted attributes: ``classes_``, ``C_``, ``cv_scores_``, ``coef_`` (P, V, D)
    and ``intercept_`` (P, V) with P = 1 (binary, the weights of class
    ``classes_[1]``) or k, ``n_iter_`` (P, V) Newton steps per fit,
    ``converged_`` (bool: every final fit met ``tol``), ``fit_time_``.
    """

    _vote_arrays = ("coef_", "intercept_", "n_iter_")
    _fitted_values = ("C_", "cv_scores_", "fit_time_", "converged_")

    def __init__(self, C=None, Cs=DEFAULT_CS, cv=3, cv_max_samples=10000, cv_patience=1, cv_extend=2,
                 max_iter=100, tol=1e-4, n_votes=1, bootstrap=True, random_state=None, device="auto",
                 verbose=False):
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.cv_max_samples = cv_max_samples
        self.cv_patience = cv_patience
        self.cv_extend = cv_extend
        self.max_iter = max_iter
        self.tol = tol
        self.n_votes = n_votes
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self):
        if self.C is not None:
            _positive("C", self.C)
        if len(self.Cs) == 0:
            raise ValueError("Cs must hold at least one value of C")
        for c in self.Cs:
            _positive("every value in Cs", c)
        _positive("cv", self.cv, integer=True)
        _positive("cv_max_samples", self.cv_max_samples, integer=True)
        if self.cv_patience is not None:
            _positive("cv_patience", self.cv_patience, integer=True)
        if isinstance(self.cv_extend, bool) or not isinstance(self.cv_extend, numbers.Integral) or self.cv_extend < 0:
            raise ValueError(f"cv_extend must be an integer >= 0, got {self.cv_extend!r}")
        _positive("max_iter", self.max_iter, integer=True)
        _positive("tol", self.tol)

    def _labels(self, y_idx: np.ndarray, device) -> torch.Tensor:
        """(P, n) +-1 labels of the one-vs-all problems (binary: classes_[1] positive)."""
        y = torch.as_tensor(y_idx, device=device)
        pos = torch.ones(1, device=device, dtype=torch.long) if self._problems == 1 else torch.arange(
            self._problems, device=device)
        return torch.where(y[None] == pos[:, None], 1.0, -1.0).double()

    def _solve(self, X, Y, R, C):
        return fit_squared_hinge(X, Y, R, C, tol=float(self.tol), max_iter=int(self.max_iter))

    def _choose_C(self, X, y_idx, rng, device):
        """Cross-validated C on (a stratified subsample of) the training rows only."""
        if self.C is not None:
            return float(self.C), {}
        rows = np.arange(len(y_idx))
        if len(rows) > self.cv_max_samples:
            frac = self.cv_max_samples / len(rows)
            rows = np.sort(np.concatenate([
                rng.choice(np.flatnonzero(y_idx == c), max(1, int(frac * np.sum(y_idx == c))), replace=False)
                for c in np.unique(y_idx)]))
        folds = min(int(self.cv), int(np.bincount(y_idx[rows]).min()))
        if folds < 2:
            return 1.0, {}
        split = StratifiedKFold(folds, shuffle=True, random_state=rng.randint(2**31 - 1))
        Xs, ys = X[torch.as_tensor(rows, device=X.device)], y_idx[rows]
        Y = self._labels(ys, device)  # (P, m)
        masks = []
        for tr, _ in split.split(rows, ys):
            m = torch.zeros(len(rows), dtype=torch.float64, device=device)
            m[torch.as_tensor(tr, device=device)] = 1
            masks.append(m)
        P, F = Y.shape[0], len(masks)
        R = torch.stack(masks).repeat_interleave(P, 0)  # problems ordered (fold, class problem)
        truth = torch.as_tensor(ys, device=device)
        held_out = torch.stack(masks) == 0  # (F, m)

        def score(c_):  # mean held-out accuracy of C over the folds, every class problem in one batch
            W, c, _, _ = self._solve(Xs, Y.repeat(F, 1), R, torch.full((F * P,), c_, dtype=torch.float64,
                                                                       device=device))
            z = (Xs.double() @ W.T + c).T.reshape(F, P, -1)  # decision values on every row
            pred = (z[:, 0] > 0).long() if P == 1 else z.argmax(1)  # (F, m)
            return float((((pred == truth) & held_out).sum(1).double() / held_out.sum(1).double()).mean())

        means, worse = {}, 0
        for c_ in sorted(float(c) for c in self.Cs):  # ascending: the small, fast C first
            best = max(means.values(), default=-1.0)
            means[c_] = score(c_)
            worse = worse + 1 if means[c_] < best else 0
            if self.cv_patience is not None and worse >= self.cv_patience:
                break  # accuracy has fallen for cv_patience larger C in a row
        for _ in range(int(self.cv_extend)):  # the best C is the grid's smallest: look below it
            lowest = min(means)
            if means[lowest] < max(means.values()):
                break
            means[lowest / 10] = score(lowest / 10)
        best = max(means.values())
        return min(c_ for c_, s in means.items() if s == best), means

    def fit(self, X, y):
        """Fit on (X, y): choose C on these rows, then fit ``n_votes`` votes."""
        self._check_params()
        device, X, y_idx = self._prep_fit(X, y)
        X = X.to(device=device, dtype=torch.float64)
        rng = check_random_state(self._seed())
        start_time = time.perf_counter()
        self.C_, self.cv_scores_ = self._choose_C(X, y_idx, rng, device)
        V, n = int(self.n_votes), len(y_idx)
        counts = np.stack([np.bincount(_rows_of_vote(self, y_idx, rng), minlength=n) for _ in range(V)])
        Y = self._labels(y_idx, device)  # (P, n)
        P = Y.shape[0]
        R = torch.as_tensor(counts, dtype=torch.float64, device=device).repeat(P, 1)  # (P * V, n)
        W, c, n_iter, converged = self._solve(X, Y.repeat_interleave(V, 0), R,
                                              torch.full((P * V,), self.C_, dtype=torch.float64, device=device))
        self.coef_ = W.reshape(P, V, -1).cpu().numpy()
        self.intercept_ = c.reshape(P, V).cpu().numpy()
        self.n_iter_ = n_iter.reshape(P, V).cpu().numpy()
        self.converged_ = bool(converged.all())
        if not self.converged_:
            warnings.warn(f"LinearSVMClassifier: {int((~converged).sum())} of {P * V} fits did not reach "
                          f"tol={self.tol} in max_iter={self.max_iter} Newton steps", ConvergenceWarning)
        self.fit_time_ = time.perf_counter() - start_time
        return self

    def _module(self, dtype):
        return VoteLinear(torch.as_tensor(self.coef_, dtype=dtype), torch.as_tensor(self.intercept_, dtype=dtype),
                          len(self.classes_))


class MLPClassifier(VoteClassifier):
    """Sigmoid MLP trained by SGD in torch: paper A's convex "MLP" baseline.

    Defaults are the paper's: ``hidden=20`` sigmoid nodes, logistic loss, SGD with
    ``batch_size=200``, ``momentum=0.9``, ``lr=0.01`` (paper: 0.001 on ImageNet),
    for ``epochs`` epochs (the paper does not give the number; 100 by default: on
    CIFAR10 0 vs 1, 30 epochs reach 83.8 % test accuracy, 100 reach 88.0 %, 300
    reach 88.5 % while training accuracy climbs to 97 %; the paper has 88.7 %).
    ``multiclass``:

    - ``"ovr"``: one binary network per class problem (one for binary), each with
      the logistic loss -- paper A's one-vs-all;
    - ``"softmax"``: one network with k outputs and the cross-entropy loss.

    All (class problem, vote) networks train at once as one batched program (a
    leading P x V dimension): the summed loss gives each network exactly its own
    gradient, and each vote draws its own minibatches from its own bootstrap
    sample, so this equals training them one at a time. Initialisation is
    ``nn.Linear``'s (uniform +-1/sqrt(fan_in)), drawn from one CPU generator
    seeded by ``random_state``, so a seed gives the same model on any device.

    Fitted attributes: ``classes_``, ``coefs_`` = [W1 (P, V, D, H), W2 (P, V, H, O)],
    ``intercepts_`` = [b1 (P, V, H), b2 (P, V, O)] (numpy float32; O = 1 for
    one-vs-all, k for softmax; P = 1 for binary or softmax), ``loss_curve_``
    (mean training loss per epoch, averaged over the networks).
    """

    _MULTICLASS = ("ovr", "softmax")
    _vote_arrays = ("coefs_", "intercepts_")  # lists [hidden, output] of (P, V, ...) arrays
    _fitted_values = ("loss_curve_", "fit_time_")

    def __init__(self, hidden=20, epochs=100, batch_size=200, lr=0.01, momentum=0.9, multiclass="ovr",
                 n_votes=1, bootstrap=True, random_state=None, device="auto", verbose=False):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.multiclass = multiclass
        self.n_votes = n_votes
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self):
        for name in ("hidden", "epochs", "batch_size"):
            _positive(name, getattr(self, name), integer=True)
        _positive("lr", self.lr)
        check_real("momentum", self.momentum, 0, 1, high_open=True)
        if self.multiclass not in self._MULTICLASS:
            raise ValueError(f"multiclass must be one of {self._MULTICLASS}, got {self.multiclass!r}")

    @property
    def _softmax(self) -> bool:
        return self.multiclass == "softmax"

    def fit(self, X, y):
        """Train ``n_votes`` networks per class problem on (X, y)."""
        self._check_params()
        device, X, y_idx = self._prep_fit(X, y)
        seed = self._seed()
        rng = check_random_state(seed)
        gen = torch.Generator().manual_seed(seed)
        start_time = time.perf_counter()
        k, (n, d), h, v = len(self.classes_), X.shape, int(self.hidden), int(self.n_votes)
        p, o = (1, k) if self._softmax else (self._problems, 1)

        def uniform(shape, fan_in):
            bound = 1.0 / np.sqrt(fan_in)
            return ((torch.rand(shape, generator=gen) * 2 - 1) * bound).to(device).requires_grad_(True)

        params = [uniform((p, v, d, h), d), uniform((p, v, h), d), uniform((p, v, h, o), h), uniform((p, v, o), h)]
        W1, b1, W2, b2 = params
        opt = torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)

        Xt = X.to(device=device, dtype=torch.float32)
        yt = torch.as_tensor(y_idx, device=device)
        if not self._softmax:  # (P, N) binary targets of each class problem
            target = (yt[None] == 1) if p == 1 else (yt[None] == torch.arange(p, device=device)[:, None])
            target = target.float()
        rows = torch.as_tensor(np.stack([_rows_of_vote(self, y_idx, rng) for _ in range(v)]), device=device)

        self.loss_curve_ = []
        for _ in tqdm(range(int(self.epochs)), desc="MLP epochs", disable=not self.verbose):
            order = rows.gather(1, torch.argsort(torch.rand(v, n, generator=gen), 1).to(device))
            total = 0.0
            for start in range(0, n, int(self.batch_size)):
                idx = order[:, start:start + int(self.batch_size)]  # (V, B)
                hid = torch.sigmoid(torch.einsum("vbd,pvdh->pvbh", Xt[idx], W1) + b1[:, :, None])
                out = torch.einsum("pvbh,pvho->pvbo", hid, W2) + b2[:, :, None]
                if self._softmax:
                    per = torch.nn.functional.cross_entropy(out[0].permute(0, 2, 1), yt[idx], reduction="none")
                else:
                    per = torch.nn.functional.binary_cross_entropy_with_logits(
                        out[..., 0], target[:, idx], reduction="none")  # target[:, idx]: (P, V, B)
                loss = per.mean(-1).sum()  # each network's own mean-batch loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.shape[1]
            self.loss_curve_.append(total / (n * p * v))
        self.coefs_ = [W1.detach().cpu().numpy(), W2.detach().cpu().numpy()]
        self.intercepts_ = [b1.detach().cpu().numpy(), b2.detach().cpu().numpy()]
        self.fit_time_ = time.perf_counter() - start_time
        return self

    def _module(self, dtype):
        t = [torch.as_tensor(a, dtype=dtype) for a in (self.coefs_[0], self.intercepts_[0], self.coefs_[1],
                                                        self.intercepts_[1])]
        return VoteMLP(*t, n_classes=len(self.classes_), softmax=self._softmax)


class MLP400Classifier(MLPClassifier):
    """Paper A's ImageNet MLP: one shared 400-node sigmoid hidden layer, softmax
    output, cross-entropy (not one-vs-all). Same training as :class:`MLPClassifier`
    (paper: lr 0.001 on ImageNet; pass ``lr=0.001`` there)."""

    def __init__(self, hidden=400, epochs=100, batch_size=200, lr=0.01, momentum=0.9, multiclass="softmax",
                 n_votes=1, bootstrap=True, random_state=None, device="auto", verbose=False):
        super().__init__(hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                         multiclass=multiclass, n_votes=n_votes, bootstrap=bootstrap,
                         random_state=random_state, device=device, verbose=verbose)
