"""The one vote-ensemble layer under all five trainers (SVM, MLP, MLP400, SCD01, MLP01).

Paper A fits every model one-vs-all (binary: one problem whose positive class is
``classes_[1]``; k > 2 classes: one per class) and, for "32 votes", 32 fits of
each problem (bootstrap samples for the convex models, 32 seeds for the 01-loss
ones) combined by majority. Fitted weights carry the class problem P (1 for
binary, k otherwise) and the vote V as their two leading dimensions, in the
input's own (flattened) feature order.

The vote rule
-------------
A one-vs-all vote is *for* class k when its decision value is > 0; a softmax vote
(MLP400) is for its argmax class. Class k's confidence is

    conf_k = count_k + sigmoid(t_k),   count_k = number of votes for k,

where the tie-break t_k is the votes' mean decision value for k (softmax: the
mean log-probability; for two classes the mean log-odds, antisymmetric). Since
``0 < sigmoid < 1``, the most votes always win and the mean decision value only
breaks ties; with one vote this is the usual one-vs-all argmax of the decision
values (several or no classes claiming a point is common there). Confidences are
computed in float64: in float32 ``32 + sigmoid(20)`` rounds to 33, a false tie.

- ``predict``: the class of largest confidence;
- ``predict_proba``: ``conf / conf.sum(1)``, vote fractions in which the tie-break
  counts as at most one extra vote (binary: ``(count_1 + sigmoid(t)) / (V + 1)``),
  so its argmax is ``predict``;
- ``decision_function``: ``conf / (V + 1)`` per class; binary
  ``(conf_1 - conf_0) / (V + 1)``, positive exactly where classes_[1] is predicted;
- ``vote_fractions``: the plain fractions of votes.

Pieces
------
- :class:`VoteModule` (``nn.Module``): the rule on per-vote decision values;
  :class:`VoteLinear` (SVM, SCD01) and :class:`VoteMLP` (MLP and MLP400 with
  sigmoid hidden nodes, MLP01 with step nodes) compute them. ``forward`` gives
  differentiable per-class scores for gradient attacks (zero gradient through
  step nodes), ``predict`` the majority vote.
- :class:`VoteClassifier`: the scikit-learn side shared by the five estimators:
  input checks, chunked prediction through ``as_module(device=, dtype=)``,
  ``take_votes``, and ``save``/``load`` as safetensors + JSON.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from zerolib._checks import check_int
from zerolib.torchutil import resolve_device

__all__ = [
    "vote_confidence", "VoteModule", "VoteLinear", "VoteMLP", "VoteClassifier", "load",
    "stratified_bootstrap",
]

_PREDICT_CHUNK = 4096  # rows per forward pass when predicting
FORMAT = "zerolib.votes/1"  # the layout of a saved model's config.json


def vote_confidence(counts: torch.Tensor, tiebreak: torch.Tensor) -> torch.Tensor:
    """``counts + sigmoid(tiebreak)`` in float64: the vote rule of the module docstring."""
    return counts.double() + torch.sigmoid(tiebreak.double().clamp(-30, 30))


def stratified_bootstrap(y_idx: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Row indices of one bootstrap sample drawn with replacement *within each class*.

    Every class keeps its size, so every vote sees every class and each
    one-vs-all problem has both labels even on tiny data sets.
    """
    rows = [rng.choice(np.flatnonzero(y_idx == c), size=int(np.sum(y_idx == c)), replace=True)
            for c in np.unique(y_idx)]
    return np.sort(np.concatenate(rows))


