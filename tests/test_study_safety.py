"""The runner under kills, typos, hostile names and unwritable folders: published results are
replaced only whole, typos never pass, profiles stay inside params/, outputs are group-readable,
and every error is one clear line."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from zerolib.study import cli
from zerolib.study import runner as study
from zerolib._io import atomic_write

from test_study import make_notebook, write_profile

SLOW = """\
from pathlib import Path
import time
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "first.csv").write_text(f"a\\n{value}\\n")
Path(marker).write_text("started")
time.sleep(delay)
(out / "second.csv").write_text(f"b\\n{value}\\n")
"""


@pytest.fixture
def slow_project(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    params = (f'value: int = 0\ndelay: float = 0.0\nmarker: str = "{tmp_path / "marker"}"\n'
              'output_dir: str = "out"\n')
    make_notebook(tmp_path / "notebooks" / "slow.ipynb", SLOW, params)
    write_profile(tmp_path, {"defaults": {"value": 1}})
    return tmp_path


def _published(root: Path) -> dict[str, bytes]:
    out = root / "outputs" / "tiny"
    files = {"slow.ipynb": (out / "slow.ipynb").read_bytes()}
    files.update({f"slow/{p.name}": p.read_bytes() for p in sorted((out / "slow").iterdir())})
    return files


def _run(root: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zerolib.study", "--root", str(root), "run", "--profile", "tiny",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.parametrize("kill", ["runner", "runner and kernel"])
def test_a_killed_forced_run_leaves_the_published_set_whole(slow_project: Path, kill: str):
    root = slow_project
    assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 0
    before = _published(root)
    write_profile(root, {"defaults": {"value": 1}, "notebooks": {"slow": {"delay": 30.0}}})
    proc = _run(root, "--force")
    marker = root / "marker"
    marker.unlink(missing_ok=True)
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline:  # the kernel is inside the notebook
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()
    if kill == "runner":
        proc.send_signal(signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _published(root) == before  # the old complete set, untouched
    # the profile now asks for another run (delay 30): a plain rerun with a short delay repairs and publishes
    write_profile(root, {"defaults": {"value": 2}, "notebooks": {"slow": {"delay": 0.0}}})
    assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 0
    after = _published(root)
    assert b"2" in after["slow/second.csv"] and json.loads(after["slow/run.json"])["status"] == "ok"
    assert not (root / "outputs" / "tiny" / ".staging" / "slow").exists()
    if kill == "runner and kernel":
        assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 0
        assert _published(root) == after  # complete: skipped


def test_a_torn_published_set_is_rerun(slow_project: Path):
    root = slow_project
    assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 0
    nb = root / "outputs" / "tiny" / "slow.ipynb"
    nb.write_text(nb.read_text()[:200])  # a notebook that is not the one its record names
    record, executed, expected = (study.notebook_run(root / "notebooks" / "slow.ipynb",
                                                     study.Profile.load(root / "params", "tiny"),
                                                     root / "outputs")[i] for i in (0, 1, 3))
    assert not study.is_complete(record / "run.json", executed, expected)
    assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 0
    assert study.is_complete(record / "run.json", executed, expected)


def test_a_failed_forced_run_does_not_replace_a_finished_one(slow_project: Path, capsys):
    root = slow_project
    assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 0
    before = _published(root)
    write_profile(root, {"defaults": {"value": 1}, "notebooks": {"slow": {"delay": "not a number"}}})
    assert cli.main(["--root", str(root), "run", "--profile", "tiny", "--force"]) == 1
    err = capsys.readouterr().err
    assert "stays published" in err and ".staging" in err
    assert _published(root) == before


def test_typos_and_yaml_errors_are_named(tmp_path: Path, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    make_notebook(tmp_path / "notebooks" / "a.ipynb", "pass", 'seed: int = 0\noutput_dir: str = "out"\n')
    write_profile(tmp_path, {"defaults": {"seeed": 7}})
    assert cli.main(["--root", str(tmp_path), "run", "--profile", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "seeed" in err and "no notebook declares" in err and "a" in err
    (tmp_path / "params" / "tiny.yaml").write_text("defaults:\n  seed: 1\n notebooks: [\n")
    assert cli.main(["--root", str(tmp_path), "run", "--profile", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "tiny.yaml" in err and "line 3" in err and err.count("\n") == 1
    write_profile(tmp_path, {"defaults": [1, 2]})
    assert cli.main(["--root", str(tmp_path), "run", "--profile", "tiny"]) == 2
    assert "'defaults' must map" in capsys.readouterr().err


def test_profile_names_stay_inside_params(tmp_path: Path, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    make_notebook(tmp_path / "notebooks" / "a.ipynb", "pass", 'seed: int = 0\noutput_dir: str = "out"\n')
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "mine.yaml").write_text(yaml.safe_dump({"defaults": {"seed": 3}}))
    for name in ("../elsewhere/mine", str(outside / "mine"), "..", ".hidden"):
        assert cli.main(["--root", str(tmp_path), "run", "--profile", name]) == 2
        assert "no path" in capsys.readouterr().err
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())
    # an explicit file is allowed, and its outputs still land in outputs/<its name>/
    assert cli.main(["--root", str(tmp_path), "run", "--profile-file", str(outside / "mine.yaml")]) == 0
    assert (tmp_path / "outputs" / "mine" / "a" / "run.json").is_file()
    assert not (outside / "outputs").exists()


def test_written_files_get_the_umask_mode(tmp_path: Path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.txt", lambda tmp: Path(tmp).write_text("x"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o007)
        path = atomic_write(tmp_path / "y.txt", lambda tmp: Path(tmp).write_text("y"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
    finally:
        os.umask(old)


def test_an_unwritable_output_is_one_notebooks_failure(slow_project: Path, monkeypatch, capsys):
    root = slow_project
    make_notebook(root / "notebooks" / "other.ipynb", "pass", 'value: int = 0\noutput_dir: str = "out"\n')
    real = study._run_staged

    def read_only(notebook_path, *args, **kwargs):
        if notebook_path.stem == "slow":
            raise PermissionError(13, "Permission denied", str(root / "outputs" / "tiny" / ".staging"))
        return real(notebook_path, *args, **kwargs)

    monkeypatch.setattr(study, "_run_staged", read_only)
    assert cli.main(["--root", str(root), "run", "--profile", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "cannot write the outputs of slow" in err and "Permission denied" in err
    assert (root / "outputs" / "tiny" / "other" / "run.json").is_file()  # the other notebook still ran


def test_the_parallel_runner_reports_a_study_error_as_one_line(tmp_path: Path):
    pytest.importorskip("distributed")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    make_notebook(tmp_path / "notebooks" / "a.ipynb", "pass", 'seed: int = 0\noutput_dir: str = "out"\n')
    write_profile(tmp_path, {"defaults": {"seed": 1}})
    proc = subprocess.run([sys.executable, "-m", "zerolib.study", "--root", str(tmp_path), "run", "--profile",
                           "tiny", "--workers", "1", "--notebooks", "ghost"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "ghost" in proc.stderr
    assert "Traceback" not in proc.stderr
