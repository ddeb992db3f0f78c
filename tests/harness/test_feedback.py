"""Feedback never shows hidden tests or the master's solutions, for any submission of the batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from filelock import FileLock

from autograder.course import Course
from autograder.feedback import feedback
from autograder.grade import references


@pytest.fixture(scope="session")
def pages(batch, shared_dir):
    """The batch's feedback pages, written once (under xdist, by whichever worker comes first)."""
    done = Path(batch["course"]) / "feedback.done"
    with FileLock(str(shared_dir / "batch_feedback.lock")):
        if not done.is_file():
            out = feedback(Course(batch["course"]), "hw1", progress=False)
            done.write_text("\n".join(map(str, out)))
    return [Path(p) for p in done.read_text().splitlines()]


def test_no_hidden_tests_or_solutions_in_any_feedback(batch, pages):
    course = Course(batch["course"])
    students = {c["sid"] for c in batch["cases"]}
    assert {p.parent.parent.name for p in pages} == students
    ref = references(course, "hw1")["hw1"]
    secrets = ref["hidden_lines"] + ref["solution_lines"]
    assert any("HIDDEN_Q1_SECRET" in s for s in secrets)
    assert any("reference_total_of_values" in s for s in secrets)
    assert any("MANUAL_SOLUTION_SECRET" in s for s in secrets)
    for page in pages:
        html = page.read_text()
        for marker in ("HIDDEN_Q1_SECRET", "HIDDEN_Q2_SECRET", "MANUAL_SOLUTION_SECRET",
                       "reference_total_of_values", "treated_mean_reference", "BEGIN HIDDEN TESTS"):
            assert marker not in html, f"{marker} leaked into {page}"
        for s in secrets:
            assert s not in html, f"{s!r} leaked into {page}"


def test_feedback_shows_results_and_messages(batch, pages):
    course = Course(batch["course"])
    fb = Path(course.ws("feedback"))
    page = (fb / "partial" / "hw1" / "hw1.html").read_text()
    assert "check which group you subtract from which" in page
    assert "hidden tests: not shown" in page
    page = (fb / "correct" / "hw1" / "hw1.html").read_text()
    assert page.count("PASSED") >= 3
    page = (fb / "hidden_fail" / "hw1" / "hw1.html").read_text()
    assert "a hidden test failed (AssertionError)" in page
    assert "hidden check" not in page and "2.5375" not in page
    page = (fb / "binary" / "hw1" / "hw1.html").read_text()
    assert "invalid" in page
