"""notebook: old nbgrader metadata read as nbgrader reads it; unanswered answer cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.notebook import build_reference, normalise, unanswered_cells

nbgrader = pytest.importorskip("nbgrader")
V0 = Path(nbgrader.__file__).parent / "tests" / "apps" / "files" / "test-v0.ipynb"


@pytest.fixture
def v0_ref(tmp_path):
    from nbgrader.nbgraderformat import MetadataValidator

    nb = MetadataValidator().upgrade_notebook_metadata(nbformat.read(str(V0), as_version=4))
    nbformat.write(nb, str(tmp_path / "p1.ipynb"))
    return build_reference(tmp_path / "p1.ipynb", None)


def test_v0_metadata_is_upgraded_not_flagged(v0_ref):
    student = nbformat.read(str(V0), as_version=4)
    nb, flags = normalise(student, v0_ref)
    assert flags == []
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata] == \
        [c["grade_id"] for c in v0_ref["cells"]]
    assert "schema_version" not in student.cells[0].metadata["nbgrader"]   # the input is kept


def test_unanswered_cells_are_the_released_stubs_and_the_deleted(v0_ref):
    answer_ids = [c["grade_id"] for c in v0_ref["cells"] if c["kind"] in ("manual", "solution")]
    assert unanswered_cells(nbformat.read(str(V0), as_version=4), v0_ref) == []
    release = nbformat.v4.new_notebook()
    for rc in v0_ref["cells"]:
        cell = nbformat.v4.new_code_cell(rc["source_release"])
        cell.metadata = nbformat.from_dict(rc["metadata"])
        release.cells.append(cell)
    assert unanswered_cells(release, v0_ref) == answer_ids
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells}
    by_id[answer_ids[1]].source += "\n# my answer"
    release.cells.remove(by_id[answer_ids[-1]])       # deleted: no response either
    assert unanswered_cells(release, v0_ref) == [answer_ids[0]] + answer_ids[2:]


def test_an_autotest_master_cell_is_restored_to_the_generated_tests_without_a_flag():
    meta = {"nbgrader": {"grade": True, "grade_id": "t", "locked": True, "points": 1.0,
                         "schema_version": 3, "solution": False}}
    ref = {"cells": [{"grade_id": "t", "kind": "test", "cell_type": "code", "points": 1.0,
                      "source_release": "assert a == 5", "hidden": False, "metadata": meta,
                      "source_full": "assert a == 5\nassert b == 6",
                      "source_master": "### AUTOTEST a\n### BEGIN HIDDEN TESTS\n### AUTOTEST b"}],
           "kernelspec": {}}
    for source, flags in (("### AUTOTEST a\n### BEGIN HIDDEN TESTS\n### AUTOTEST b", []),
                          ("assert a == 5", []), ("pass", ["edited_locked_cell:t"])):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata = nbformat.from_dict(meta)
        nb = nbformat.v4.new_notebook(cells=[cell])
        out, got = normalise(nb, ref)
        assert got == flags and out.cells[0].source == "assert a == 5\nassert b == 6"


def test_a_line_the_release_shows_is_no_secret(tmp_path):
    """A solution or hidden-test line that also stands in the release (an idiom, a helper) must not
    count as secret, or the feedback of every student who writes it would be withheld."""
    def cell(source, **md):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"schema_version": 3, **md}
        return c

    master = nbformat.v4.new_notebook()
    master.cells = [
        cell("def helper(seed):\n    rng = np.random.default_rng(seed)\n    return rng", grade_id="helper",
             locked=True, grade=False, solution=False),
        cell("### BEGIN SOLUTION\nrng = np.random.default_rng(seed)\nanswer_value = secret_formula(rng)\n"
             "### END SOLUTION", grade_id="answer", solution=True, grade=False, locked=False),
        cell("assert answer_value > 0\n### BEGIN HIDDEN TESTS\nassert hidden_probe(answer_value) == 17\n"
             "### END HIDDEN TESTS", grade_id="test", grade=True, solution=False, locked=True, points=1),
    ]
    release = nbformat.v4.new_notebook()
    release.cells = [master.cells[0], cell("# YOUR CODE HERE\nraise NotImplementedError()",
                                           grade_id="answer", solution=True, grade=False, locked=False),
                     cell("assert answer_value > 0", grade_id="test", grade=True, solution=False,
                          locked=True, points=1)]
    nbformat.write(master, tmp_path / "m.ipynb")
    nbformat.write(release, tmp_path / "r.ipynb")
    ref = build_reference(tmp_path / "m.ipynb", tmp_path / "r.ipynb")
    assert "answer_value = secret_formula(rng)" in ref["solution_lines"]
    assert "rng = np.random.default_rng(seed)" not in ref["solution_lines"]
    assert "assert hidden_probe(answer_value) == 17" in ref["hidden_lines"]
