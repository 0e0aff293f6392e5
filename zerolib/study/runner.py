"""Run the study: every notebook of `notebooks/` on one parameter profile, via papermill.

    python -m zerolib.study run --profile quick [--notebooks toy_outliers ...] [--seeds 0 1 2] [--force]
    python -m zerolib.study run --profile quick --workers 2     # in parallel on Dask (zerolib.study.cluster)
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
    cluster:             # optional: the job-queue settings of `--cluster slurm` (zerolib.study.cluster)
      jobs: 4

Each notebook runs into `outputs/<profile>/<notebook>.ipynb`; its tables and figures go to
`outputs/<profile>/<notebook>/` (the runner passes that folder as the `output_dir`
parameter), next to `run.json`, the run record: parameters, seed, package versions, device,
git commit, duration and a fingerprint of the notebook, the parameters and the package code.
A rerun skips a notebook whose record says it finished with the same fingerprint and whose
files are all there, so finished results are never recomputed or lost; `--force` reruns.
`--seeds` replaces every notebook's `seed` and `n_seeds` (consecutive seeds only: a
notebook runs seeds `seed + i` for `i < n_seeds`). `--workers`, `--scheduler` and
`--cluster` run the same notebooks as Dask tasks; see :mod:`zerolib.study.cluster`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from zerolib._io import atomic_write, package_code_hash, sha256_of, write_json

PROFILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
RECORD_NAME = "run.json"
SEED_TASKS = ".seeds"   # outputs/<profile>/.seeds/: the parallel runner's per-seed tasks, removed when done
STAGING = ".staging"    # outputs/<profile>/.staging/<notebook>/: a run in progress, published whole when done
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
    cluster: dict[str, Any] = field(default_factory=dict)   # the job-queue settings (zerolib.study.cluster)
    reductions: dict[str, str] = field(default_factory=dict)  # "notebooks.<nb>.<key>" -> its "# REDUCED:" comment

    @classmethod
    def load(cls, params_dir: Path, name: str) -> "Profile":
        """``params/<name>.yaml``; ``name`` is a plain name, never a path (use :meth:`from_file`)."""
        if not PROFILE_NAME.fullmatch(str(name)):
            raise StudyError(f"a profile is a name in {params_dir} (letters, digits, '_', '-', '.'; no path), "
                             f"got {name!r}; pass a YAML file elsewhere with --profile-file")
        path = params_dir / f"{name}.yaml"
        if not path.is_file():
            known = ", ".join(list_profiles(params_dir)) or "none"
            raise StudyError(f"unknown profile {name!r}: no {path} (profiles: {known})")
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: Path) -> "Profile":
        """A profile from an explicit YAML file (its name: the file's stem, which must be a
        plain name, since outputs go to ``outputs/<name>/``)."""
        path = Path(path)
        name = path.stem
        if not PROFILE_NAME.fullmatch(name):
            raise StudyError(f"{path}: the file name must be a plain profile name (letters, digits, '_', '-', '.')")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise StudyError(f"cannot read profile {path}: {err}") from err
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise StudyError(f"{path}{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from err
        if not isinstance(raw, dict):
            raise StudyError(f"{path}: a profile must be a mapping with description, defaults, notebooks, cluster")
        unknown = set(raw) - {"description", "defaults", "notebooks", "cluster"}
        if unknown:
            raise StudyError(f"{path}: unknown top-level keys {sorted(unknown)}; "
                             "expected description, defaults, notebooks, cluster")
        if not isinstance(raw.get("cluster") or {}, dict):
            raise StudyError(f"{path}: 'cluster' must be a mapping of job-queue settings")
        if not isinstance(raw.get("defaults") or {}, dict):
            raise StudyError(f"{path}: 'defaults' must map parameter names to values, got "
                             f"{type(raw['defaults']).__name__}")
        notebooks = raw.get("notebooks") or {}
        if not isinstance(notebooks, dict) or not all(isinstance(v or {}, dict) for v in notebooks.values()):
            raise StudyError(f"{path}: 'notebooks' must map notebook names to parameter mappings")
        return cls(name=name, description=raw.get("description", ""),
                   defaults=dict(raw.get("defaults") or {}),
                   notebooks={k: dict(v or {}) for k, v in notebooks.items()},
                   cluster=dict(raw.get("cluster") or {}), reductions=reduced_settings(path.read_text()))

    def with_seeds(self, seeds: list[int]) -> "Profile":
        """This profile with every notebook's ``seed`` and ``n_seeds`` replaced by ``seeds``
        (which must be consecutive: a notebook runs ``seed + i`` for ``i < n_seeds``)."""
        seeds = [int(s) for s in seeds]
        if not seeds or seeds != list(range(seeds[0], seeds[0] + len(seeds))):
            raise StudyError(f"--seeds must be consecutive integers (a notebook runs seed + i for "
                             f"i < n_seeds), got {seeds}")
        own = {nb: {k: v for k, v in p.items() if k not in ("seed", "n_seeds")} for nb, p in self.notebooks.items()}
        return Profile(self.name, self.description, dict(self.defaults, seed=seeds[0], n_seeds=len(seeds)),
                       own, dict(self.cluster), dict(self.reductions))

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

    def effective_parameters(self, notebook_path: Path) -> dict[str, Any]:
        """What the notebook at ``notebook_path`` runs with under this profile: its own defaults
        that are plain values (:func:`notebook_default_values`) under the profile's values."""
        path = Path(notebook_path)
        return {**notebook_default_values(path), **self.parameters_for(path.stem, declared_parameters(path))}

    def reductions_for(self, notebook: str) -> dict[str, str]:
        """``{setting: why}`` of every setting the profile marks ``# REDUCED:`` for ``notebook``
        (its own and the shared defaults), e.g. ``{"n_votes": "paper 32 votes"}``."""
        out = {}
        for path, why in self.reductions.items():
            for prefix in ("defaults.", f"notebooks.{notebook}."):
                if path.startswith(prefix):
                    out[path[len(prefix):]] = why
        return out


