"""The notebooks: paired with jupytext, one typed `parameters` cell, and the whole study
running on the `quick` profile (a papermill smoke run of every notebook)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from zerolib.study import runner as study

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PROFILES = sorted((ROOT / "params").glob("*.yaml"))


def cell_summary(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def parameters_cell(nb):
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected exactly one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_and_in_sync(path: Path):
    paired = path.with_suffix(".py")
    assert paired.is_file(), f"{path.name} has no jupytext pair {paired.name}"
    ipynb = nbformat.read(path, as_version=4)
    py = jupytext.read(paired)
    assert cell_summary(py) == cell_summary(ipynb), (
        f"{path.name} and {paired.name} differ: run `jupytext --sync {paired}`")
    assert ipynb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert "py:percent" in ipynb.metadata.get("jupytext", {}).get("formats", "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_typed_and_commented(path: Path):
    source = parameters_cell(nbformat.read(path, as_version=4)).source
    tree = ast.parse(source)
    assert all(isinstance(node, ast.AnnAssign) for node in tree.body), \
        f"{path.name}: every parameter needs a type annotation (`name: type = value`)"
    names = {node.target.id for node in tree.body}
    assert {"seed", "output_dir"} <= names, f"{path.name}: parameters must include seed and output_dir"
    lines = source.splitlines()
    for node in tree.body:
        assert "#" in lines[node.lineno - 1], f"{path.name}: parameter {node.target.id} has no comment"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_profiles_only_set_declared_parameters(profile: Path):
    raw = yaml.safe_load(profile.read_text())
    loaded = study.Profile.load(ROOT / "params", profile.stem)
    for path in NOTEBOOKS:
        declared = study.declared_parameters(path)
        loaded.parameters_for(path.stem, declared)  # raises StudyError on an undeclared one
    assert set(raw.get("notebooks", {})) <= {p.stem for p in NOTEBOOKS}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_quick_profile(quick_study: Path, path: Path):
    record = json.loads((quick_study / path.stem / "run.json").read_text())
    assert record["status"] == "ok", record["error"]
    assert any(name.endswith(".png") for name in record["files"]), "the notebook saved no figure"
    executed = nbformat.read(quick_study / f"{path.stem}.ipynb", as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # no warning reaches the reader: a deprecation or a numerical warning is fixed, not shown
    warned = [o.text for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr" and "Warning" in o.text]
    assert not warned, warned
