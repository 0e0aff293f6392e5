"""scikit-learn estimators for the 01-loss models: SCD01Classifier and MLP01Classifier.

Prediction follows the one vote rule of ``zerolib.models.votes``: every vote of a binary
problem has a pre-threshold output ``o`` (SCD01: ``x @ w + b``; MLP01: the output
node's ``h @ w2 + b2`` with h the 0/1 hidden activations) and votes positive where
``o > 0``; the most votes win and ties go to the larger mean output, so a single
vote predicts the usual one-vs-all argmax of the outputs. ``as_module()`` is a
``VoteLinear`` (SCD01) or a ``VoteMLP`` with step hidden nodes (MLP01).

The fitted weights are in the input's own feature order (inputs flattened), see
the class docstrings.
"""

from __future__ import annotations

import time
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

from zerolib._checks import check_int, check_positive, check_real
from zerolib.models.votes import VoteClassifier, VoteLinear, VoteMLP, load

from zerolib.models.scd import _engine

__all__ = ["SCD01Classifier", "MLP01Classifier", "load", "vote_seed"]


def vote_seed(entropy: int, problem: int, vote: int) -> int:
    """The generator seed of vote ``vote`` of binary problem ``problem`` (one-vs-all
    class index; 0 for a binary fit), derived from the fit's entropy."""
    ss = np.random.SeedSequence(entropy=int(entropy), spawn_key=(int(problem), int(vote)))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