_YAML_KEY = re.compile(r"^(\s*)([A-Za-z0-9_]+):")
_REDUCED = re.compile(r"#\s*REDUCED:\s*(.*)$")


def reduced_settings(text: str) -> dict[str, str]:
    """The ``# REDUCED: why`` comments of a profile's YAML text, keyed by the dotted path of the
    setting they stand beside (``notebooks.clean_accuracy.models.SCD01``): the profile states
    each reduction against the paper there, and the run record carries it to the report."""
    stack: list[tuple[int, str]] = []
    out = {}
    for line in text.splitlines():
        key = _YAML_KEY.match(line)
        if not key:
            continue
        indent = len(key.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key.group(2)))
        why = _REDUCED.search(line)
        if why:
            out[".".join(k for _, k in stack)] = why.group(1).strip()
    return out


def notebook_defaults(notebook_path: Path) -> dict[str, str]:
    """The notebook's own parameter defaults, as the source text of each (the run record keeps
    them beside the profile's values, so a reader has every setting of the run)."""
    import papermill

    return {name: str(info.get("default")) for name, info in papermill.inspect_notebook(str(notebook_path)).items()}


def notebook_default_values(notebook_path: Path) -> dict[str, Any]:
    """The notebook's own parameter defaults that are plain values (a literal Python expression),
    evaluated; a default that is not one is left out."""
    import ast

    out = {}
    for name, text in notebook_defaults(notebook_path).items():
        try:
            out[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pass
    return out


def list_profiles(params_dir: Path) -> list[str]:
    return sorted(p.stem for p in params_dir.glob("*.yaml"))


def list_notebooks(notebooks_dir: Path) -> list[str]:
    return sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))


def declared_parameters(notebook_path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged `parameters`."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook_path)))


# ----------------------------------------------------------------------------- records

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


def cpu_model() -> str:
    """The CPU's model name (floating-point results differ in the last bits between CPUs)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def children_peak_rss_mb() -> float:
    """The largest resident memory (MiB) any finished child of this process reached: after a
    notebook, the peak of its kernel or of an earlier one (a kernel is a child that ends)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, 1)


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                            "cpu_model": cpu_model(), "cpu_count": os.cpu_count()}
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
        atomic_write(path, lambda tmp: Path(tmp).write_text(new))


def is_complete(record_path: Path, executed_path: Path, expected: dict[str, str] | None) -> bool:
    """True when an earlier run finished (status ok) with the fingerprint ``expected`` (None:
    any) and left all its files, its executed notebook the one its record names (sha256)."""
    if not (record_path.is_file() and executed_path.is_file()):
        return False
    try:
        record = json.loads(record_path.read_text())
    except (json.JSONDecodeError, OSError):
        return False
    if not isinstance(record, dict):
        return False
    files_present = all((record_path.parent / name).is_file() for name in record.get("files", []))
    same = expected is None or record.get("fingerprint") == expected
    digest = record.get("notebook_sha256")
    notebook_ok = digest is None or digest == sha256_of(executed_path.read_bytes())  # older records have none
    return record.get("status") == "ok" and same and files_present and notebook_ok


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


