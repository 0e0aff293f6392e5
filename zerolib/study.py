"""Run the study: every notebook of `notebooks/` on one parameter profile, via papermill.

    python -m zerolib.study run --profile quick [--notebooks toy_outliers ...] [--force]
    python -m zerolib.study list
    python -m zerolib.study report    # outputs/REPORT.md: every profile's tables beside the papers'

A profile is `params/<name>.yaml`:

    description: what this profile is for
    defaults:            # given to every notebook that declares the parameter
      seed: 0
      dataset: digits
    notebooks:           # per-notebook parameters; each must be declared by that notebook
      toy_outliers:
        n_per_class: 20

Each notebook runs into `outputs/<profile>/<notebook>.ipynb`; its tables and figures go to
`outputs/<profile>/<notebook>/` (the runner passes that folder as the `output_dir`
parameter), next to `run.json`, the run record: parameters, seed, package versions, device,
git commit, duration and a fingerprint of the notebook, the parameters and the package code.
A rerun skips a notebook whose record says it finished with the same fingerprint and whose
files are all there, so finished results are never recomputed or lost; `--force` reruns.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from zerolib.results import write_json

PACKAGE_DIR = Path(__file__).resolve().parent
RECORD_NAME = "run.json"
REPORTED_PACKAGES = (
    "zerolib", "torch", "torchvision", "numpy", "scikit-learn", "scipy", "pandas",
    "matplotlib", "papermill", "jupytext", "ipykernel", "ipywidgets",
)


class StudyError(Exception):
    """A profile or notebook set that cannot be run as asked."""


# ----------------------------------------------------------------------------- profiles

@dataclass
class Profile:
    """One run profile: shared defaults plus per-notebook parameters."""

    name: str
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, params_dir: Path, name: str) -> "Profile":
        path = params_dir / f"{name}.yaml"
        if not path.is_file():
            known = ", ".join(list_profiles(params_dir)) or "none"
            raise StudyError(f"unknown profile {name!r}: no {path} (profiles: {known})")
        raw = yaml.safe_load(path.read_text()) or {}
        unknown = set(raw) - {"description", "defaults", "notebooks"}
        if unknown:
            raise StudyError(f"{path}: unknown top-level keys {sorted(unknown)}; "
                             "expected description, defaults, notebooks")
        notebooks = raw.get("notebooks") or {}
        if not isinstance(notebooks, dict) or not all(isinstance(v or {}, dict) for v in notebooks.values()):
            raise StudyError(f"{path}: 'notebooks' must map notebook names to parameter mappings")
        return cls(name=name, description=raw.get("description", ""),
                   defaults=dict(raw.get("defaults") or {}),
                   notebooks={k: dict(v or {}) for k, v in notebooks.items()})

    def parameters_for(self, notebook: str, declared: set[str]) -> dict[str, Any]:
        """The parameters this profile gives `notebook`, which declares `declared`."""
        own = self.notebooks.get(notebook, {})
        undeclared = set(own) - declared
        if undeclared:
            raise StudyError(f"profile {self.name!r} sets {sorted(undeclared)} for notebook "
                             f"{notebook!r}, which declares only {sorted(declared)}")
        params = {k: v for k, v in self.defaults.items() if k in declared}
        params.update(own)
        return params


def list_profiles(params_dir: Path) -> list[str]:
    return sorted(p.stem for p in params_dir.glob("*.yaml"))


def list_notebooks(notebooks_dir: Path) -> list[str]:
    return sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))


def declared_parameters(notebook_path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged `parameters`."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook_path)))


# ----------------------------------------------------------------------------- records

def sha256_of(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(hashlib.sha256(chunk).digest())
    return digest.hexdigest()


def package_code_hash() -> str:
    """Hash of every source file of the installed `zerolib`, so a code change reruns notebooks."""
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    return sha256_of(*(str(f.relative_to(PACKAGE_DIR)).encode() + b"\0" + f.read_bytes() for f in files))


def fingerprint(notebook_path: Path, params: dict[str, Any]) -> dict[str, str]:
    return {
        "notebook": sha256_of(notebook_path.read_bytes()),
        "parameters": sha256_of(json.dumps(params, sort_keys=True, default=str).encode()),
        "package_code": package_code_hash(),
    }


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                            "cpu_count": os.cpu_count()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def git_commit(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        # results being written under outputs/ do not make the code dirty
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--", ".", ":(exclude)outputs"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


def scrub_paths(path: Path, root: Path) -> None:
    """Rewrite ``path`` (an executed notebook or a record) with this machine's absolute
    paths made relative: the project root becomes ``.``, the home folder ``~`` and the
    kernel's cell files (``/tmp/ipykernel_<pid>/``) ``<ipykernel>/``, so a published result
    (a warning's file name, say) names no machine."""
    text = path.read_text()
    new = text.replace(str(root.resolve()), ".").replace(str(Path.home()), "~")
    new = re.sub(r"/tmp/ipykernel_\d+/", "<ipykernel>/", new)
    if new != text:
        from zerolib.results import atomic_write

        atomic_write(path, lambda tmp: Path(tmp).write_text(new))


def is_complete(record_path: Path, executed_path: Path, expected: dict[str, str]) -> bool:
    """True when an earlier run finished with the same fingerprint and left all its files."""
    if not (record_path.is_file() and executed_path.is_file()):
        return False
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError:
        return False
    files_present = all((record_path.parent / name).is_file() for name in record.get("files", []))
    return record.get("status") == "ok" and record.get("fingerprint") == expected and files_present


# ----------------------------------------------------------------------------- running

@dataclass
class Outcome:
    notebook: str
    status: str            # "ok", "skipped" or "failed"
    seconds: float = 0.0
    error: str = ""


def describe_failure(notebook_path: Path, exc) -> str:
    """Name the failing cell as it is in the source notebook (papermill's index counts the
    cell it injects after `parameters`), with its first line and the error."""
    import nbformat

    cells = nbformat.read(notebook_path, as_version=4).cells
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    index = exc.cell_index - 1 if tagged and exc.cell_index > tagged[0] else exc.cell_index
    first_line = exc.source.strip().splitlines()[0] if exc.source.strip() else ""
    return f"cell {index} ({first_line!r}): {exc.ename}: {exc.evalue}"


def run_notebook(notebook_path: Path, profile: Profile, output_root: Path, root: Path,
                 force: bool = False, kernel_name: str = "python3") -> Outcome:
    """Execute one notebook for `profile`, unless an identical finished run is on disk."""
    import papermill

    name = notebook_path.stem
    result_dir = (output_root / profile.name / name).resolve()
    executed_path = output_root / profile.name / f"{name}.ipynb"
    record_path = result_dir / RECORD_NAME

    params = profile.parameters_for(name, declared_parameters(notebook_path))
    # relative to the notebook's folder (papermill's cwd), so no record names this machine's paths
    params["output_dir"] = os.path.relpath(result_dir, notebook_path.parent.resolve())
    expected = fingerprint(notebook_path, {k: v for k, v in params.items() if k != "output_dir"})
    if not force and is_complete(record_path, executed_path, expected):
        return Outcome(name, "skipped")

    result_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "profile": profile.name, "notebook": name, "parameters": params,
        "seed": params.get("seed"), "fingerprint": expected, "versions": package_versions(),
        "device": device_info(), "git": git_commit(root),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook_path), str(executed_path), parameters=params, kernel_name=kernel_name,
            cwd=str(notebook_path.parent), progress_bar=True, log_output=False,
        )
        status, error = "ok", ""
    except papermill.PapermillExecutionError as exc:
        status, error = "failed", describe_failure(notebook_path, exc)
    except Exception as exc:  # kernel died, bad notebook file, ...
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if executed_path.is_file():
        scrub_paths(executed_path, root)

    record.update(status=status, error=error, seconds=round(seconds, 2),
                  finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  files=sorted(p.name for p in result_dir.iterdir()
                               if p.is_file() and not p.name.startswith(".") and p.name != RECORD_NAME))
    write_json(record_path, record)
    scrub_paths(record_path, root)
    return Outcome(name, status, seconds, error)


