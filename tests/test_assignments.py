"""Self-test every assignment through the real grading path (python -m autograder selftest).

The master must score full marks, the committed release must equal what nbgrader generates and
score zero without crashing the grader, every graded test cell must fail on the stub, and every
variant of the assignment's suite must score as declared. A self-test grades a dozen submissions
that import torch, pyro and pgmpy, two at a time; the limit leaves room for a busy CI machine.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from coursebuild.catalog import REPO

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").glob("*") if p.is_dir())


@pytest.mark.skipif(not ASSIGNMENTS, reason="no assignment in solutions/ yet")
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_selftest(assignment):
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "selftest", assignment],
        cwd=REPO, capture_output=True, text=True, timeout=2700)
    assert completed.returncode == 0, f"selftest {assignment} failed:\n{completed.stdout}\n{completed.stderr}"
