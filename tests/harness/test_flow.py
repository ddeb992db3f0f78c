"""The whole instructor flow through the CLI, idempotence, manual grades, bad input."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import harness_cases as subs
import pytest
from harness_helpers import FIXTURE_COURSE, run_cli


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """release -> collect a Canvas zip -> grade -> feedback -> export -> report, all via the CLI."""
    tmp = tmp_path_factory.mktemp("flow")
    course = tmp / "course"
    import shutil

    shutil.copytree(FIXTURE_COURSE, course)
    out = {"course": course, "tmp": tmp}
    out["release"] = run_cli("--course", course, "release", "hw1")
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    zpath = tmp / "canvas_export.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("lovelaceada_1001_5001_hw1.ipynb", subs.build(release))
        z.writestr("turingalan_LATE_1002_5002_hw1-1.ipynb", subs.build(release, subs.Q1_OK, subs.Q2_WRONG))
        z.writestr("hopper_1003_5003_hw1.ipynb", release.read_bytes())
        z.writestr("../../evil_1004_5004_hw1.ipynb", b"{}")
        z.writestr("/etc/evil_1005_5005_hw1.ipynb", b"{}")
        info = zipfile.ZipInfo("link_1006_5006_hw1.ipynb")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    out["collect"] = run_cli("--course", course, "collect", "hw1", zpath)
    out["grade"] = run_cli("--course", course, "grade", "hw1", "--workers", "2", "--timeout", "10")
    out["feedback"] = run_cli("--course", course, "feedback", "hw1")
    out["export"] = run_cli("--course", course, "export", "hw1", "--format", "csv",
                            "--output", tmp / "grades.csv")
    out["canvas"] = run_cli("--course", course, "export", "hw1", "--format", "canvas")
    out["report"] = run_cli("--course", course, "report", "hw1")
    return out


def test_release_creates_student_version(flow):
    rel = flow["course"] / "assignments" / "hw1"
    text = (rel / "hw1.ipynb").read_text()
    assert (rel / "data.csv").is_file()
    assert "HIDDEN_Q1_SECRET" not in text and "reference_total_of_values" not in text
    assert "raise NotImplementedError()" in text


def test_collect_zip_refuses_unsafe_entries_and_keeps_the_rest(flow):
    err = flow["collect"].stderr
    assert "path traversal" in err and "absolute path" in err and "symbolic link" in err
    sub = flow["course"] / "build" / "grading" / "submitted"
    assert sorted(p.name for p in sub.iterdir()) == ["1001", "1002", "1003"]
    assert (sub / "1002" / "hw1" / "hw1.ipynb").is_file()  # Canvas "-1" suffix removed
    assert not any("evil" in str(p) for p in flow["tmp"].rglob("*") if p.is_file() and "zip" not in p.name)


def test_export_csv(flow):
    rows = list(csv.DictReader(open(flow["tmp"] / "grades.csv")))
    by = {r["student_id"]: r for r in rows}
    assert set(by) == {"1001", "1002", "1003"}
    assert (by["1001"]["score"], by["1002"]["score"], by["1003"]["score"]) == ("6", "2", "0")
    for r in rows:
        assert r["max_score"] == "8" and r["status"] == "graded"
        assert {"flags", "q1_test", "q2_test", "q3_test", "q4_written"} <= set(r)
    assert by["1002"]["q1_test"] == "2" and by["1002"]["q2_test"] == "0"


def test_export_canvas(flow):
    rows = list(csv.reader(io.StringIO(flow["canvas"].stdout)))
    assert rows[0][:2] == ["Student", "ID"] and rows[0][-1] == "hw1"
    assert rows[1][0] == "Points Possible" and rows[1][-1] == "8"
    assert {r[1]: r[-1] for r in rows[2:]} == {"1001": "6", "1002": "2", "1003": "0"}


def test_report_files(flow):
    rep = flow["course"] / "build" / "grading" / "reports" / "hw1"
    for name in ("scores.png", "total.png", "summary.md", "pass_rates.csv"):
        assert (rep / name).is_file() and (rep / name).stat().st_size > 0, name
    assert (rep / "scores.png").read_bytes()[:4] == b"\x89PNG"
    md = (rep / "summary.md").read_text()
    assert "q1_test" in md and "Pass rate" in md


def test_feedback_pages(flow):
    fb = flow["course"] / "build" / "grading" / "feedback"
    for sid in ("1001", "1002", "1003"):
        page = (fb / sid / "hw1" / "hw1.html").read_text()
        assert "PASSED" in page or "FAILED" in page
    page = (fb / "1002" / "hw1" / "hw1.html").read_text()
    assert "check which group you subtract from which" in page   # a visible test's message
    assert "a hidden test failed" not in page or "HIDDEN_Q2_SECRET" not in page


def test_second_grade_run_is_idempotent(flow):
    course = flow["course"]
    before = {p.name: json.loads(p.read_text()) for p in (course / "build/grading/results/hw1").glob("*.json")}
    again = run_cli("--course", course, "grade", "hw1", "--workers", "2", "--timeout", "10")
    assert "3 submission(s) unchanged" in again.stderr
    after = {p.name: json.loads(p.read_text()) for p in (course / "build/grading/results/hw1").glob("*.json")}
    assert before == after


def test_force_regrade_gives_identical_scores_and_keeps_manual_grades(flow):
    from autograder.course import Course

    course = Course(flow["course"])
    with course.gradebook() as gb:
        g = gb.find_grade("q4_written", "hw1", "hw1", "1001")
        g.manual_score = 1.5
        gb.db.commit()
    before = {p.name: json.loads(p.read_text())["score"]
              for p in course.results_dir("hw1").glob("*.json")}
    run_cli("--course", flow["course"], "grade", "hw1", "--force", "--workers", "2", "--timeout", "10")
    after = {p.name: json.loads(p.read_text())["score"]
             for p in course.results_dir("hw1").glob("*.json")}
    assert before == after
    with course.gradebook() as gb:
        assert gb.find_grade("q4_written", "hw1", "hw1", "1001").manual_score == 1.5
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(
        run_cli("--course", flow["course"], "export", "hw1").stdout))}
    assert rows["1001"]["score"] == "7.5" and rows["1001"]["q4_written"] == "1.5"


def test_changed_submission_is_regraded_alone(flow):
    course = flow["course"]
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    target = course / "build/grading/submitted/1003/hw1/hw1.ipynb"
    target.write_bytes(subs.build(release))
    proc = run_cli("--course", course, "grade", "hw1", "--workers", "2", "--timeout", "10")
    assert "2 submission(s) unchanged" in proc.stderr
    res = json.loads((course / "build/grading/results/hw1/1003.json").read_text())
    assert res["score"] == 6


def test_student_option_and_unknown_student(flow):
    proc = run_cli("--course", flow["course"], "grade", "hw1", "--student", "nobody", check=False)
    assert proc.returncode != 0 and "nobody" in proc.stderr


@pytest.mark.parametrize("args, words", [
    (["grade", "nope"], "unknown assignment"),
    (["release", "nope"], "unknown assignment"),
    (["collect", "hw1", "/does/not/exist"], "not found"),
    (["selftest", "nope"], "unknown assignment"),
    (["export", "nope"], "unknown assignment"),
    (["report", "nope"], "unknown assignment"),
    (["feedback", "nope"], "unknown assignment"),
    (["validate", "/does/not/exist.ipynb"], "not found"),
    (["submit", "nope"], "unknown assignment"),
])
def test_bad_input_exits_nonzero_with_one_line(tmp_path, args, words):
    course = tmp_path / "c"
    import shutil

    shutil.copytree(FIXTURE_COURSE, course)
    proc = run_cli("--course", course, *args, check=False)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], proc.stderr


def test_bad_course_dir(tmp_path):
    proc = run_cli("--course", tmp_path / "none", "grade", "hw1", check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr


def test_malformed_notebook_in_validate(tmp_path):
    bad = tmp_path / "hw1.ipynb"
    bad.write_text('{"cells": [')
    proc = run_cli("--course", FIXTURE_COURSE, "validate", bad, check=False)
    assert proc.returncode != 0 and "malformed" in proc.stderr


@pytest.mark.parametrize("verb", ["release", "collect", "grade", "feedback", "export", "report",
                                  "selftest", "validate", "submit"])
def test_help(verb):
    proc = run_cli(verb, "--help")
    assert "usage" in proc.stdout.lower()


def test_benchmark_script_help():
    import subprocess
    import sys

    from harness_helpers import REPO

    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "grade_throughput.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--workers" in proc.stdout
