"""scikit-learn estimators for the 01-loss models: SCD01Classifier and MLP01Classifier.

Prediction: the vote rule of the convex baselines (``zerolib.models.ensemble``).
Every vote of a binary problem has a pre-threshold output ``o`` (SCD01:
``x @ w + b``; MLP01: the output node's ``h @ w2 + b2`` with h the 0/1 hidden
activations) and votes positive where ``o > 0``. Class k's confidence is

    conf_k = count_k + sigmoid(t_k)   (``zerolib.models.ensemble.vote_confidence``),

with count_k its votes and t_k the votes' mean ``o`` for its problem (binary: one
problem for classes_[1]; classes_[0] gets the other votes and ``-t``). The most
votes win; ties, common with one vote in one-vs-all (several or no classes claim
a point), go to the larger mean output, so a single vote predicts the usual
one-vs-all argmax of the outputs.
- ``predict``: the class of largest confidence;
- ``predict_proba``: ``conf / conf.sum(1)`` (binary: ``conf / (V + 1)``), whose
  argmax is ``predict``;
- ``decision_function``: ``conf / (V + 1)`` per class; binary
  ``(conf_1 - conf_0) / (V + 1)``, positive exactly when classes_[1] is predicted;
- ``vote_fractions``: the raw fractions of positive votes.

The fitted weights are in the input's own feature order (inputs flattened), see
the class docstrings; `as_module()` gives a `torch.nn.Module` returning per-class
vote counts (its ``predict`` applies the rule above), for attacks that query the
model in batches on any device.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from zerolib.models.ensemble import vote_confidence

from . import _engine

__all__ = ["SCD01Classifier", "MLP01Classifier", "VoteModule", "load", "vote_seed"]

_PRED_CHUNK = 4096


def vote_seed(entropy: int, problem: int, vote: int) -> int:
    """The generator seed of vote ``vote`` of binary problem ``problem`` (one-vs-all
    class index; 0 for a binary fit), derived from the fit's entropy."""
    ss = np.random.SeedSequence(entropy=int(entropy), spawn_key=(int(problem), int(vote)))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def _resolve_device(device) -> torch.device:
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got {device!r}") from e
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for, but CUDA is not available")
    return dev


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class VoteModule(torch.nn.Module):
    """A fitted 01-loss model as a module: ``forward(x)`` maps a batch (B, ...) to
    per-class vote counts (B, n_classes), float32, on x's device.

    For a binary model column 0 counts the votes for classes_[0] and column 1 those
    for classes_[1]; for one-vs-all, column k counts class k's positive votes.
    ``confidence(x)`` and ``predict(x)`` (class indices) apply the vote rule of the
    module docstring.
    """

    def __init__(self, kind: str, tensors: dict[str, torch.Tensor], n_classes: int, n_votes: int):
        super().__init__()
        self.kind = kind
        self.n_classes = n_classes
        self.n_votes = n_votes
        for k, v in tensors.items():
            self.register_buffer(k, v.detach().clone().float())

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, P, V) pre-threshold output of every binary problem P and vote V."""
        x = x.reshape(x.shape[0], -1).to(self.intercept.device, torch.float32)
        P, V = self.intercept.shape
        if self.kind == "scd01":
            return (x @ self.coef.reshape(P * V, -1).T + self.intercept.reshape(1, P * V)).reshape(-1, P, V)
        D, H = self.hidden_coef.shape[2:]
        W1 = self.hidden_coef.permute(2, 0, 1, 3).reshape(D, P * V * H)
        h = ((x @ W1 + self.hidden_intercept.reshape(1, -1)) > 0).float().reshape(-1, P, V, H)
        return (h * self.coef[None]).sum(-1) + self.intercept[None]

    def positive_votes(self, x: torch.Tensor) -> torch.Tensor:
        """(B, P, V) 0/1 votes of every binary problem P and vote V."""
        return (self.outputs(x) > 0).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _counts_and_mean(self.outputs(x))[0]

    def confidence(self, x: torch.Tensor) -> torch.Tensor:
        """``counts + sigmoid(mean output)`` per class, (B, n_classes), float64
        (float32 would round ``count + sigmoid`` to ``count + 1`` for large outputs)."""
        counts, mean = _counts_and_mean(self.outputs(x))
        return vote_confidence(counts.double(), mean.double())

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.confidence(x).argmax(1)


def _counts_and_mean(outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class vote counts and mean output (B, n_classes) from outputs (B, P, V);
    binary (P = 1): classes_[0] gets the other votes and the negated mean."""
    counts = (outputs > 0).sum(-1).float()
    mean = outputs.mean(-1)
    if outputs.shape[1] == 1:
        counts = torch.cat([outputs.shape[2] - counts, counts], 1)
        mean = torch.cat([-mean, mean], 1)
    return counts, mean


