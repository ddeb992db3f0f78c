"""The demo LMS export (coursebuild.demo_batch): the variant suite as a class, plus three troubled
students, under Canvas's flat names that `collect` understands."""

from __future__ import annotations

import json
import zipfile

import pytest

from autograder.collect import CANVAS
from autograder.course import Course
from coursebuild import demo_batch
from coursebuild.catalog import REPO


def test_canvas_names_are_letters_and_two_ids():
    assert demo_batch.canvas_name("mistake-no-plate", 5, "hw1") == "mistakenoplate_1005_5005_hw1.ipynb"
    assert demo_batch.canvas_name("---", 0, "hw2") == "student_1000_5000_hw2.ipynb"


def test_the_batch_holds_every_variant_and_the_troubled_students(tmp_path):
    out = tmp_path / "export.zip"
    n = demo_batch.write_batch(Course(REPO), "hw1", out)
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        loop = json.loads(z.read("loop_1090_5090_hw1.ipynb"))
        truncated = z.read("truncated_1091_5091_hw1.ipynb")
    assert len(names) == n and sum(name.startswith("../") for name in names) == 1
    assert any(name.startswith("correct") for name in names)
    assert any("while True:" in "".join(c["source"]) for c in loop["cells"])
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)
    matches = [CANVAS.match(name) for name in names if not name.startswith("../")]
    assert all(matches), "collect must understand every name"
    assert len({m.group("sid") for m in matches}) == n - 1, "every student must get a distinct Canvas id"


def test_an_assignment_without_a_master_is_a_clear_error(tmp_path):
    with pytest.raises(demo_batch.DemoBatchError, match="no assignment 'hw9'"):
        demo_batch.students(Course(REPO), "hw9")
