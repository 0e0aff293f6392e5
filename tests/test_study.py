"""The study runner on small synthetic notebooks: parameters, records, skipping, failures."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from zerolib.study import cli
from zerolib.study import runner as study

WRITER = """\
from pathlib import Path
Path(output_dir).mkdir(parents=True, exist_ok=True)
(Path(output_dir) / "value.csv").write_text(f"seed,scale\\n{seed},{scale}\\n")
with open(counter, "a") as f:
    f.write("ran\\n")
"""


def make_notebook(path: Path, body: str, parameters: str) -> None:
    nb = nbformat.v4.new_notebook()
    params_cell = nbformat.v4.new_code_cell(parameters)
    params_cell.metadata["tags"] = ["parameters"]
    nb.cells = [params_cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    counter = tmp_path / "counter.txt"
    parameters = f'seed: int = 0\nscale: float = 1.0\ncounter: str = "{counter}"\noutput_dir: str = "out"\n'
    make_notebook(tmp_path / "notebooks" / "writer.ipynb", WRITER, parameters)
    # a second notebook that declares `dataset` (a default that writer does not declare)
    make_notebook(tmp_path / "notebooks" / "reader.ipynb", "pass", 'dataset: str = "digits"\noutput_dir: str = "out"\n')
    write_profile(tmp_path, {"defaults": {"seed": 7, "dataset": "digits"},
                             "notebooks": {"writer": {"scale": 2.5}}})
    return tmp_path


def write_profile(root: Path, content: dict, name: str = "tiny") -> None:
    (root / "params" / f"{name}.yaml").write_text(yaml.safe_dump(content))


def runs(root: Path) -> int:
    counter = root / "counter.txt"
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_run_passes_profile_parameters_and_writes_a_record(project: Path):
    assert cli.main(["--root", str(project), "run", "--profile", "tiny"]) == 0
    result_dir = project / "outputs" / "tiny" / "writer"
    assert (project / "outputs" / "tiny" / "writer.ipynb").is_file()
    # defaults apply only where declared (seed), the notebook's own section overrides
    assert (result_dir / "value.csv").read_text().splitlines()[1] == "7,2.5"
    record = json.loads((result_dir / "run.json").read_text())
    assert record["status"] == "ok" and record["seed"] == 7
    assert record["parameters"]["scale"] == 2.5 and "dataset" not in record["parameters"]
    assert record["files"] == ["value.csv"]
    assert {"torch", "python", "papermill"} <= set(record["versions"])
    assert "commit" in record["git"] and "cpu_count" in record["device"]
    assert record["device"]["cpu_model"] and record["device"]["torch_threads"] >= 1
    # the notebook's own defaults as source text, so a reader has every setting of the run
    assert set(record["defaults"]) == study.declared_parameters(project / "notebooks" / "writer.ipynb")


def test_reduced_settings_are_read_from_the_profile_comments():
    text = """description: x
defaults:
  n_seeds: 3         # three seeds
  dataset: mnist
notebooks:
  clean_accuracy:
    n_votes: 8              # REDUCED: paper 32 votes
    models:
      SCD01: {n_iter: 200}  # REDUCED: paper 1000 iterations
      MLP: {epochs: 200}   # not a reduction
  blackbox:
    n_seeds: 2   # REDUCED: 2 seeds