class _SCDBase(ClassifierMixin, BaseEstimator):
    _kind = ""
    _tensor_names: tuple[str, ...] = ()

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        name = type(self).__name__
        p = self.get_params()

        def bad(param, what):
            raise ValueError(f"{name}: parameter {param} must be {what}; got {p[param]!r}")

        if not _is_int(p["n_votes"]) or p["n_votes"] < 1:
            bad("n_votes", "an integer >= 1")
        if not _is_int(p["n_iter"]) or p["n_iter"] < 1:
            bad("n_iter", "an integer >= 1")
        if not _is_real(p["batch_fraction"]) or not (0 < p["batch_fraction"] <= 1):
            bad("batch_fraction", "a number in (0, 1]")
        if not _is_int(p["n_candidates"]) or p["n_candidates"] < 1:
            bad("n_candidates", "an integer >= 1")
        for s in ("step", "step_hidden", "step_output"):
            if s in p and (not _is_real(p[s]) or not (p[s] > 0) or not math.isfinite(p[s])):
                bad(s, "a finite number > 0")
        if not _is_int(p["window"]) or p["window"] < 0:
            bad("window", "an integer >= 0")
        if not _is_real(p["balanced_fraction"]) or not (0 <= p["balanced_fraction"] <= 1):
            bad("balanced_fraction", "a number in [0, 1]")
        if "hidden" in p and (not _is_int(p["hidden"]) or p["hidden"] < 1):
            bad("hidden", "an integer >= 1")
        if not isinstance(p["verbose"], (bool, numbers.Integral)):
            bad("verbose", "a bool")
        return _resolve_device(p["device"])

    def _prep_X(self, X, reset: bool, y=None):
        """X -> float32 tensor (N, D) (flattened); with y, also the label array."""
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
            X = X.detach().reshape(X.shape[0], -1)
            if X.shape[0] < 1 or X.shape[1] < 1:
                raise ValueError(
                    f"Found array with shape {tuple(X.shape)}: at least 1 sample and 1 feature are required."
                )
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
        kw = dict(reset=reset, dtype=[np.float32, np.float64], ensure_all_finite=True)
        if y is None:
            X = validate_data(self, X, **kw)
        else:
            X, y = validate_data(self, X, y, **kw)
        if reset:
            self.input_shape_ = tuple(int(s) for s in shape) if shape is not None else (int(X.shape[1]),)
        with np.errstate(over="ignore"):
            X32 = np.ascontiguousarray(X, dtype=np.float32)
        if X32.dtype != X.dtype and not np.isfinite(X32.sum(dtype=np.float64)):
            raise ValueError("Input X contains values too large for float32 (infinity after conversion).")
        if not X32.flags.writeable:
            X32 = X32.copy()
        X = torch.from_numpy(X32)
        return X if y is None else (X, y)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Fit ``n_votes`` votes per binary problem (one-vs-all for 3+ classes)."""
        return self._fit(X, y, votes=None)

    def _fit(self, X, y, votes=None):
        device = self._check_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X, y = self._prep_X(X, reset=True, y=y)
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; y contains only one class: {classes[0]!r}"
            )
        self.classes_ = classes
        n_problems = 1 if len(classes) == 2 else len(classes)
        votes = list(range(self.n_votes)) if votes is None else [int(v) for v in votes]
        rs = self.random_state
        if rs is None:
            entropy = np.random.SeedSequence().entropy
        elif _is_int(rs):
            entropy = int(rs)
        else:
            entropy = int(check_random_state(rs).randint(np.iinfo(np.int32).max))
        self._entropy = entropy
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
        self.n_votes_ = V
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

    # ------------------------------------------------------------------ predict
    def _tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k + "_"))) for k in self._tensor_names}

    def as_module(self) -> VoteModule:
        """A `torch.nn.Module` mapping a batch (B, ...) to per-class vote counts."""
        check_is_fitted(self)
        return VoteModule(self._kind, self._tensors(), len(self.classes_), int(self.n_votes_))

    def _per_row(self, X, method: str) -> np.ndarray:
        """``as_module().<method>`` on X in chunks, as float64 numpy (n, n_classes)."""
        check_is_fitted(self)
        X = self._prep_X(X, reset=False)
        mod = self.as_module().to(X.device)
        with torch.no_grad():
            out = [getattr(mod, method)(X[s : s + _PRED_CHUNK]).cpu() for s in range(0, X.shape[0], _PRED_CHUNK)]
        return torch.cat(out).double().numpy()

    def vote_fractions(self, X) -> np.ndarray:
        """Fraction of votes for class 1 (binary: shape (n,)) or for each class
        against the rest (one-vs-all: shape (n, n_classes)), not normalised."""
        f = self._per_row(X, "forward") / self.n_votes_
        return f[:, 1] if f.shape[1] == 2 else f

    def decision_function(self, X) -> np.ndarray:
        """Per-class ``conf / (V + 1)``; binary ``(conf_1 - conf_0) / (V + 1)``, shape
        (n,), > 0 exactly where classes_[1] is predicted (module docstring)."""
        conf = self._per_row(X, "confidence") / (self.n_votes_ + 1)
        return conf[:, 1] - conf[:, 0] if conf.shape[1] == 2 else conf

    def predict_proba(self, X) -> np.ndarray:
        """Vote fractions with the tie-break as at most one extra vote,
        ``conf / conf.sum(1)``; rows sum to one and the argmax is ``predict``."""
        conf = self._per_row(X, "confidence")
        return conf / conf.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The class with the most votes; ties go to the larger mean output."""
        conf = self._per_row(X, "confidence")
        return self.classes_[conf.argmax(1)]

    # ------------------------------------------------------------------ save / load
    def save(self, path) -> Path:
        """Save to a directory: ``weights.safetensors`` (tensors) and ``config.json``
        (hyperparameters and class labels). Nothing in either can execute code."""
        from safetensors.torch import save_file

        from zerolib.results import atomic_write, write_json

        check_is_fitted(self)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {k: t.contiguous() for k, t in self._tensors().items()}
        tensors["best_iter"] = torch.from_numpy(np.ascontiguousarray(self.best_iter_, dtype=np.int64))
        tensors["train_accuracy"] = torch.from_numpy(np.ascontiguousarray(self.train_accuracy_, dtype=np.float64))
        tensors["history"] = torch.from_numpy(np.ascontiguousarray(self.history_, dtype=np.float32))
        atomic_write(path / "weights.safetensors", lambda tmp: save_file(tensors, tmp))
        params = self.get_params()
        if params["random_state"] is not None and not _is_int(params["random_state"]):
            params["random_state"] = None
        params = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}
        params["device"] = str(params["device"])
        cfg = {
            "format": "zerolib.scd/1",
            "class": type(self).__name__,
            "params": params,
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "object",
            "n_features_in": int(self.n_features_in_),
            "input_shape": list(self.input_shape_),
            "n_votes": int(self.n_votes_),
            "n_iter": int(self.n_iter_),
            "fit_time": float(getattr(self, "fit_time_", float("nan"))),
            "iter_time": float(getattr(self, "iter_time_", float("nan"))),
        }
        if hasattr(self, "feature_names_in_"):
            cfg["feature_names_in"] = [str(s) for s in self.feature_names_in_]
        write_json(path / "config.json", cfg)
        return path

    @classmethod
    def load(cls, path):
        """Load a model saved with `save`; it predicts exactly as the saved one."""
        from safetensors.torch import load_file

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        if cfg.get("class") != cls.__name__:
            if cls is _SCDBase:
                cls = {"SCD01Classifier": SCD01Classifier, "MLP01Classifier": MLP01Classifier}[cfg["class"]]
            else:
                raise ValueError(f"{path} holds a {cfg.get('class')}, not a {cls.__name__}")
        est = cls(**cfg["params"])
        tensors = load_file(str(path / "weights.safetensors"))
        dt = cfg["classes_dtype"]
        est.classes_ = np.array(cfg["classes"], dtype=object if dt == "object" else np.dtype(dt))
        est.n_features_in_ = int(cfg["n_features_in"])
        est.input_shape_ = tuple(cfg["input_shape"])
        est.n_votes_ = int(cfg["n_votes"])
        est.n_iter_ = int(cfg["n_iter"])
        est.fit_time_ = float(cfg.get("fit_time", float("nan")))
        est.iter_time_ = float(cfg.get("iter_time", float("nan")))
        if "feature_names_in" in cfg:
            est.feature_names_in_ = np.array(cfg["feature_names_in"], dtype=object)
        for k in cls._tensor_names:
            setattr(est, k + "_", tensors[k].numpy())
        est.best_iter_ = tensors["best_iter"].numpy()
        est.train_accuracy_ = tensors["train_accuracy"].numpy()
        est.history_ = tensors["history"].numpy()
        return est


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

    _kind = "scd01"
    _tensor_names = ("coef", "intercept")

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

    _kind = "mlp01"
    _tensor_names = ("hidden_coef", "hidden_intercept", "coef", "intercept")

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


def load(path):
    """Load a saved SCD01Classifier or MLP01Classifier (the class is in config.json)."""
    return _SCDBase.load(path)