def notebook_run(notebook_path: Path, profile: Profile, output_root: Path,
                 run_seeds: list[int] | None = None) -> tuple[Path, Path, dict[str, Any], dict[str, str]]:
    """Where a run of the notebook goes and with what: (result folder, executed notebook,
    parameters, fingerprint). With ``run_seeds`` it is a per-seed task of the parallel
    runner, kept apart in ``outputs/<profile>/.seeds/<notebook>-seed<s>/``."""
    name = notebook_path.stem
    params = profile.parameters_for(name, declared_parameters(notebook_path))
    if run_seeds is None:
        result_dir = (output_root / profile.name / name).resolve()
        executed_path = output_root / profile.name / f"{name}.ipynb"
    else:
        params["run_seeds"] = [int(s) for s in run_seeds]
        result_dir = (output_root / profile.name / SEED_TASKS / seed_task_name(name, run_seeds)).resolve()
        executed_path = result_dir / f"{name}.ipynb"
    # relative to the notebook's folder (papermill's cwd), so no record names this machine's paths
    params["output_dir"] = os.path.relpath(result_dir, notebook_path.parent.resolve())
    expected = fingerprint(notebook_path, {k: v for k, v in params.items() if k != "output_dir"})
    return result_dir, executed_path, params, expected


def seed_task_name(notebook: str, run_seeds: list[int]) -> str:
    return f"{notebook}-seed" + "-".join(str(int(s)) for s in run_seeds)


def set_kernel_threads(threads: int) -> None:
    """The torch threads of the kernels this process starts from now on (they inherit the
    environment), and of this process, so its run record's device says what they got."""
    import torch

    n = int(threads)
    if n < 1:
        raise StudyError(f"threads must be at least 1, got {threads}")
    os.environ.update(OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n))
    torch.set_num_threads(n)


def run_notebook(notebook_path: Path, profile: Profile, output_root: Path, root: Path,
                 force: bool = False, kernel_name: str = "python3", run_seeds: list[int] | None = None,
                 progress: bool = True) -> Outcome:
    """Execute one notebook for `profile`, unless an identical finished run is on disk
    (with ``run_seeds``: only those seeds, into the per-seed task folder).

    The run writes into a staging folder (``outputs/<profile>/.staging/<notebook>/``) and
    is published whole when it has finished: the executed notebook, its tables and its
    record replace the published ones by renames, so a run killed at any point leaves the
    last published set as it was, and the record (with the executed notebook's sha256)
    tells a complete set from a torn one, which a plain rerun redoes. A failed run is
    published only where nothing finished is published yet; else it stays in staging and
    its error names that folder. An error writing the outputs (a read-only folder) is this
    notebook's failure, not the study's."""
    name = notebook_path.stem
    label = name if run_seeds is None else seed_task_name(name, run_seeds)
    result_dir, executed_path, params, expected = notebook_run(notebook_path, profile, output_root, run_seeds)
    record_path = result_dir / RECORD_NAME
    if not force and is_complete(record_path, executed_path, expected):
        return Outcome(label, "skipped")
    try:
        return _run_staged(notebook_path, profile, root, kernel_name, progress, label, result_dir, executed_path,
                           params, expected)
    except OSError as err:
        return Outcome(label, "failed", 0.0, f"cannot write the outputs of {label}: {err}")


