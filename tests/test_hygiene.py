"""Every notebook in git is clean, portable and safe to run offline.

Checked over lectures (notebooks/), assignment masters (solutions/) and releases (assignments/).
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from coursebuild.catalog import REPO

NOTEBOOKS = sorted(
    p.relative_to(REPO).as_posix()
    for folder in ("notebooks", "solutions", "assignments")
    for p in (REPO / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)

FORBIDDEN_CODE = {
    r"\binput\s*\(": "asks for input(); notebooks must run unattended",
    r"\bpip\s+install\b": "installs packages; dependencies belong in pyproject.toml and the lock",
    r"https?://": "contains a URL; nothing may be downloaded (put references in Markdown)",
    r"\btorch\.hub\b|from_pretrained\(|example_models\.load_model|load_dataset\(|fetch_openml\(":
        "uses a hub or dataset loader that downloads",
    r"\b(urllib\.request|requests\.get|wget|curl)\b": "downloads at run time",
    r"download\s*=\s*True": "downloads a dataset",
}


def code_cells(path: str):
    nb = nbformat.read(REPO / path, as_version=4)
    return nb, [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks_to_check():
    assert any(p.startswith("notebooks/") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_valid_and_stripped(path):
    nb, cells = code_cells(path)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path}: cells {dirty} keep outputs or execution counts; run `make strip`"
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata, \
        f"{path}: execution metadata is committed; run `make strip`"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_kernelspec_is_python3(path):
    nb, _ = code_cells(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", \
        f"{path}: kernelspec must be 'python3' so papermill and students use the course environment"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_parameters_cell_holds_literals_including_smoke_and_seed(path):
    _, cells = code_cells(path)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path}: expected exactly one code cell tagged 'parameters', found {len(tagged)}"
    names = {}
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets), \
            f"{path}: the parameters cell may only assign names (line {statement.lineno})"
        try:
            value = ast.literal_eval(statement.value)
        except ValueError:
            pytest.fail(f"{path}: parameters must be literals; line {statement.lineno} computes a value "
                        "(derive it in the next cell: papermill injects its cell after this one)")
        names.update({t.id: value for t in statement.targets})
    assert names.get("SMOKE") is False, f"{path}: the parameters cell must set SMOKE = False"
    assert isinstance(names.get("SEED"), int), f"{path}: the parameters cell must set an integer SEED"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_no_input_install_or_download(path):
    _, cells = code_cells(path)
    found = [f"code cell {i}: {why} ({m.group(0)!r})"
             for i, cell in enumerate(cells)
             for pattern, why in FORBIDDEN_CODE.items()
             for m in [re.search(pattern, cell.source)] if m]
    assert not found, f"{path}:\n" + "\n".join(found)
