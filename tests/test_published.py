"""The published results under outputs/: each names a profile that exists and a commit of
this repository, holds no absolute path of the machine it ran on, and stays small."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|root|home|tmp|Users|private|var/folders|opt)/")


def git(*args) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def tracked_outputs() -> list[Path]:
    try:
        return [ROOT / p for p in git("ls-files", "outputs").split()]
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")


def test_every_record_names_an_existing_profile_and_a_commit_of_this_repository():
    records = [p for p in tracked_outputs() if p.name == "run.json"]
    profiles = {p.stem for p in (ROOT / "params").glob("*.yaml")}
    shallow = git("rev-parse", "--is-shallow-repository").strip() == "true"
    for rec in records:
        r = json.loads(rec.read_text())
        profile = rec.relative_to(ROOT / "outputs").parts[0]
        assert r["profile"] == profile and profile in profiles, f"{rec}: profile {r['profile']!r} has no params file"
        assert r["status"] == "ok", f"{rec}: a failed run is published"
        commit = r["git"]["commit"]
        assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{rec}: no commit recorded"
        if not shallow:
            kind = subprocess.run(["git", "cat-file", "-t", commit], cwd=ROOT, capture_output=True, text=True)
            assert kind.stdout.strip() == "commit", f"{rec}: {commit} is not a commit of this repository"


def test_no_published_file_names_a_machine_path():
    for path in tracked_outputs():
        if path.suffix in {".json", ".ipynb", ".csv", ".md"}:
            hits = MACHINE_PATH.findall(path.read_text(errors="replace"))
            assert not hits, f"{path.relative_to(ROOT)} holds absolute paths: {hits[:3]}"


def test_published_outputs_stay_under_30_mb_and_hold_no_models():
    paths = tracked_outputs()
    assert sum(p.stat().st_size for p in paths) < 30 * 2**20
    assert not [p for p in paths if p.suffix in {".safetensors", ".pt", ".pth", ".pkl", ".pickle"}]


def test_every_record_points_at_its_files():
    for rec in [p for p in tracked_outputs() if p.name == "run.json"]:
        r = json.loads(rec.read_text())
        missing = [f for f in r["files"] if not (rec.parent / f).is_file()]
        assert not missing, f"{rec}: files listed but not published: {missing}"
        assert (rec.parent.parent / f"{rec.parent.name}.ipynb").is_file(), f"{rec}: executed notebook missing"


PUBLISHED_PROFILES = ("quick", "mnist-cpu", "fashion_mnist-cpu", "cifar10-cpu")


def test_quick_and_every_cpu_profile_are_published_for_every_notebook():
    tracked = {p.relative_to(ROOT).as_posix() for p in tracked_outputs()}
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    missing = [f"{prof}/{nb}" for prof in PUBLISHED_PROFILES for nb in notebooks
               if f"outputs/{prof}/{nb}/run.json" not in tracked or f"outputs/{prof}/{nb}.ipynb" not in tracked]
    assert not missing, f"not published: {missing} (run the profile and commit outputs/)"
    report = (ROOT / "outputs" / "REPORT.md").read_text()
    for prof in PUBLISHED_PROFILES:
        assert f"## Profile `{prof}`" in report, f"outputs/REPORT.md has no section for {prof}"