def run_study(profile_name: str, root: Path, notebooks: list[str] | None = None,
              force: bool = False, output_root: Path | None = None) -> list[Outcome]:
    """Run the chosen (default: all) notebooks for a profile; a failure does not stop the rest."""
    from tqdm.auto import tqdm

    params_dir, notebooks_dir = root / "params", root / "notebooks"
    output_root = output_root or root / "outputs"
    profile = Profile.load(params_dir, profile_name)
    available = list_notebooks(notebooks_dir)
    unknown_in_profile = set(profile.notebooks) - set(available)
    if unknown_in_profile:
        raise StudyError(f"profile {profile_name!r} names notebooks that do not exist in "
                         f"{notebooks_dir}: {sorted(unknown_in_profile)}")
    chosen = notebooks or available
    missing = [n for n in chosen if n not in available]
    if missing:
        raise StudyError(f"no such notebooks in {notebooks_dir}: {missing} (have: {available})")

    outcomes = []
    bar = tqdm(chosen, desc=f"study {profile_name}", unit="notebook")
    for name in bar:
        bar.set_postfix_str(name)
        outcome = run_notebook(notebooks_dir / f"{name}.ipynb", profile, output_root, root, force)
        outcomes.append(outcome)
        bar.write(f"{outcome.status:>7}  {name}" + (f"  {outcome.seconds:.1f} s" if outcome.seconds else "")
                  + (f"  {outcome.error}" if outcome.error else ""))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zerolib.study", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="project folder holding notebooks/ and params/ (default: current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the notebooks for a profile")
    run.add_argument("--profile", default="quick", help="params/<PROFILE>.yaml (default: quick)")
    run.add_argument("--notebooks", nargs="+", help="only these notebooks (names without .ipynb)")
    run.add_argument("--force", action="store_true", help="rerun even notebooks whose outputs are complete")
    run.add_argument("--output-root", type=Path, help="where outputs/<profile>/ goes (default: ROOT/outputs)")
    sub.add_parser("list", help="list profiles and notebooks")
    rep = sub.add_parser("report", help="write OUTPUT_ROOT/REPORT.md: every profile's tables beside the papers'")
    rep.add_argument("--output-root", type=Path, help="the outputs folder (default: ROOT/outputs)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    if args.command == "report":
        from zerolib.report import write_report

        path = write_report(args.output_root or root / "outputs")
        print(f"wrote {path}")
        return 0
    if args.command == "list":
        print("profiles: ", " ".join(list_profiles(root / "params")))
        print("notebooks:", " ".join(list_notebooks(root / "notebooks")))
        return 0
    try:
        outcomes = run_study(args.profile, root, args.notebooks, args.force, args.output_root)
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    print(f"study {args.profile}: {counts['ok']} ran, {counts['skipped']} skipped, {counts['failed']} failed")
    for o in failed:
        print(f"FAILED notebook {o.notebook}: {o.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
