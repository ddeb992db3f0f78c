"""Self-test every assignment through the real grading path (python -m autograder selftest).

The master must score full marks, the committed release must equal what nbgrader generates and
score zero without crashing the grader, and every graded test cell must fail on the stub.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from notebook_ci import REPO

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").glob("*") if p.is_dir())


@pytest.mark.skipif(not ASSIGNMENTS, reason="no assignment in solutions/ yet")
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_selftest(assignment):
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", "selftest", assignment],
        cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, f"selftest {assignment} failed:\n{completed.stdout}\n{completed.stderr}"
