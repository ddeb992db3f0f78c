"""The grading demo of `make run`: each assignment's variant suite graded as a class of students.

Each declared variant (correct answers written other ways, classic mistakes, an adversarial
answer) becomes one student, and collect, grade (sandboxed), feedback and report run through the
real command line exactly as an instructor would run them, in a scratch workspace under build/,
never the instructor's own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat

from .catalog import REPO

DEMO = REPO / "build" / "demo-grading"


def demo_batches(workers: int) -> list[dict]:
    """Grade every assignment that has a variant suite; one summary dict per assignment."""
    from autograder import variants as suite
    from autograder.course import Course

    shutil.rmtree(DEMO, ignore_errors=True)
    course = Course(REPO, workspace=DEMO)
    return [demo_batch(course, hw, workers) for hw in course.assignment_ids()
            if (course.solutions / hw / suite.FILE).is_file()]


def demo_batch(course, hw: str, workers: int) -> dict:
    from autograder import variants as suite

    names = course.notebooks(hw)
    release = course.release_dir(hw)
    cells = {n: nbformat.read(release / f"{n}.ipynb", as_version=4).cells for n in names}
    notebook, variants = suite.load(course.solutions / hw / suite.FILE, names, cells)
    incoming = DEMO / "incoming" / hw
    for variant in variants:
        (incoming / variant.name).mkdir(parents=True, exist_ok=True)
        (incoming / variant.name / f"{notebook}.ipynb").write_bytes(
            suite.patched_notebook(release / f"{notebook}.ipynb", variant))
    cli = [sys.executable, "-m", "autograder", "--course", str(REPO), "--workspace", str(DEMO)]
    problems = []
    for step in (["collect", hw, str(incoming)], ["grade", hw, "--workers", str(workers)],
                 ["feedback", hw], ["report", hw]):
        done = subprocess.run(cli + step, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            problems.append(f"demo grading of {hw}: `{step[0]}` failed: {last}")
            break
    return {"hw": hw, "students": [v.name for v in variants], "problems": problems,
            "pictures": sorted(course.reports_dir(hw).glob("*.png")),
            "summary": course.reports_dir(hw) / "summary.md",
            "feedback": sorted(DEMO.glob(f"feedback/*/{hw}/*.html"))}
