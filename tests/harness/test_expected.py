"""Expectations from the master run (autograder/expected.py) on fabricated results: no kernel."""

from __future__ import annotations

import pytest

from autograder import expected
from autograder.course import UsageError
from autograder.verdicts import BadObservation

SOURCE = ("from autograder import checks as check\n"
          "check.close('a', f(1))\n"
          "### BEGIN HIDDEN TESTS\n"
          "check.close('h', f(2))\n"
          "### END HIDDEN TESTS")
REFS = {"nb": {"cells": [{"grade_id": "t1", "kind": "test", "source_full": SOURCE},
                         {"grade_id": "ans", "kind": "solution", "source_full": ""}]}}


def fake_decode(raw):
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise BadObservation("not a record")
    return dict(raw)


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setattr(expected, "decode_observation", fake_decode)


def result(observations, passed=True, status="graded"):
    return {"status": status, "reason": "", "notebooks": {"nb": {
        "tests": {"t1": {"passed": passed, "message": "" if passed else "ValueError: boom"}},
        "observations": observations}}}


def test_records_are_marked_hidden_by_line_and_kept_per_test_cell():
    rec = expected.records_from_master("hw", REFS, result({
        "t1": [{"name": "a", "line": 2, "value": 1}, {"name": "h", "line": 4, "value": 2}],
        "#3": [{"name": "stray", "line": 1}]}))
    assert rec == {"nb": {"t1": [{"name": "a", "line": 2, "value": 1, "hidden": False},
                                 {"name": "h", "line": 4, "value": 2, "hidden": True}]}}
    shipped = expected.visible_checks(rec)
    assert list(shipped["notebooks"]["nb"]["checks"]) == ["a"]
    assert shipped["notebooks"]["nb"]["checks"]["a"]["grade_id"] == "t1"
    back = expected.records_from_visible(shipped)
    assert back == {"nb": {"t1": [{"name": "a", "line": 2, "value": 1, "hidden": False}]}}


@pytest.mark.parametrize("res, words", [
    (result({}, passed=False), "test cell t1 fails: ValueError: boom"),
    (result({}, status="timeout"), "did not run cleanly"),
    (result({"t1": [{"name": "a", "line": 2}, {"name": "a", "line": 4}]}), "'a' observed twice"),
    (result({"t1": ["junk"]}), "bad observation"),
])
def test_authoring_errors_are_usage_errors(res, words):
    with pytest.raises(UsageError, match=words):
        expected.records_from_master("hw", REFS, res)


def test_attach_keeps_visible_only_when_asked():
    rec = {"nb": {"t1": [{"name": "a", "hidden": False}, {"name": "h", "hidden": True}],
                  "t2": [{"name": "h2", "hidden": True}]}}
    refs = {"nb": {"cells": []}}
    expected.attach(refs, rec)
    assert [r["name"] for r in refs["nb"]["checks"]["t1"]] == ["a", "h"]
    expected.attach(refs, rec, visible_only=True)
    assert refs["nb"]["checks"] == {"t1": [{"name": "a", "hidden": False}]}
