"""The grading policy (autograder/scoring.py) on fabricated replies and observations: no kernel.

The decision of a single check (``verdicts.decide``) and the decoder are replaced by tiny fakes, so
these tests pin the policy around them: exactly-once, hidden messages, reply status, legacy cells.
"""

from __future__ import annotations

import pytest

from autograder import scoring
from autograder.scoring import KernelRun
from autograder.verdicts import BadObservation


def fake_decode(raw):
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise BadObservation("not a record")
    return dict(raw)


def fake_decide(expected, observed):
    ok = observed.get("value") == expected.get("value")
    return ok, "" if ok else f"{expected['name']}: expected {expected['value']}, got {observed.get('value')}"


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setattr(scoring, "decode_observation", fake_decode)
    monkeypatch.setattr(scoring, "decide", fake_decide)


SOURCE = ("from autograder import checks as check\n"
          "check.close('a', f(1))\n"
          "### BEGIN HIDDEN TESTS\n"
          "check.close('h', f(2))\n"
          "### END HIDDEN TESTS")
RC = {"grade_id": "t1", "kind": "test", "points": 3.0, "hidden": True, "source_full": SOURCE}
EXPECTED = [{"name": "a", "value": 1.0, "line": 2, "hidden": False},
            {"name": "h", "value": 4.0, "line": 4, "hidden": True}]
OK = {"status": "ok"}


def err(ename="NameError", evalue="name 'f' is not defined", line=2):
    return {"status": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"Cell In[7], line {line}"]}


def score(raws, reply=OK, **kw):
    return scoring.score_checked_test(RC, EXPECTED, raws, reply, kw.get("timed_out", False),
                                      kw.get("capped", False), 60.0, "kernel stopped")


def test_all_checks_seen_once_and_passing_earn_the_points():
    t = score([{"name": "a", "value": 1.0}, {"name": "h", "value": 4.0}])
    assert (t.passed, t.score, t.message) == (True, 3.0, "")
    assert [c["passed"] for c in t.checks] == [True, True]


def test_visible_failure_shows_its_message_hidden_failure_only_the_fact():
    t = score([{"name": "a", "value": 2.0}, {"name": "h", "value": 5.0}])
    assert not t.passed and t.score == 0
    assert "a: expected 1.0, got 2.0" in t.message and "a hidden test failed" in t.message
    assert "5.0" not in t.message and "4.0" not in t.message
    hidden = [c for c in t.checks if c["hidden"]][0]
    assert hidden["message"] == "a hidden test failed"


def test_missing_check_is_not_computed_with_the_error():
    t = score([{"name": "a", "value": 1.0}], reply=err(line=4))
    assert not t.passed and t.message == "a hidden test failed"
    t = score([], reply=err())
    assert "a: not computed: NameError: name 'f' is not defined" in t.message


def test_a_check_observed_twice_fails_even_if_both_are_right():
    t = score([{"name": "a", "value": 1.0}, {"name": "a", "value": 1.0}, {"name": "h", "value": 4.0}])
    assert not t.passed and "observed 2 times" in t.message


def test_all_checks_pass_but_the_cell_errored_afterwards():
    raws = [{"name": "a", "value": 1.0}, {"name": "h", "value": 4.0}]
    t = score(raws, reply=err("AssertionError", "extra assert", line=1))
    assert not t.passed and t.message == "AssertionError: extra assert" and t.line == 1
    t = score(raws, reply=err("AssertionError", "secret 4.0", line=4))
    assert not t.passed and t.message == "a hidden test failed (AssertionError)"


def test_timeouts_caps_and_malformed_observations_fail_closed():
    raws = [{"name": "a", "value": 1.0}, {"name": "h", "value": 4.0}]
    assert not score(raws, timed_out=True).passed
    assert not score(raws, capped=True).passed
    t = score(raws + ["garbage"])
    assert not t.passed and "malformed" in t.message


def test_extra_names_are_ignored_and_not_run_cells_say_why():
    t = score([{"name": "a", "value": 1.0}, {"name": "h", "value": 4.0}, {"name": "zz", "value": 0}])
    assert t.passed
    t = scoring.score_checked_test(RC, EXPECTED, [], None, False, False, 60.0, "the kernel died")
    assert not t.executed and t.message == "not run (the kernel died)"


