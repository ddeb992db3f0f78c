"""Conformance with nbgrader's own autograde tests, graded through the real CLI.

The fixtures are copied at test time from the installed nbgrader package
(``nbgrader/tests/apps/files``, nbgrader 0.9.6, BSD-3-Clause, (c) Project Jupyter); the expected
scores are those of ``nbgrader/tests/apps/test_nbgrader_autograde.py`` (test names below). Two
fixture courses are built and each assignment is graded once per session:

* ``legacy``: ps1 = ``submitted-unchanged.ipynb`` (7 points: tests foo, bar; manual baz, quux),
  due 2015-02-02 14:58:23.948203 America/Los_Angeles (``course.yml``), a per-day late policy;
* ``autotest``: one assignment whose notebooks are the AUTOTEST masters (``autotests.yml`` at the
  course root) and an old (schema v0) notebook; and the hidden-tests master, which the harness
  refuses to release (it fails its own hidden tests).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from filelock import FileLock
from harness_helpers import MEMORY, run_cli

nbgrader = pytest.importorskip("nbgrader")
FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
DUE = "2015-02-02 14:58:23.948203 America/Los_Angeles"
GRADE = ("--workers", "2", "--timeout", "20", "--memory", MEMORY, "--wall", "120")

# scenario -> (fixture submitted, nbgrader's expected score, its test)
LEGACY = {
    "foo": ("submitted-unchanged", 1, "test_grade"),
    "bar": ("submitted-changed", 2, "test_grade"),
    "spam": ("submitted-cheat-attempt", 1, "test_showtraceback_exploit"),
    "eggs": ("submitted-cheat-attempt-alternative", 1, "test_showtraceback_exploit"),
    "ontime": ("submitted-unchanged", 1, "test_late_submission_penalty_none"),
    "late": ("submitted-changed", 2, "test_late_submission_penalty_none"),
    "empty": ("submitted-unchanged", 1, "test_grade_empty_timestamp"),
    "invalid": ("submitted-changed", 2, "test_grade_empty_timestamp"),
}
TIMESTAMPS = {"ontime": "2015-02-02 14:58:23.948203 America/Los_Angeles",
              "late": "2015-02-02 15:58:23.948203 America/Los_Angeles",
              "empty": "", "invalid": "But I want to be a timestamp string :("}
CANVAS_LATE = "1234"     # a Canvas flat-name submission marked _LATE_ (changed answers)

# notebook of assignment "auto" -> master, {student: (fixture, nbgrader's score, max)}, its test
AUTOTEST = {
    "simple": ("autotest-simple", {"foo": ("autotest-simple-unchanged", 0, 1),
                                   "bar": ("autotest-simple-changed", 1, 1)},
               "test_grade_autotest"),
    "hashed": ("autotest-hashed", {"foo": ("autotest-hashed-unchanged", 0, 1),
                                   "bar": ("autotest-hashed-changed", 1, 1)},
               "test_grade_hashed_autotest"),
    "multi": ("autotest-multi", {"foo": ("autotest-multi-unchanged", 0, 4),
                                 "bar": ("autotest-multi-changed", 3, 4)},
              "test_grade_complex_autotest"),
    "hidden": ("autotest-hidden", {"foo": ("autotest-hidden-unchanged", 0, 1),
                                   "bar": ("autotest-hidden-changed-wrong", 0, 1),
                                   "baz": ("autotest-hidden-changed-right", 1, 1)},
               "test_hidden_tests_autotest"),
}


def _copy(name: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FILES / f"{name}.ipynb", dest)


def _export(course: Path, hw: str) -> dict[str, dict]:
    out = run_cli("--course", course, "export", hw).stdout
    return {r["student_id"]: r for r in csv.DictReader(io.StringIO(out))}


def _db(course: Path) -> str:
    return f"sqlite:///{course / 'build' / 'grading' / 'gradebook.db'}"


def _result(course: Path, hw: str, sid: str) -> dict:
    return json.loads((course / "build" / "grading" / "results" / hw / f"{sid}.json").read_text())


def _once(shared_dir: Path, name: str, build) -> dict:
    """Build a fixture course once per test session, even under pytest-xdist (a file lock)."""
    root = shared_dir / name
    done = root / "done.json"
    with FileLock(str(shared_dir / f"{name}.lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            done.write_text(json.dumps(build(root)))
    info = json.loads(done.read_text())
    return {**info, "course": Path(info["course"])}


@pytest.fixture(scope="session")
def legacy(shared_dir):
    return _once(shared_dir, "conformance-legacy", _build_legacy)


@pytest.fixture(scope="session")
def autotest(shared_dir):
    return _once(shared_dir, "conformance-autotest", _build_autotest)


def _build_legacy(root: Path) -> dict:
    """Course ``legacy``: release ps1, collect folders + a Canvas LATE file, grade once."""
    course = root / "course"
    _legacy_master(course / "solutions" / "ps1" / "p1.ipynb")
    (course / "course.yml").write_text(
        f"assignments:\n  ps1: {{due: \"{DUE}\"}}\n"
        "late_policy: {method: per_day, percent_per_day: 10, max_percent: 50}\n")
    run_cli("--course", course, "release", "ps1")
    inc = root / "incoming"
    for sid, (fixture, _, _) in LEGACY.items():
        _copy(fixture, inc / sid / "p1.ipynb")
        if sid in TIMESTAMPS:
            (inc / sid / "timestamp.txt").write_text(TIMESTAMPS[sid])
    _copy("submitted-changed", inc / f"smith_LATE_{CANVAS_LATE}_99_p1.ipynb")
    (inc / f"smith_LATE_{CANVAS_LATE}_99_timestamp.txt").write_text("2015-01-01 00:00:00 UTC")
    collected = run_cli("--course", course, "collect", "ps1", inc)
    run_cli("--course", course, "grade", "ps1", *GRADE)
    return {"course": str(course), "export": _export(course, "ps1"),
            "collect": collected.stdout + collected.stderr}


def _build_autotest(root: Path) -> dict:
    """Course ``autotest``: one assignment ``auto`` whose notebooks are nbgrader's AUTOTEST masters
    and the (upgraded) v0 notebook, released, collected and graded once; and ``hidtests``."""
    course = root / "course"
    shutil.copyfile(FILES / "autotests.yml", _mkdir(course) / "autotests.yml")
    for name, (master, _, _) in AUTOTEST.items():
        _copy(master, course / "solutions" / "auto" / f"{name}.ipynb")
    _v0_master(course / "solutions" / "auto" / "v0.ipynb")
    _copy("test-hidden-tests", course / "solutions" / "hidtests" / "p1.ipynb")
    hidtests = run_cli("--course", course, "release", "hidtests", check=False)
    run_cli("--course", course, "release", "auto")
    inc = root / "incoming"
    for name, (_, students, _) in AUTOTEST.items():
        for sid, (fixture, _, _) in students.items():
            _copy(fixture, inc / sid / f"{name}.ipynb")
    shutil.copyfile(FILES / "test-v0.ipynb", _mkdir(inc / "old") / "v0.ipynb")
    run_cli("--course", course, "collect", "auto", inc)
    run_cli("--course", course, "grade", "auto", *GRADE)
    return {"course": str(course), "hidtests": [hidtests.returncode, hidtests.stderr]}


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _legacy_master(dest: Path) -> None:
    """nbgrader's tests release ``submitted-unchanged.ipynb`` itself; the harness refuses a master
    whose tests fail (``release`` runs it), so the answers go into solution regions: nbgrader
    generates the same student version from both."""
    import nbformat

    nb = nbformat.read(str(FILES / "submitted-unchanged.ipynb"), as_version=4)
    answers = {"set_a": "a = 1", "baz": "An answer!", "quux": "b = 2"}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = f"### BEGIN SOLUTION\n{answers[gid]}\n### END SOLUTION"
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))


def _v0_master(dest: Path) -> None:
    """The v0 notebook upgraded as ``nbgrader update`` does: the master a course has today."""
    import nbformat
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(str(FILES / "test-v0.ipynb"), as_version=4)
    nb = MetadataValidator().upgrade_notebook_metadata(nb)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))


# ------------------------------------------------------------------------------- legacy course

@pytest.mark.parametrize("sid", sorted(LEGACY))
def test_legacy_scores_match_nbgrader(legacy, sid):
    """test_grade, test_showtraceback_exploit, test_late_submission_penalty_none,
    test_grade_empty_timestamp: the autograded score out of 7."""
    row = legacy["export"][sid]
    assert float(row["score_unpenalised"]) == LEGACY[sid][1], (sid, row)
    assert row["max_score"] == "7"


def test_showtraceback_exploit_is_neutralised_not_punished(legacy):
    """nbgrader gives the honest test (foo: print) its point; the flag still tells the grader."""
    for sid in ("spam", "eggs"):
        res = _result(legacy["course"], "ps1", sid)["notebooks"]["p1"]
        assert res["tests"]["foo"]["passed"] and not res["tests"]["bar"]["passed"], sid
    assert "showtraceback_override" in _result(legacy["course"], "ps1", "spam")["flags"]


def test_unanswered_manual_cells_score_zero_with_no_response(legacy):
    """test_grade: unanswered baz/quux get 0 and "No response.", so foo needs no manual grade;
    answered ones (bar) still do."""
    from nbgrader.api import Gradebook

    with Gradebook(_db(legacy["course"])) as gb:
        assert not gb.find_submission_notebook("p1", "ps1", "foo").needs_manual_grade
        assert gb.find_submission_notebook("p1", "ps1", "bar").needs_manual_grade
        for cell in ("set_a", "baz", "quux"):
            assert gb.find_comment(cell, "p1", "ps1", "foo").comment == "No response."
            assert gb.find_comment(cell, "p1", "ps1", "bar").comment is None
        for sid in ("spam", "eggs"):
            assert gb.find_submission_notebook("p1", "ps1", sid).needs_manual_grade


def test_lateness_is_recorded_in_the_gradebook(legacy):
    """test_grade_timestamp / test_late_submission_penalty_none: total_seconds_late."""
    from nbgrader.api import Gradebook

    with Gradebook(_db(legacy["course"])) as gb:
        assert gb.find_submission("ps1", "late").total_seconds_late == 3600
        for sid in ("ontime", "empty", "invalid", "foo"):
            assert gb.find_submission("ps1", sid).total_seconds_late == 0, sid


def test_late_policy_in_export(legacy):
    """per_day 10 %: 1 h late loses 10 % of 2; the unpenalised score keeps its own column.
    An invalid timestamp.txt makes nbgrader abort the whole run; the harness grades it on time."""
    rows = legacy["export"]
    assert (rows["late"]["score"], rows["late"]["late_penalty"]) == ("1.8", "0.2")
    assert rows["late"]["seconds_late"] == "3600"
    assert (rows["ontime"]["score"], rows["ontime"]["seconds_late"]) == ("1", "0")
    assert rows["invalid"]["score"] == "2" and rows["invalid"]["late_penalty"] == "0"


def test_canvas_late_marker_counts_as_one_day(legacy):
    """Canvas' _LATE_ name without a time: late by an unknown time, one day's penalty; a
    timestamp.txt uploaded by the student is refused, never trusted."""
    row = legacy["export"][CANVAS_LATE]
    assert row["seconds_late"] == "unknown (LMS)"
    assert (row["score_unpenalised"], row["score"]) == ("2", "1.8")
    assert "timestamp.txt is the grader's" in legacy["collect"]
    sub = legacy["course"] / "build" / "grading" / "submitted" / CANVAS_LATE / "ps1"
    assert not (sub / "timestamp.txt").exists()


# ------------------------------------------------------------------------------ autotest course

@pytest.mark.parametrize("name,sid", [(n, sid) for n, spec in AUTOTEST.items() for sid in spec[1]])
def test_autotest_scores_match_nbgrader(autotest, name, sid):
    """AUTOTEST directives graded as nbgrader instantiates them (the test in AUTOTEST[name][2])."""
    from nbgrader.api import Gradebook

    _, score, max_score = AUTOTEST[name][1][sid]
    with Gradebook(_db(autotest["course"])) as gb:
        nb = gb.find_submission_notebook(name, "auto", sid)
        assert (nb.score, nb.max_score) == (score, max_score)


def test_a_master_that_fails_its_own_tests_is_not_released(autotest):
    """test_hidden_tests_single_notebook releases a master whose solutions fail its hidden tests
    and expects the release to score 1.5 of 3. The harness is stricter on purpose: ``release``
    runs the master and refuses it, naming the failing test (selftest's rule: master = full)."""
    returncode, stderr = autotest["hidtests"]
    assert returncode != 0
    assert "master hidtests/p1.ipynb: test cell correct_squares fails" in stderr


def test_v0_metadata_raises_no_tamper_flags(autotest):
    """An old (schema v0) notebook is read as nbgrader reads it: nothing was tampered with."""
    res = _result(autotest["course"], "auto", "old")["notebooks"]["v0"]
    tamper = [f for f in res["flags"] if not f.startswith("in_kernel_verdict:")]
    assert tamper == [] and res["status"] == "graded", res["flags"]
    assert res["score"] == 3.0      # its solutions pass all four tests (1 + 1 + 0.5 + 0.5)
