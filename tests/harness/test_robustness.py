"""Every robustness case: a fixture submission with its exact expected score, status and flags.

All cases are graded in ONE batch (``grade --workers 2``), which also proves that bad submissions
never stop the batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

CASE_IDS = ["correct", "blank", "partial", "hidden_fail", "infinite_loop", "stubborn_loop", "memory_hog",
            "spawner", "network", "snoop", "vandal", "disk_filler", "os_exit", "showtraceback", "rebind_assert",
            "rebind_code", "shadow_abs", "rebind_correct", "edited_test", "deleted_test", "duplicated",
            "cell_type", "truncated", "binary", "not_json", "kernelspec", "flood", "missing"]


def result(batch, sid):
    p = Path(batch["course"]) / "build" / "grading" / "results" / "hw1" / f"{sid}.json"
    return json.loads(p.read_text())


def test_case_list_is_complete(batch):
    assert [c["sid"] for c in batch["cases"]] == CASE_IDS


@pytest.mark.parametrize("sid", CASE_IDS)
def test_expected_score_status_and_flags(batch, sid):
    case = next(c for c in batch["cases"] if c["sid"] == sid)
    res = result(batch, sid)
    got = (res["score"], res["status"])
    assert got == (case["score"], case["status"]), (
        f"{sid}: expected score/status {case['score']}/{case['status']}, got {got}; "
        f"reason={res['reason']!r} flags={res['flags']}")
    for flag in case["flags"]:
        assert any(f == flag or f.startswith(flag + ":") or f.startswith(flag) for f in res["flags"]), (
            f"{sid}: flag {flag!r} missing from {res['flags']}")
    if sid in ("correct", "blank", "partial", "network", "snoop", "vandal"):
        # hw1's test cells are legacy asserts: each says so, and nothing else is flagged
        legacy = [f"in_kernel_verdict:{g}" for g in ("q1_test", "q2_test", "q3_test")]
        assert res["flags"] == legacy, f"{sid}: unexpected flags {res['flags']}"
    if case["status"] != "graded":
        assert res["reason"], f"{sid}: a non-graded status must come with a reason"


def test_invalid_notebooks_have_a_reason(batch):
    assert "binary" in result(batch, "binary")["reason"]
    assert "truncated" in result(batch, "truncated")["reason"] or "malformed" in result(batch, "truncated")["reason"]


def test_rebinding_is_named(batch):
    flags = ";".join(result(batch, "rebind_assert")["flags"])
    assert "numpy.testing.assert_allclose" in flags
    flags = ";".join(result(batch, "rebind_code")["flags"])
    assert "assert_allclose.__code__" in flags


def test_flood_output_is_capped(batch):
    nb = Path(batch["course"]) / "build" / "grading" / "autograded" / "flood" / "hw1" / "hw1.ipynb"
    assert nb.stat().st_size < 3_000_000, "50 MB of prints must not reach the autograded notebook"
    assert "output truncated by the grader" in nb.read_text()


def test_gradebook_consistent_with_results(batch):
    from autograder.course import Course

    course = Course(batch["course"])
    with course.gradebook() as gb:
        subs_ = {s.student.id: s for s in gb.assignment_submissions("hw1")}
        assert sorted(subs_) == sorted(CASE_IDS)
        for sid in CASE_IDS:
            auto = sum(g.auto_score or 0 for nb in subs_[sid].notebooks for g in nb.grades)
            assert auto == result(batch, sid)["score"], sid


def test_batch_output_lists_every_student(batch):
    for sid in CASE_IDS:
        assert sid in batch["grade_stdout"]


def test_autograded_notebooks_are_valid(batch):
    base = Path(batch["course"]) / "build" / "grading" / "autograded"
    for sid in ("correct", "flood", "duplicated", "cell_type"):
        nbformat.validate(nbformat.read(str(base / sid / "hw1" / "hw1.ipynb"), as_version=4))