"""
    found = study.reduced_settings(text)
    assert found == {"notebooks.clean_accuracy.n_votes": "paper 32 votes",
                     "notebooks.clean_accuracy.models.SCD01": "paper 1000 iterations",
                     "notebooks.blackbox.n_seeds": "2 seeds"}
    profile = study.Profile(name="x", reductions=found)
    assert profile.reductions_for("clean_accuracy") == {"n_votes": "paper 32 votes",
                                                        "models.SCD01": "paper 1000 iterations"}
    assert profile.reductions_for("blackbox") == {"n_seeds": "2 seeds"}
    assert profile.with_seeds([0, 1, 2]).reductions_for("blackbox") == {"n_seeds": "2 seeds"}


def test_rerun_skips_until_parameters_change_or_forced(project: Path):
    cli.main(["--root", str(project), "run", "--profile", "tiny"])
    cli.main(["--root", str(project), "run", "--profile", "tiny"])
    assert runs(project) == 1
    cli.main(["--root", str(project), "run", "--profile", "tiny", "--force"])
    assert runs(project) == 2
    write_profile(project, {"defaults": {"seed": 8}, "notebooks": {"writer": {"scale": 2.5}}})
    cli.main(["--root", str(project), "run", "--profile", "tiny"])
    assert runs(project) == 3


def test_rerun_redoes_a_notebook_whose_outputs_went_missing(project: Path):
    cli.main(["--root", str(project), "run", "--profile", "tiny"])
    (project / "outputs" / "tiny" / "writer" / "value.csv").unlink()
    cli.main(["--root", str(project), "run", "--profile", "tiny"])
    assert runs(project) == 2


def test_failing_notebook_exits_nonzero_names_cell_and_others_still_run(project: Path, capsys):
    make_notebook(project / "notebooks" / "broken.ipynb", "raise RuntimeError('boom')",
                  'output_dir: str = "out"\n')
    code = cli.main(["--root", str(project), "run", "--profile", "tiny"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken" in err and "cell 1" in err and "boom" in err
    assert runs(project) == 1  # writer ran although broken (sorted first) failed
    record = json.loads((project / "outputs" / "tiny" / "broken" / "run.json").read_text())
    assert record["status"] == "failed"


def test_profile_errors_are_named(project: Path, capsys):
    assert cli.main(["--root", str(project), "run", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
    write_profile(project, {"notebooks": {"writer": {"typo_param": 1}}})
    assert cli.main(["--root", str(project), "run", "--profile", "tiny"]) == 2
    assert "typo_param" in capsys.readouterr().err
    write_profile(project, {"notebooks": {"ghost": {}}})
    assert cli.main(["--root", str(project), "run", "--profile", "tiny"]) == 2
    assert "ghost" in capsys.readouterr().err
    assert runs(project) == 0


def test_records_and_executed_notebooks_name_no_machine_path(project: Path):
    assert cli.main(["--root", str(project), "run", "--profile", "tiny"]) == 0
    record_text = (project / "outputs" / "tiny" / "writer" / "run.json").read_text()
    executed = (project / "outputs" / "tiny" / "writer.ipynb").read_text()
    assert str(project) not in record_text and str(project) not in executed
    record = json.loads(record_text)
    assert record["parameters"]["output_dir"] == "../outputs/tiny/writer"  # relative to notebooks/


def test_scrub_paths_replaces_root_home_and_kernel_cell_files(tmp_path: Path):
    root = tmp_path / "project"
    root.mkdir()
    record = tmp_path / "record.txt"
    record.write_text(f"{root}/notebooks/a.py\n{Path.home()}/.cache/x\n"
                      "/tmp/ipykernel_48213/3517.py:4: FutureWarning\n/tmp/ipykernel_notes/keep\n")
    study.scrub_paths(record, root)
    assert record.read_text().splitlines() == [
        "./notebooks/a.py", "~/.cache/x", "<ipykernel>/3517.py:4: FutureWarning",
        "/tmp/ipykernel_notes/keep"]


def test_report_command_writes_the_report(project: Path):
    cli.main(["--root", str(project), "run", "--profile", "tiny"])
    assert cli.main(["--root", str(project), "report"]) == 0
    text = (project / "outputs" / "REPORT.md").read_text()
    assert "## Profile `tiny`" in text and "writer" in text


def test_results_under_outputs_do_not_make_the_commit_dirty(tmp_path: Path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    (tmp_path / "outputs" / "p").mkdir(parents=True)
    (tmp_path / "outputs" / "p" / "table.csv").write_text("a\n")
    assert study.git_commit(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert study.git_commit(tmp_path)["dirty"] is True