# ------------------------------------------------------------------ torch modules
class VoteModule(nn.Module):
    """Base of the vote views. Subclasses implement ``votes(x)``: per-vote decision
    values (N, P, V) (one-vs-all) or logits (N, V, K) (``softmax``).

    Inputs (N, ...) are flattened; the weights are buffers (a frozen view of a
    fitted estimator), so the module is on one device in one dtype.
    """

    softmax = False

    def __init__(self, n_classes: int):
        super().__init__()
        self.n_classes = int(n_classes)

    @property
    def n_votes(self) -> int:
        raise NotImplementedError

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.n_features:
            raise ValueError(f"x has {x.shape[1]} features per row, the model expects {self.n_features}")
        buf = next(self.buffers())
        return x.to(device=buf.device, dtype=buf.dtype)

    def votes(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _counts_tiebreak(self, x: torch.Tensor):
        """Votes for each class and the tie-break, both (N, K)."""
        v = self.votes(x)
        if self.softmax:  # (N, V, K)
            counts = nn.functional.one_hot(v.argmax(-1), self.n_classes).sum(1).to(v.dtype)
            tiebreak = v.log_softmax(-1).mean(1)
            if self.n_classes == 2:  # antisymmetric, so the two confidences sum to V + 1
                t = (v[..., 1] - v[..., 0]).mean(1)
                tiebreak = torch.stack([-t, t], 1)
            return counts, tiebreak
        counts = (v > 0).sum(2).to(v.dtype)  # (N, P)
        mean = v.mean(2)
        if v.shape[1] == 1:  # binary: votes for class 1, the rest for class 0
            counts = torch.cat([v.shape[2] - counts, counts], 1)
            mean = torch.cat([-mean, mean], 1)
        return counts, mean

    def counts(self, x: torch.Tensor) -> torch.Tensor:
        """Votes for each class, (N, K) (binary: column 0 counts classes_[0]'s)."""
        return self._counts_tiebreak(x)[0]

    def confidence(self, x: torch.Tensor) -> torch.Tensor:
        """``counts + sigmoid(tie-break)``, (N, K), float64; see the module docstring."""
        return vote_confidence(*self._counts_tiebreak(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Majority-vote class indices (N,)."""
        return self.confidence(x).argmax(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable per-class scores (N, K): one-vs-all, the votes' mean decision
        value per class (binary ``[0, mean]``, so softmax cross-entropy on it is the
        logistic loss of the mean margin); softmax, the votes' mean log-probabilities."""
        v = self.votes(x)
        if self.softmax:
            return v.log_softmax(-1).mean(1)
        mean = v.mean(2)
        return torch.cat([torch.zeros_like(mean), mean], 1) if mean.shape[1] == 1 else mean


class VoteLinear(VoteModule):
    """Linear one-vs-all votes (SVM, SCD01): ``weight`` (P, V, D), ``bias`` (P, V);
    ``votes(x)`` = ``x @ weight[p, v] + bias[p, v]``, (N, P, V)."""

    def __init__(self, weight, bias, n_classes: int):
        super().__init__(n_classes)
        weight, bias = torch.as_tensor(weight), torch.as_tensor(bias)
        if weight.ndim != 3 or bias.shape != weight.shape[:2]:
            raise ValueError(f"weight must be (P, V, D) and bias (P, V), got {tuple(weight.shape)}, {tuple(bias.shape)}")
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.n_features = weight.shape[2]

    @property
    def n_votes(self) -> int:
        return self.weight.shape[1]

    def votes(self, x: torch.Tensor) -> torch.Tensor:
        p, v, d = self.weight.shape
        return (self._flat(x) @ self.weight.reshape(p * v, d).T).reshape(-1, p, v) + self.bias


class VoteMLP(VoteModule):
    """One-hidden-layer networks, one per (class problem, vote).

    ``W1`` (P, V, D, H), ``b1`` (P, V, H), ``W2`` (P, V, H, O), ``b2`` (P, V, O).
    ``activation``: ``"sigmoid"`` (paper A's MLP and MLP400) or ``"step"`` (MLP01:
    ``h = [x @ W1 + b1 > 0]``, 0/1). One-vs-all (``softmax=False``): O = 1 and
    ``votes(x)`` -> (N, P, V). Softmax (MLP400): P = 1, O = K and ``votes(x)`` ->
    logits (N, V, K).
    """

    ACTIVATIONS = ("sigmoid", "step")

    def __init__(self, W1, b1, W2, b2, n_classes: int, softmax: bool = False, activation: str = "sigmoid"):
        super().__init__(n_classes)
        for name, t in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
            self.register_buffer(name, torch.as_tensor(t))
        p, v, d, h = self.W1.shape
        o = int(n_classes) if softmax else 1
        if self.b1.shape != (p, v, h) or self.W2.shape != (p, v, h, o) or self.b2.shape != (p, v, o):
            raise ValueError("W1, b1, W2, b2 must have shapes (P, V, D, H), (P, V, H), (P, V, H, O), (P, V, O)")
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {self.ACTIVATIONS}, got {activation!r}")
        self.softmax = bool(softmax)
        self.activation = activation
        self.n_features = d

    @property
    def n_votes(self) -> int:
        return self.W1.shape[1]

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations (N, P, V, H)."""
        p, v, d, h = self.W1.shape
        pre = (self._flat(x) @ self.W1.permute(2, 0, 1, 3).reshape(d, p * v * h)).reshape(-1, p, v, h) + self.b1
        return torch.sigmoid(pre) if self.activation == "sigmoid" else (pre > 0).to(pre.dtype)

    def votes(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("npvh,pvho->npvo", self.hidden(x), self.W2) + self.b2
        return out[:, 0] if self.softmax else out[..., 0]


# ------------------------------------------------------------- scikit-learn base
def _memory_bytes(device: torch.device) -> int | None:
    """The device's total memory (RAM for the CPU), or None when it cannot be told."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError, RuntimeError):
        return None


def _check_fit_memory(name: str, n_votes: int, problems: int, n_rows: int, n_features: int, device) -> None:
    """Refuse a fit whose votes cannot fit in memory before allocating anything: every vote of
    every class problem holds its weights and, while training, a float32 projection of the
    batch, at least ``4 * problems * n_votes * (n_features + n_rows)`` bytes."""
    need = 4 * problems * n_votes * (n_features + n_rows)
    have = _memory_bytes(torch.device(device))
    if have is not None and need > have:
        raise ValueError(f"{name}: n_votes={n_votes} with {problems} class problem(s), {n_rows} rows and "
                         f"{n_features} features needs at least {need / 2**30:.1f} GiB, more than the "
                         f"{have / 2**30:.1f} GiB of {device}; use fewer votes")



def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


_REGISTRY: dict[str, type] = {}


class VoteClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn plumbing shared by the vote-ensemble estimators.

    Subclasses implement ``fit`` (starting with ``_prep_fit``), ``_module(dtype)``
    (their :class:`VoteModule`, on the CPU) and list their fitted arrays:
    ``_vote_arrays`` (arrays whose axis 1 is the vote, (P, V, ...)), ``_other_arrays``
    and ``_fitted_values`` (JSON-able fitted attributes). Every estimator has the
    parameters ``n_votes``, ``random_state``, ``device`` and ``verbose``.

    X may be a numpy array or a torch tensor (on any device) of any shape (N, ...);
    it is flattened to (N, D). NaN or inf raise a ValueError.
    """

    _vote_arrays: tuple[str, ...] = ()
    _other_arrays: tuple[str, ...] = ()
    _fitted_values: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # -- input checks ----------------------------------------------------------
    def _check_common_params(self) -> torch.device:
        check_int(f"{type(self).__name__}: parameter n_votes", self.n_votes, 1)
        if not isinstance(self.verbose, (bool, numbers.Integral)):
            raise ValueError(f"{type(self).__name__}: parameter verbose must be a bool; got {self.verbose!r}")
        return resolve_device(self.device)

    def _prep_X(self, X, reset: bool, y=None):
        """X -> float tensor (N, D), flattened, float32 or float64 as given (other
        dtypes become float32); with y, also the labels as a 1-D numpy array.
        ``reset`` records ``n_features_in_`` and ``input_shape_``."""
        name = type(self).__name__
        if torch.is_tensor(X):
            if X.dim() < 2:
                raise ValueError(
                    f"Expected a 2D or higher array (n_samples, ...), got a {X.dim()}D tensor; "
                    "reshape a single sample with x[None] or a single feature with x[:, None]."
                )
            if X.is_complex():
                raise ValueError("Complex data not supported")
            shape = tuple(int(s) for s in X.shape[1:])
            if X.shape[0] < 1 or math.prod(shape) < 1:
                raise ValueError(
                    f"Found array with shape {tuple(X.shape)}: at least 1 sample and 1 feature are required."
                )
            X = X.detach().reshape(X.shape[0], -1)
            if X.dtype not in (torch.float32, torch.float64):
                X = X.float()
            lo, hi = torch.aminmax(X)  # NaN propagates; one pass, no mask
            if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
                raise ValueError("Input X contains NaN or infinity.")
            if reset:
                self.n_features_in_ = int(X.shape[1])
                self.input_shape_ = shape
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {name} is expecting {self.n_features_in_} features as input."
                )
            if y is None:
                return X
            y = y.detach().cpu().numpy() if torch.is_tensor(y) else y
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            if y.ndim != 1:
                raise ValueError(f"y must be 1D (n_samples,); got shape {y.shape}")
            if len(y) != X.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {len(y)}]"
                )
            return X, y
        shape = None
        if isinstance(X, np.ndarray) and X.ndim >= 3:
            shape = X.shape[1:]
            X = X.reshape(X.shape[0], -1)
        kw = dict(reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=True)
        if y is None:
            X = validate_data(self, X, **kw)
        else:
            X, y = validate_data(self, X, y, **kw)
        if reset:
            self.input_shape_ = tuple(int(s) for s in shape) if shape is not None else (int(X.shape[1]),)
        X = np.ascontiguousarray(X)
        if not X.flags.writeable:
            X = X.copy()
        X = torch.from_numpy(X)
        return X if y is None else (X, y)

    def _prep_fit(self, X, y):
        """Checks common parameters and the training data -> (device, X tensor (N, D),
        class indices (N,) numpy); sets ``classes_``, ``n_features_in_``, ``input_shape_``."""
        device = self._check_common_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X, y = self._prep_X(X, reset=True, y=y)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; y contains only one class: {classes[0]!r}"
            )
        self.classes_ = classes
        _check_fit_memory(type(self).__name__, self.n_votes, 1 if len(classes) == 2 else len(classes), *X.shape,
                          device)
        return device, X, y_idx

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    @property
    def _problems(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    # -- the module -------------------------------------------------------------
    def _module(self, dtype: torch.dtype) -> VoteModule:  # pragma: no cover
        raise NotImplementedError

    def as_module(self, device=None, dtype=torch.float32) -> VoteModule:
        """The fitted model as a :class:`VoteModule` on ``device`` (default: the
        estimator's ``device``) in ``dtype``, for attacks and batched prediction."""
        check_is_fitted(self)
        return self._module(dtype).to(resolve_device(self.device if device is None else device))

    @property
    def n_votes_(self) -> int:
        """Votes per class problem of the fitted model."""
        check_is_fitted(self)
        first = getattr(self, self._vote_arrays[0])
        return int(np.shape(first[0] if isinstance(first, list) else first)[1])

    # -- prediction --------------------------------------------------------------
    def _per_row(self, X, method: str) -> np.ndarray:
        """``as_module(dtype=float64).<method>`` on X in chunks, as numpy (N, K)."""
        check_is_fitted(self)
        X = self._prep_X(X, reset=False)
        module = self.as_module(dtype=torch.float64)
        with torch.no_grad():
            out = [getattr(module, method)(X[s:s + _PREDICT_CHUNK]).cpu()
                   for s in range(0, X.shape[0], _PREDICT_CHUNK)]
        return torch.cat(out).double().numpy()

    def vote_fractions(self, X) -> np.ndarray:
        """Plain fractions of votes: for class 1 (binary, shape (N,)) or for each
        class (shape (N, k); one-vs-all fractions need not sum to one)."""
        f = self._per_row(X, "counts") / self.n_votes_
        return f[:, 1] if f.shape[1] == 2 else f

    def decision_function(self, X) -> np.ndarray:
        """Per-class ``conf / (V + 1)``; binary: ``(conf_1 - conf_0) / (V + 1)`` (N,),
        positive exactly where classes_[1] is predicted."""
        conf = self._per_row(X, "confidence") / (self.n_votes_ + 1)
        return conf[:, 1] - conf[:, 0] if conf.shape[1] == 2 else conf

    def predict_proba(self, X) -> np.ndarray:
        """Vote fractions with the tie-break as at most one extra vote; rows sum to 1
        and the argmax is ``predict``."""
        conf = self._per_row(X, "confidence")
        return conf / conf.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The class with the most votes (ties: the larger mean decision value)."""
        conf = self._per_row(X, "confidence")
        return self.classes_[conf.argmax(1)]

    # -- votes ---------------------------------------------------------------------
    def take_votes(self, votes) -> "VoteClassifier":
        """A copy of this fitted model that keeps only the given votes (indices into
        the vote axis), e.g. ``take_votes([0])``: the first vote alone. For the
        01-loss models, whose vote v depends only on the seed and v, that is exactly
        the model a fit with ``n_votes=len(votes)`` trains (bitwise, on one device)."""
        check_is_fitted(self)
        idx = np.asarray(votes, dtype=np.int64).reshape(-1)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.n_votes_:
            raise ValueError(f"votes must be indices in [0, {self.n_votes_}), got {votes!r}")
        new = copy.deepcopy(self)
        for name in self._vote_arrays:
            value = getattr(self, name)
            take = (lambda a: np.ascontiguousarray(np.take(a, idx, axis=1)))
            setattr(new, name, [take(a) for a in value] if isinstance(value, list) else take(value))
        new.n_votes = int(idx.size)
        return new

    # -- save / load --------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        """The fitted arrays by name; a list attribute ``a`` is stored as ``a.0``, ``a.1``, ..."""
        out = {}
        for name in self._vote_arrays + self._other_arrays:
            value = getattr(self, name)
            if isinstance(value, list):
                out.update({f"{name}.{i}": np.ascontiguousarray(a) for i, a in enumerate(value)})
            else:
                out[name] = np.ascontiguousarray(value)
        return out

    def save(self, path) -> Path:
        """Save to a directory: ``weights.safetensors`` (the fitted arrays) and
        ``config.json`` (class, parameters, labels, fitted values). Nothing in either
        can execute code; :func:`load` restores a model that predicts the same."""
        from safetensors.torch import save_file

        from zerolib._io import atomic_write, write_json

        check_is_fitted(self)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {k: torch.from_numpy(a.copy()) for k, a in self._arrays().items()}
        atomic_write(path / "weights.safetensors", lambda tmp: save_file(tensors, tmp))
        params = self.get_params()
        if params["random_state"] is not None and not _is_int(params["random_state"]):
            params["random_state"] = None  # a RandomState object cannot be saved as JSON
        params = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}
        params["device"] = str(params["device"])
        cfg = {
            "format": FORMAT,
            "class": type(self).__name__,
            "params": params,
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "object",
            "n_features_in": int(self.n_features_in_),
            "input_shape": list(self.input_shape_),
            "fitted": {k: getattr(self, k) for k in self._fitted_values if hasattr(self, k)},
        }
        if hasattr(self, "feature_names_in_"):
            cfg["feature_names_in"] = [str(s) for s in self.feature_names_in_]
        write_json(path / "config.json", cfg)
        return path

    @classmethod
    def load(cls, path) -> "VoteClassifier":
        """Load a model saved with :meth:`save` (from the base class: whichever
        estimator the folder holds; from a subclass: only that one)."""
        from safetensors.torch import load_file

        path = Path(path)
        try:
            cfg = json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} holds no readable config.json of a saved zerolib model: {err}") from err
        if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
            got = cfg.get("format") if isinstance(cfg, dict) else type(cfg).__name__
            raise ValueError(f"{path}: unknown model format {got!r} (expected {FORMAT!r})")
        missing_keys = {"class", "params", "classes", "classes_dtype", "n_features_in", "input_shape"} - set(cfg)
        if missing_keys:
            raise ValueError(f"{path}/config.json lacks {sorted(missing_keys)}")
        target = _REGISTRY.get(cfg.get("class"))
        if target is None or not issubclass(target, cls):
            raise ValueError(f"{path} holds a {cfg.get('class')}, not a {cls.__name__}")
        fitted = cfg.get("fitted", {})
        if not isinstance(fitted, dict) or set(fitted) - set(target._fitted_values):
            extra = sorted(set(fitted) - set(target._fitted_values)) if isinstance(fitted, dict) else fitted
            raise ValueError(f"{path}/config.json: 'fitted' names {extra}, which a {target.__name__} does not "
                             f"declare (it declares {list(target._fitted_values)})")
        defaults = target().get_params()
        unknown = set(cfg["params"]) - set(defaults) if isinstance(cfg["params"], dict) else {"<not a mapping>"}
        if unknown:
            raise ValueError(f"{path}/config.json: unknown parameters {sorted(unknown)} for a {target.__name__}")
        params = {k: (tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v)
                  for k, v in cfg["params"].items()}  # JSON has lists only
        est = target(**params)
        try:
            tensors = {k: t.numpy() for k, t in load_file(str(path / "weights.safetensors")).items()}
        except Exception as err:  # safetensors raises its own errors on a truncated or foreign file
            raise ValueError(f"{path}/weights.safetensors is not a readable safetensors file: {err}") from err
        for name in target._vote_arrays + target._other_arrays:
            parts = sorted((int(k.rsplit(".", 1)[1]), a) for k, a in tensors.items() if k.startswith(name + "."))
            if parts:
                tensors[name] = [a for _, a in parts]
        missing = set(target._vote_arrays + target._other_arrays) - set(tensors)
        if missing:
            raise ValueError(f"{path}: weights.safetensors lacks {sorted(missing)}")
        dt = cfg["classes_dtype"]
        est.classes_ = np.array(cfg["classes"], dtype=object if dt == "object" else np.dtype(dt))
        est.n_features_in_ = int(cfg["n_features_in"])
        est.input_shape_ = tuple(cfg["input_shape"])
        if "feature_names_in" in cfg:
            est.feature_names_in_ = np.array(cfg["feature_names_in"], dtype=object)
        for name in target._vote_arrays + target._other_arrays:
            setattr(est, name, tensors[name])
        for k, v in fitted.items():
            setattr(est, k, v)
        est._after_load()
        est._check_loaded(path)
        return est

    def _check_loaded(self, path) -> None:
        """A loaded model's arrays agree with its classes and features: weights floating and
        finite, every vote array (P, V, ...) with P class problems and one V, and a module that
        builds and reads ``n_features_in_`` features. A file that fails says so, by name."""
        def arrays():
            for name in self._vote_arrays + self._other_arrays:
                value = getattr(self, name)
                for i, a in enumerate(value if isinstance(value, list) else [value]):
                    yield (f"{name}[{i}]" if isinstance(value, list) else name), np.asarray(a), name

        if len(self.classes_) < 2:
            raise ValueError(f"{path}: a model needs at least two classes, config.json has {list(self.classes_)}")
        for label, a, name in arrays():
            if ("coef" in name or "intercept" in name) and not np.issubdtype(a.dtype, np.floating):
                raise ValueError(f"{path}: {label} has dtype {a.dtype}; weights must be floating point")
            if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
                raise ValueError(f"{path}: {label} holds NaN or infinity")
        try:
            module = self._module(torch.float64)
        except (ValueError, RuntimeError, IndexError) as err:
            raise ValueError(f"{path}: the weights do not form a model: {err}") from err
        if module.n_features != self.n_features_in_:
            raise ValueError(f"{path}: the weights read {module.n_features} features, config.json says "
                             f"{self.n_features_in_}")
        problems = 1 if len(self.classes_) == 2 or module.softmax else len(self.classes_)
        votes = set()
        for label, a, name in arrays():
            if name in self._vote_arrays:
                if a.ndim < 2 or a.shape[0] != problems:
                    raise ValueError(f"{path}: {label} has shape {a.shape}; its first axis must be the "
                                     f"{problems} class problem(s) of {len(self.classes_)} classes")
                votes.add(a.shape[1])
        if len(votes) != 1:
            raise ValueError(f"{path}: the vote arrays disagree on the number of votes: {sorted(votes)}")

    def _after_load(self) -> None:
        """Hook: rebuild fitted attributes that are not stored as they are."""


def load(path) -> VoteClassifier:
    """Load any zerolib estimator saved with ``save`` (the class is in config.json)."""
    return VoteClassifier.load(path)