def test_legacy_cell_keeps_the_in_kernel_verdict_and_is_flagged():
    ref = {"cells": [{**RC, "grade_id": "old"}, {**RC, "grade_id": "new"},
                     {"grade_id": "m", "kind": "manual", "points": 2.0}],
           "checks": {"new": EXPECTED}}
    run = KernelRun(replies={0: OK, 1: OK}, observations={1: [{"name": "a", "value": 1.0},
                                                              {"name": "h", "value": 4.0}]})
    res = scoring.score_notebook(ref, {"old": 0, "new": 1}, run, 60.0, 1024, str)
    assert res["tests"]["old"]["passed"] and res["tests"]["new"]["passed"]
    assert "in_kernel_verdict:old" in res["flags"] and "in_kernel_verdict:new" not in res["flags"]
    assert res["score"] == 6.0 and res["max_score"] == 8.0 and res["manual"] == {"m": {"points": 2.0}}
    assert set(res["tests"]["old"]) == {"points", "score", "passed", "executed", "hidden", "message"}
    run.tainted = {0: ["numpy.testing.assert_allclose"]}
    res = scoring.score_notebook(ref, {"old": 0, "new": 1}, run, 60.0, 1024, str)
    assert not res["tests"]["old"]["passed"] and res["tests"]["new"]["passed"]
    assert "rebound_assert:numpy.testing.assert_allclose" in res["flags"]


@pytest.mark.parametrize("returncode, status, flags", [
    (None, "crashed", []), (-24, "timeout", ["cpu_limit"]), (128 + 24, "timeout", ["cpu_limit"]),
    (-9, "crashed", []), (3, "crashed", []),
])
def test_exit_classification(returncode, status, flags):
    st, reason, fl = scoring.classify_exit("crashed", "the kernel died", returncode)
    assert (st, fl) == (status, flags)
    if returncode == -9:
        assert reason.endswith("(signal 9)")
    if returncode == 3:
        assert reason.endswith("(exit code 3)")


def test_reply_flags_and_memory_status():
    replies = {1: {"status": "error", "ename": "MemoryError"},
               2: {"status": "error", "ename": "BlockingIOError"},
               3: {"status": "error", "ename": "OSError", "evalue": "[Errno 28] No space left on device"}}
    assert scoring.reply_flags(replies) == ["memory_limit", "process_limit", "disk_limit"]
    run = KernelRun(replies=replies, timed_out={5}, truncated=True)
    status, reason, flags = scoring.run_status(run, 60.0, 512, lambda i: f"cell{i}")
    assert status == "timeout" and "cell_timeout:cell5" in flags and "output_truncated" in flags
    status, reason, _ = scoring.run_status(KernelRun(replies=replies), 60.0, 512, str)
    assert (status, reason) == ("memory", "memory limit (512 MB) reached")


def test_guard_flags():
    flags = scoring.guard_flags({3: ["shadowed:abs", "guard_broken", "showtraceback", "math.isclose"]})
    assert flags == ["shadowed_builtin:abs", "guard_broken", "showtraceback_override",
                     "rebound_assert:math.isclose"]


def test_stray_observations_are_flagged():
    ref = {"cells": [RC], "checks": {"t1": EXPECTED}}
    run = KernelRun(replies={0: OK, 1: OK}, observations={0: [{"name": "a", "value": 1.0}]})
    res = scoring.score_notebook(ref, {"t1": 1}, run, 60.0, 1024, str)
    assert "stray_observations:0" in res["flags"] and not res["tests"]["t1"]["passed"]


def test_replaced_showtraceback_is_flagged_but_never_decides():
    """nbgrader's test_showtraceback_exploit: the guard restores IPython's error display before
    the cell runs and the verdict is the reply's status, so the honest cell keeps its points."""
    ref = {"cells": [{**RC, "grade_id": "old"}], "checks": {}}
    run = KernelRun(replies={0: OK}, tainted={0: ["showtraceback"]})
    res = scoring.score_notebook(ref, {"old": 0}, run, 60.0, 1024, str)
    assert res["tests"]["old"]["passed"] and "showtraceback_override" in res["flags"]
    run = KernelRun(replies={0: err()}, tainted={0: ["showtraceback"]})
    assert not scoring.score_notebook(ref, {"old": 0}, run, 60.0, 1024, str)["tests"]["old"]["passed"]
    run = KernelRun(replies={0: OK}, tainted={0: ["showtraceback", "guard_broken"]})
    assert not scoring.score_notebook(ref, {"old": 0}, run, 60.0, 1024, str)["tests"]["old"]["passed"]
