"""Student verbs (validate, submit) and limits not covered by the batch (wall clock)."""

from __future__ import annotations

import zipfile

import harness_cases as subs
import pytest
from harness_helpers import fresh_course, run_cli


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fresh_course(tmp_path_factory.mktemp("student") / "c")


def test_validate_pass_and_fail(course, tmp_path):
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    good = tmp_path / "hw1" / "hw1.ipynb"
    good.parent.mkdir()
    good.write_bytes(subs.build(release))
    proc = run_cli("--course", course, "validate", good)
    assert "3/3 test cells pass" in proc.stdout
    bad = tmp_path / "hw1" / "hw1_bad.ipynb"
    bad.write_bytes(subs.build(release, subs.Q1_OK, subs.Q2_WRONG))
    proc = run_cli("--course", course, "validate", bad, check=False)
    assert proc.returncode == 1
    assert "[FAIL] q2_test" in proc.stdout and "check which group" in proc.stdout
    assert "HIDDEN_Q2_SECRET" not in proc.stdout


def test_validate_reports_edited_test_cells(course, tmp_path):
    release = course / "assignments" / "hw1" / "hw1.ipynb"

    def edit(nb):
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_test":
                c.source = "pass"

    nb = tmp_path / "hw1" / "hw1.ipynb"
    nb.parent.mkdir()
    nb.write_bytes(subs.build(release, subs.Q1_WRONG, subs.Q2_OK, edit))
    proc = run_cli("--course", course, "validate", nb, check=False)
    assert proc.returncode == 1
    assert "[FAIL] q1_test" in proc.stdout and "edited_locked_cell:q1_test" in proc.stdout


def test_submit_packages_notebooks(course, tmp_path):
    out = tmp_path / "up.zip"
    run_cli("--course", course, "submit", "hw1", "--output", out)
    assert zipfile.ZipFile(out).namelist() == ["hw1.ipynb"]
    proc = run_cli("--course", course, "submit", "hw1", "--student", "s123", cwd=tmp_path)
    assert (tmp_path / "hw1_s123.zip").is_file(), proc.stdout


def test_wall_clock_limit(course):
    from autograder.course import Course
    from autograder.grade import grade_notebook_once, references
    from autograder.sandbox import Limits

    c = Course(course)
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    src = course / "slow.ipynb"
    src.write_bytes(subs.build(release, subs.Q1_OK, subs.Q2_OK + "\nimport time\ntime.sleep(60)"))
    res = grade_notebook_once(c, "hw1", references(c, "hw1"), {"hw1": src},
                              Limits(cell_timeout=100, wall=8))
    assert res["status"] == "timeout" and "wall_timeout" in res["flags"]
    assert res["score"] == 2   # q1's test ran before the limit
    assert res["duration"] < 30


def test_no_sandbox_fallback_warns_and_keeps_scores(tmp_path):
    course = fresh_course(tmp_path / "c")
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    for sid, data in (("a", subs.build(release)), ("b", subs.build(release, subs.Q1_OK, subs.Q2_WRONG))):
        (tmp_path / "in" / sid).mkdir(parents=True)
        (tmp_path / "in" / sid / "hw1.ipynb").write_bytes(data)
    run_cli("--course", course, "collect", "hw1", tmp_path / "in")
    proc = run_cli("--course", course, "grade", "hw1", "--no-sandbox", "--timeout", "20",
                   "--memory", "1024")
    assert "NO SANDBOX" in proc.stderr
    import json

    scores = {sid: json.loads((course / "build/grading/results/hw1" / f"{sid}.json").read_text())
              for sid in "ab"}
    assert (scores["a"]["score"], scores["b"]["score"]) == (6, 2)
    assert scores["a"]["sandbox"] is False
