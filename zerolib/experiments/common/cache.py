"""The one model cache: every notebook of a profile trains each model once.

A cached model is keyed by what determines it -- the estimator's class and
hyperparameters (``get_params()``, the seed included) and a description of the
training data (dataset, classes, rows, preprocessing) -- hashed into a folder
name under :func:`cache_root`:

    <root>/<ClassName>-<hash16>/
        weights.safetensors, config.json   the model (``VoteClassifier.save``)
        key.json                           the full key, for a reader
        COMPLETE                           written last: the entry is finished

Concurrency: several processes (the parallel runner's workers) may share a cache.
Each entry has a lock file (``<root>/.locks/<folder>.lock``, an ``fcntl.flock`` the
operating system releases when its holder dies), held while the entry is trained
or a job's state folder is in use: two tasks needing the same model train it
once, the second waits and loads the first one's fit.

Only an entry with ``COMPLETE`` whose ``key.json`` equals the key, whose files
still have the sha256 digests ``COMPLETE`` records, and whose model loads (the
loader checks shapes, dtypes and values) is reused. A fit killed half-way leaves
no ``COMPLETE`` and is retrained silently; an entry that fails a check (a tampered
or truncated file) is retrained with a warning naming it and the reason. Files are safetensors + JSON, never
pickle. The place is one setting: ``ZEROLIB_MODELS``, default
``$ZEROLIB_CACHE/models`` (``ZEROLIB_CACHE`` defaults to ``~/.cache/zerolib``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from zerolib._io import write_json
from zerolib.torchutil import resolve_device

__all__ = ["cache_root", "cache_key", "ModelCache", "CacheEntryWarning"]


def cache_root() -> Path:
    """Where cached models live: ``ZEROLIB_MODELS``, else ``$ZEROLIB_CACHE/models``."""
    if os.environ.get("ZEROLIB_MODELS"):
        return Path(os.environ["ZEROLIB_MODELS"]).expanduser()
    base = os.environ.get("ZEROLIB_CACHE") or "~/.cache/zerolib"
    return Path(base).expanduser() / "models"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def cache_key(estimator, data: dict[str, Any]) -> dict[str, Any]:
    """The key of ``estimator`` (unfitted, with its parameters) trained on ``data``
    (a JSON-able description of the training rows). The device enters as the kind it
    resolves to (``"cpu"`` or ``"cuda"``): the two draw their random numbers differently,
    so they learn different models from one seed. ``verbose`` is left out."""
    params = {k: v for k, v in estimator.get_params().items() if k not in ("device", "verbose")}
    params["device"] = resolve_device(estimator.get_params().get("device", "auto")).type
    return _jsonable({"class": type(estimator).__name__, "params": params, "data": data})


class CacheEntryWarning(UserWarning):
    """A cache entry failed a check and is retrained."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_digests(folder: Path) -> None:
    """Every file ``COMPLETE`` lists still has its sha256 (entries written before digests
    were recorded, whose ``COMPLETE`` says only "ok", are not checked)."""
    text = (folder / "COMPLETE").read_text()
    if text.strip() == "ok":
        return
    for name, digest in json.loads(text)["sha256"].items():
        if not (folder / name).is_file():
            raise ValueError(f"{name} is missing")
        if _sha256(folder / name) != digest:
            raise ValueError(f"{name} changed since it was written (sha256 mismatch)")


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