def _run_staged(notebook_path, profile, root, kernel_name, progress, label, result_dir, executed_path,
                params, expected) -> Outcome:
    import papermill

    stage = result_dir.parent / STAGING / label
    if stage.exists():
        shutil.rmtree(stage)  # a run killed earlier: nothing in it was published
    stage_dir, stage_nb = stage / result_dir.name, stage / executed_path.name
    stage_dir.mkdir(parents=True)
    staged = dict(params, output_dir=os.path.relpath(stage_dir, notebook_path.parent.resolve()))
    record: dict[str, Any] = {
        "profile": profile.name, "notebook": notebook_path.stem, "parameters": params,
        "defaults": notebook_defaults(notebook_path), "reductions": profile.reductions_for(notebook_path.stem),
        "seed": params.get("seed"), "fingerprint": expected, "versions": package_versions(),
        "device": device_info(), "git": git_commit(root),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook_path), str(stage_nb), parameters=staged, kernel_name=kernel_name,
            cwd=str(notebook_path.parent), progress_bar=progress, log_output=False,
        )
        status, error = "ok", ""
    except papermill.PapermillExecutionError as exc:
        status, error = "failed", describe_failure(notebook_path, exc)
    except Exception as exc:  # kernel died, bad notebook file, ...
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if stage_nb.is_file():  # the published notebook names its published folder, not the staging one
        text = stage_nb.read_text().replace(staged["output_dir"], params["output_dir"])
        atomic_write(stage_nb, lambda tmp: Path(tmp).write_text(text))
        scrub_paths(stage_nb, root)
    record.update(status=status, error=error, seconds=round(seconds, 2), peak_rss_mb=children_peak_rss_mb(),
                  finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  files=sorted(p.name for p in stage_dir.iterdir()
                               if p.is_file() and not p.name.startswith(".") and p.name != RECORD_NAME),
                  notebook_sha256=sha256_of(stage_nb.read_bytes()) if stage_nb.is_file() else None)
    write_json(stage_dir / RECORD_NAME, record)
    scrub_paths(stage_dir / RECORD_NAME, root)
    if status == "ok" or not is_complete(result_dir / RECORD_NAME, executed_path, None):
        _publish(stage, stage_dir, stage_nb, result_dir, executed_path)
    else:
        error += f" (a finished earlier run stays published; this run's notebook is in {stage})"
    return Outcome(label, status, seconds, error)


def _publish(stage: Path, stage_dir: Path, stage_nb: Path, result_dir: Path, executed_path: Path) -> None:
    """Replace the published run by the staged one. The old folder is renamed aside before the
    new one is renamed into place, and removed after; between the renames the record is
    missing or names another notebook's sha256, so a kill there reads as incomplete."""
    old = stage.parent / f"{stage.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if stage_nb.is_file():
        os.replace(stage_nb, executed_path)
    if result_dir.exists():
        os.replace(result_dir, old)
    os.replace(stage_dir, result_dir)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    try:
        stage.parent.rmdir()  # .staging/ itself, once no other run is staged there
    except OSError:
        pass


def chosen_notebooks(profile: Profile, notebooks_dir: Path, notebooks: list[str] | None) -> list[str]:
    """The notebooks to run (default: all), after checking the profile and the names."""
    available = list_notebooks(notebooks_dir)
    unknown_in_profile = set(profile.notebooks) - set(available)
    if unknown_in_profile:
        raise StudyError(f"profile {profile.name!r} names notebooks that do not exist in "
                         f"{notebooks_dir}: {sorted(unknown_in_profile)}")
    chosen = notebooks or available
    missing = [n for n in chosen if n not in available]
    if missing:
        raise StudyError(f"no such notebooks in {notebooks_dir}: {missing} (have: {available})")
    declared = {n: declared_parameters(notebooks_dir / f"{n}.ipynb") for n in available}
    typos = sorted(k for k in profile.defaults if not any(k in d for d in declared.values()))
    if typos:
        raise StudyError(f"profile {profile.name!r} sets defaults {typos}, which no notebook declares "
                         f"(notebooks: {', '.join(available)})")
    return chosen


def outcome_line(outcome: Outcome, where: str = "") -> str:
    return (f"{outcome.status:>7}  {outcome.notebook}" + (f"  {outcome.seconds:.1f} s" if outcome.seconds else "")
            + (f"  on {where}" if where else "") + (f"  {outcome.error}" if outcome.error else ""))


def run_study(profile: Profile | str, root: Path, notebooks: list[str] | None = None,
              force: bool = False, output_root: Path | None = None) -> list[Outcome]:
    """Run the chosen (default: all) notebooks for a profile, one after the other, in this
    process; a failure does not stop the rest."""
    from tqdm.auto import tqdm

    params_dir, notebooks_dir = root / "params", root / "notebooks"
    output_root = output_root or root / "outputs"
    if isinstance(profile, str):
        profile = Profile.load(params_dir, profile)
    chosen = chosen_notebooks(profile, notebooks_dir, notebooks)

    outcomes = []
    bar = tqdm(chosen, desc=f"study {profile.name}", unit="notebook")
    for name in bar:
        bar.set_postfix_str(name)
        outcome = run_notebook(notebooks_dir / f"{name}.ipynb", profile, output_root, root, force)
        outcomes.append(outcome)
        bar.write(outcome_line(outcome))
    return outcomes