class _SCDBase(VoteClassifier):
    _other_arrays = ("history_",)
    _fitted_values = ("n_iter_", "fit_time_", "iter_time_")

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        p = self.get_params()

        def param(key):
            return f"{type(self).__name__}: parameter {key}"

        check_int(param("n_iter"), p["n_iter"], 1)
        check_real(param("batch_fraction"), p["batch_fraction"], 0, 1, low_open=True)
        check_int(param("n_candidates"), p["n_candidates"], 1)
        for step in ("step", "step_hidden", "step_output"):
            if step in p:
                check_positive(param(step), p[step])
        check_int(param("window"), p["window"], 0)
        check_real(param("balanced_fraction"), p["balanced_fraction"], 0, 1)
        if "hidden" in p:
            check_int(param("hidden"), p["hidden"], 1)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Fit ``n_votes`` votes per binary problem (one-vs-all for 3+ classes)."""
        return self._fit(X, y, votes=None)

    def _fit(self, X, y, votes=None):
        self._check_params()
        device, X, y_enc = self._prep_fit(X, y)
        X32 = X.float()
        if X.dtype != torch.float32 and not bool(torch.isfinite(X32).all()):
            raise ValueError("Input X contains values too large for float32 (infinity after conversion).")
        X = X32
        classes = self.classes_
        n_problems = 1 if len(classes) == 2 else len(classes)
        votes = list(range(self.n_votes)) if votes is None else [int(v) for v in votes]
        rs = self.random_state
        if rs is None:
            entropy = np.random.SeedSequence().entropy
        elif isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            entropy = int(rs)
        else:
            entropy = int(check_random_state(rs).randint(np.iinfo(np.int32).max))
        pos_class, seeds = [], []
        for c in range(n_problems):
            for v in votes:
                pos_class.append(1 if n_problems == 1 else c)
                seeds.append(vote_seed(entropy, c, v))
        prob = _engine.Problems(y_enc, pos_class, seeds, float(self.batch_fraction), device)
        XT = X.to(device).t().contiguous()
        del X
        cfg = self._config()
        t0 = time.perf_counter()
        out = self._train(XT, prob, cfg)
        self.fit_time_ = time.perf_counter() - t0
        V = len(votes)
        self.n_iter_ = int(cfg.n_iter)
        self.best_iter_ = out["best_iter"].reshape(n_problems, V).numpy()
        self.train_accuracy_ = out["train_accuracy"].reshape(n_problems, V).numpy()
        self.history_ = out["history"].numpy()
        self.iter_time_ = float(out["loop_time"])
        self._set_tensors(out, n_problems, V)
        return self

    def _common_config(self) -> dict:
        return dict(
            n_iter=int(self.n_iter),
            batch_fraction=float(self.batch_fraction),
            n_candidates=int(self.n_candidates),
            window=int(self.window),
            balanced_fraction=float(self.balanced_fraction),
            verbose=bool(self.verbose),
            desc=type(self).__name__,
        )

class SCD01Classifier(_SCDBase):
    """Linear 01-loss classifier trained by stochastic coordinate descent, with votes.

    Vote ``v`` of binary problem ``p`` predicts positive where
    ``x @ coef_[p, v] + intercept_[p, v] > 0`` (x flattened, features in the
    input's own order, ``coef_[p, v]`` unit norm). For a binary fit there is one
    problem, whose positive class is classes_[1]; for one-vs-all, problem k is
    class k against the rest.

    Parameters (defaults: the paper's CIFAR10 settings)
    ----------
    n_votes: votes per binary problem, each from its own random stream.
    n_iter: iterations (one batch, one full threshold search, one coordinate step).
    batch_fraction: fraction of each class drawn into a batch, without replacement.
    n_candidates: coordinates tried per step; each is moved by +step and by -step.
    step: coordinate move of the unit-norm weight vector.
    window: threshold positions tried either side of the current one, per candidate.
    balanced_fraction: share of the iterations that maximise balanced accuracy;
        the rest maximise balanced accuracy + accuracy.
    random_state: None, an int or a RandomState; the same seed gives the same model
        on the same device.
    device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when available) for training.
    verbose: show a progress bar over the iterations.

    Fitted attributes: classes_, coef_ (P, V, D), intercept_ (P, V), n_features_in_,
    input_shape_, n_votes_, n_iter_, best_iter_ (P, V) (iteration of the best
    full-training-data objective, the one kept), train_accuracy_ (P, V),
    history_ (n_iter, 2) (mean full-data accuracy of the current and of the best
    iterates), fit_time_ (seconds in fit), iter_time_ (seconds in the iterations,
    without data preparation and initialisation).
    """

    _vote_arrays = ("coef_", "intercept_", "best_iter_", "train_accuracy_")

    def __init__(
        self,
        n_votes=32,
        n_iter=1000,
        batch_fraction=0.75,
        n_candidates=128,
        step=0.17,
        window=20,
        balanced_fraction=0.2,
        random_state=None,
        device="auto",
        verbose=False,
    ):
        self.n_votes = n_votes
        self.n_iter = n_iter
        self.batch_fraction = batch_fraction
        self.n_candidates = n_candidates
        self.step = step
        self.window = window
        self.balanced_fraction = balanced_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _config(self):
        return _engine.Config(step=float(self.step), **self._common_config())

    def _train(self, XT, prob, cfg):
        return _engine.train_linear(XT, prob, cfg)

    def _set_tensors(self, out, P, V):
        self.coef_ = out["w"].reshape(P, V, -1).numpy()
        self.intercept_ = out["b"].reshape(P, V).numpy()

    def _module(self, dtype):
        return VoteLinear(torch.as_tensor(self.coef_, dtype=dtype), torch.as_tensor(self.intercept_, dtype=dtype),
                          len(self.classes_))


class MLP01Classifier(_SCDBase):
    """One-hidden-layer 01-loss network (0/1 step activations) trained by
    stochastic coordinate descent, with votes.

    Vote ``v`` of problem ``p``: ``h = [x @ hidden_coef_[p, v] + hidden_intercept_[p, v] > 0]``
    (H hidden nodes; ``hidden_coef_[p, v]`` is D x H with unit-norm columns, in the
    input's own feature order), positive where ``h @ coef_[p, v] + intercept_[p, v] > 0``.
    Each iteration moves the output node (all 2H coordinate moves, ``step_output``),
    then one randomly chosen hidden node (``n_candidates`` coordinates, ``step_hidden``),
    scored by the network's output.

    Parameters as SCD01Classifier, plus ``hidden`` (H), ``step_hidden`` and
    ``step_output``. Fitted attributes as SCD01Classifier with coef_ (P, V, H) and
    intercept_ (P, V) the output layer, plus hidden_coef_ (P, V, D, H) and
    hidden_intercept_ (P, V, H).
    """

    _vote_arrays = ("hidden_coef_", "hidden_intercept_", "coef_", "intercept_", "best_iter_", "train_accuracy_")

    def __init__(
        self,
        n_votes=32,
        n_iter=1000,
        batch_fraction=0.75,
        n_candidates=128,
        step_hidden=0.17,
        step_output=0.2,
        window=20,
        balanced_fraction=0.2,
        hidden=20,
        random_state=None,
        device="auto",
        verbose=False,
    ):
        self.n_votes = n_votes
        self.n_iter = n_iter
        self.batch_fraction = batch_fraction
        self.n_candidates = n_candidates
        self.step_hidden = step_hidden
        self.step_output = step_output
        self.window = window
        self.balanced_fraction = balanced_fraction
        self.hidden = hidden
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _config(self):
        return _engine.Config(
            step=float(self.step_hidden), step_output=float(self.step_output), hidden=int(self.hidden),
            **self._common_config(),
        )

    def _train(self, XT, prob, cfg):
        return _engine.train_mlp(XT, prob, cfg)

    def _set_tensors(self, out, P, V):
        H = out["W1"].shape[1]
        self.hidden_coef_ = out["W1"].reshape(P, V, H, -1).transpose(2, 3).contiguous().numpy()
        self.hidden_intercept_ = out["b1"].reshape(P, V, H).numpy()
        self.coef_ = out["w2"].reshape(P, V, H).numpy()
        self.intercept_ = out["b2"].reshape(P, V).numpy()

    def _module(self, dtype):
        t = [torch.as_tensor(a, dtype=dtype) for a in (self.hidden_coef_, self.hidden_intercept_,
                                                        self.coef_[..., None], self.intercept_[..., None])]
        return VoteMLP(*t, n_classes=len(self.classes_), activation="step")