class ModelCache:
    """Fitted zerolib estimators on disk, keyed by :func:`cache_key`.

    ``cache.fit(estimator, data, X, y)`` returns the cached fit when a complete
    entry exists, else fits ``estimator`` on (X, y), saves it and returns it.
    ``X`` may be a callable returning (X, y), so a cache hit never loads the data.
    ``hits`` and ``misses`` count what happened.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_root()
        self.hits = 0
        self.misses = 0

    def path(self, key: dict[str, Any]) -> Path:
        return self.root / f"{key['class']}-{_digest(key)}"

    def get(self, key: dict[str, Any]):
        """The cached model for ``key``, or None if there is no complete, loadable entry."""
        from zerolib.models.votes import load

        return self._read(key, load)

    def _read(self, key: dict[str, Any], load: Callable[[Path], Any]):
        """``load(folder)`` of the entry for ``key``, or None unless it is complete,
        holds this key, matches its digests and loads (a corrupt entry is retrained, with
        a :class:`CacheEntryWarning` naming it, never trusted)."""
        folder = self.path(key)
        if not (folder / "COMPLETE").is_file():
            return None
        try:
            if json.loads((folder / "key.json").read_text()) != key:
                raise ValueError("key.json holds another key")
            _check_digests(folder)
            return load(folder)
        except Exception as err:  # any fault of the entry: say which, and retrain
            warnings.warn(f"model cache entry {folder} is discarded and will be retrained: "
                          f"{type(err).__name__}: {err}", CacheEntryWarning, stacklevel=3)
            return None

    @contextmanager
    def lock(self, key: dict[str, Any]) -> Iterator[None]:
        """Hold the entry's lock (blocking while another process holds it)."""
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{self.path(key).name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _get_or_make(self, key: dict[str, Any], read: Callable[[], Any], make: Callable[[], Any]):
        """``read()`` the entry, else make it under its lock; whoever waited on the lock
        reads what the holder made (first writer wins, nobody trains twice)."""
        found = read()
        if found is None:
            with self.lock(key):
                found = read()
                if found is None:
                    self.misses += 1
                    return make()
        self.hits += 1
        return found

    def fit(self, estimator, data: dict[str, Any], X, y=None):
        key = cache_key(estimator, data)

        def make():
            X_, y_ = X() if callable(X) else (X, y)
            model = estimator.fit(X_, y_)
            self._commit(key, model.save)
            return model

        model = self._get_or_make(key, lambda: self.get(key), make)
        model.set_params(device=estimator.device)
        return model

    def _commit(self, key: dict[str, Any], save: Callable[[Path], Any]) -> None:
        """Write an entry: ``save(folder)`` into a ``.partial`` folder, then the key and
        ``COMPLETE``, then one rename into place (a crash leaves no complete entry)."""
        folder = self.path(key)
        if folder.exists():
            shutil.rmtree(folder)
        tmp = folder.with_name(folder.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save(tmp)
        write_json(tmp / "key.json", key)
        write_json(tmp / "COMPLETE", {"sha256": {p.name: _sha256(p) for p in sorted(tmp.iterdir())
                                                 if p.is_file() and p.name != "key.json"}})
        os.replace(tmp, folder)

    def fit_net(self, name: str, in_shape, n_classes: int, data: dict[str, Any], X, y=None, *, seed: int,
                train_settings: dict[str, Any] | None = None, head: str = "ce", model_args: dict | None = None,
                device="auto"):
        """A torch network ``make_model(name, in_shape, n_classes, head=head, seed=seed,
        **model_args)`` trained by :func:`zerolib.models.train` with ``train_settings`` on
        (X, y), from the cache when it holds it (weights as safetensors). ``model_args``
        are make_model's other arguments (architecture, ``code_length``, ``code_seed``).
        ``X`` may be a callable returning (X, y). The network comes back in eval mode on
        the CPU."""
        from safetensors.torch import load_file, save_file

        from zerolib.models import make_model, train

        settings, args = dict(train_settings or {}), dict(model_args or {})
        for fixed in ("seed", "device", "progress", "checkpoint_path"):
            if fixed in settings:
                raise ValueError(f"train_settings must not set {fixed!r}: the cache sets it")
        for fixed in ("head", "seed", "in_shape", "n_classes"):
            if fixed in args:
                raise ValueError(f"model_args must not set {fixed!r}: it is fit_net's own argument")
        params = {"in_shape": list(in_shape), "n_classes": int(n_classes), "head": head, "seed": int(seed),
                  "train": settings, "device": resolve_device(device).type}
        if args:  # only then, so the keys of networks cached before model_args existed stay valid
            params["model"] = args
        key = _jsonable({"class": f"net-{name}", "data": data, "params": params})

        def build():
            return make_model(name, tuple(in_shape), int(n_classes), head=head, seed=int(seed), **args)

        def load(folder):
            net = build()
            net.load_state_dict(load_file(str(folder / "weights.safetensors")))
            return net.eval()

        def make():
            net = build()
            X_, y_ = X() if callable(X) else (X, y)
            train(net, (X_, y_), seed=int(seed), device=device, progress=False, **settings)
            net = net.cpu().eval()
            state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
            self._commit(key, lambda tmp: save_file(state, str(tmp / "weights.safetensors")))
            return net

        return self._get_or_make(key, lambda: self._read(key, load), make)

    @contextmanager
    def job(self, key: dict[str, Any]) -> Iterator[Path]:
        """``with cache.job(key) as folder:`` a resumable job's own state folder
        (``key['class']`` names the kind of job), held under the entry's lock for the
        whole block, so two tasks running the same job run it once: the second finds
        the first one's finished state. The folder is created with ``key.json``; one
        holding another key is emptied first. The job writes its files atomically."""
        key = _jsonable(key)
        folder = self.path(key)
        with self.lock(key):
            try:
                same = json.loads((folder / "key.json").read_text()) == key
            except (OSError, ValueError):
                same = False
            if not same:
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir(parents=True)
                write_json(folder / "key.json", key)
            yield folder
