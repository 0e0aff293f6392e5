"""Files written so a crash never leaves a half-written one behind, and the provenance
that keys results: the one IO helper every layer may use.

- :func:`atomic_write` / :func:`write_json`: a file appears whole or not at all.
- :class:`ResultDir`: a notebook's folder of tables, figures and JSON records (the study
  runner passes it as the notebook's ``output_dir`` and lists it in the run record).
- :func:`package_code_hash`: a hash of every source file of the package, so a code change
  reruns the notebooks and invalidates results keyed by it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

PACKAGE_DIR = Path(__file__).resolve().parent


def new_file_mode() -> int:
    """The mode a new file gets from the user's umask (0o666 & ~umask): ``mkstemp`` makes
    0o600 files, which the other users of a shared cache or output folder could not read."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    """Call `write(tmp_path)`, then move the temporary file onto `path` in one step.

    Readers see either the old file or the complete new one, never a partial one. The file
    gets the mode the umask gives any new file (group-readable under the usual 022 or 002).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


class ResultDir:
    """A folder of one notebook run's results: CSV tables, PNG figures, JSON records."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def table(self, df, name: str) -> Path:
        """Save a pandas DataFrame as `<name>.csv`."""
        return atomic_write(self.path / f"{name}.csv", lambda tmp: df.to_csv(tmp, index=False))

    def figure(self, fig, name: str, dpi: int = 120) -> Path:
        """Save a matplotlib figure as `<name>.png`."""
        return atomic_write(
            self.path / f"{name}.png",
            lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"),
        )

    def json(self, obj: Any, name: str) -> Path:
        """Save a JSON-serialisable object as `<name>.json`."""
        return write_json(self.path / f"{name}.json", obj)

    def files(self) -> list[str]:
        """Names of the result files now in the folder (temporary files excluded)."""
        return sorted(p.name for p in self.path.iterdir() if p.is_file() and not p.name.startswith("."))


def sha256_of(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(hashlib.sha256(chunk).digest())
    return digest.hexdigest()


def package_code_hash() -> str:
    """Hash of every source file of the installed `zerolib`, so a code change reruns notebooks."""
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    return sha256_of(*(str(f.relative_to(PACKAGE_DIR)).encode() + b"\0" + f.read_bytes() for f in files))
