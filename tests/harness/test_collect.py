"""collect: student folders, Canvas names, and refusing unsafe entries."""

from __future__ import annotations

import os
import zipfile

import pytest
from harness_helpers import FIXTURE_COURSE

from autograder.collect import collect
from autograder.course import Course, UsageError


@pytest.fixture
def course(tmp_path):
    import shutil

    shutil.copytree(FIXTURE_COURSE, tmp_path / "c")
    return Course(tmp_path / "c")


def test_student_folders_with_symlinks_refused(course, tmp_path):
    src = tmp_path / "in"
    (src / "alice").mkdir(parents=True)
    (src / "alice" / "hw1.ipynb").write_text("{}")
    (src / "bob" / "hw1").mkdir(parents=True)             # extra HW level is accepted
    (src / "bob" / "hw1" / "hw1.ipynb").write_text("{}")
    (src / "bob" / "hw1" / "helper.py").write_text("x = 1")
    (src / "mallory").mkdir()
    os.symlink("/etc/passwd", src / "mallory" / "hw1.ipynb")
    r = collect(course, "hw1", src)
    assert sorted(r["collected"]) == ["alice", "bob"]
    assert any("symbolic link" in why for _, why in r["refused"])
    assert (course.submitted("hw1", "bob") / "helper.py").is_file()


def test_wrapped_zip_and_nested_student_zip(course, tmp_path):
    inner = tmp_path / "hw1_submission.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("hw1.ipynb", "{}")
        z.writestr("../escape.txt", "x")
    outer = tmp_path / "export.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("submissions/carol/hw1.ipynb", "{}")
        z.writestr("submissions/dave/notebook.ipynb", "{}")
    r = collect(course, "hw1", outer)
    assert sorted(r["collected"]) == ["carol", "dave"]
    assert (course.submitted("hw1", "dave") / "hw1.ipynb").is_file()   # single notebook renamed
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as z:
        z.write(inner, "eve_2001_3001_hw1_submission.zip")
        z.writestr("stray.ipynb", "{}")
        z.writestr("bad id_x_1_hw1.ipynb", "{}")
    r = collect(course, "hw1", canvas)
    assert list(r["collected"]) == ["2001"]
    assert (course.submitted("hw1", "2001") / "hw1.ipynb").is_file()
    reasons = " ".join(why for _, why in r["refused"])
    assert "path traversal" in reasons and "cannot tell whose file" in reasons
    assert not (course.ws("submitted") / "escape.txt").exists()


def test_not_a_zip(course, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("hello")
    with pytest.raises(UsageError):
        collect(course, "hw1", f)


def test_canvas_late_marker_kept_and_student_timestamps_refused(course, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "doe_LATE_42_7_hw1.ipynb").write_text("{}")
    (src / "doe_LATE_42_7_timestamp.txt").write_text("2000-01-01 00:00:00 UTC")
    (src / "roe_late_43_8_hw1.ipynb").write_text("{}")
    (src / "poe_44_9_hw1.ipynb").write_text("{}")
    with zipfile.ZipFile(src / "poe_44_9_sub.zip", "w") as z:
        z.writestr("hw1/timestamp.txt", "2000-01-01 00:00:00 UTC")
    (src / "alice").mkdir()                        # a folder from nbgrader's exchange: trusted
    (src / "alice" / "hw1.ipynb").write_text("{}")
    (src / "alice" / "timestamp.txt").write_text("2015-02-02 15:58:23 UTC")
    r = collect(course, "hw1", src)
    assert sorted(r["collected"]) == ["42", "43", "44", "alice"]
    assert [why for _, why in r["refused"]] == ["timestamp.txt is the grader's, not a student's file"] * 2
    assert (course.submitted("hw1", "42") / "lms_late.txt").is_file()
    assert (course.submitted("hw1", "43") / "lms_late.txt").is_file()
    assert not (course.submitted("hw1", "44") / "lms_late.txt").exists()
    assert not (course.submitted("hw1", "44") / "timestamp.txt").exists()
    assert (course.submitted("hw1", "alice") / "timestamp.txt").read_text().startswith("2015")
