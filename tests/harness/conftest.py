"""Shared fixtures of the harness tests.

The expensive part, grading the batch of robustness submissions, runs once per test session even
under pytest-xdist: the first worker grades it in a shared folder under a file lock, the others
reuse the result.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from filelock import FileLock

sys.path.insert(0, str(Path(__file__).parent))

import harness_cases as subs  # noqa: E402
from harness_helpers import MEMORY, TIMEOUT, Listener, fresh_course, run_cli  # noqa: E402


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id):
    if worker_id == "master":
        return tmp_path_factory.getbasetemp()
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session")
def batch(shared_dir):
    """The fixture course with every robustness submission collected and graded once."""
    root = shared_dir / "batch"
    done = root / "done.json"
    with FileLock(str(shared_dir / "batch.lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            course = fresh_course(root / "course")
            secret = root / "secret.txt"
            secret.write_text("TOP-SECRET-4711")
            secret.chmod(0o644)
            marker = str(4000 + os.getpid() % 999)
            listener = Listener()
            release = course / "assignments" / "hw1" / "hw1.ipynb"
            cases = subs.cases(release, course, listener.port, secret, marker)
            subs.write_cases(cases, root / "incoming")
            run_cli("--course", course, "collect", "hw1", root / "incoming")
            before = {p: p.read_bytes() for p in (course / "solutions").rglob("*") if p.is_file()}
            proc = run_cli("--course", course, "grade", "hw1", "--workers", "2",
                           "--timeout", TIMEOUT, "--memory", MEMORY, "--wall", "120")
            listener.close()
            intact = all(p.is_file() and p.read_bytes() == b for p, b in before.items())
            info = {
                "course": str(course), "secret": "TOP-SECRET-4711", "marker": marker,
                "accepted": listener.accepted, "solutions_intact": intact,
                "grade_stdout": proc.stdout, "grade_stderr": proc.stderr[-5000:],
                "cases": [{k: v for k, v in c.items() if k != "files"} for c in cases],
            }
            done.write_text(json.dumps(info))
    return json.loads(done.read_text())
