"""Grading throughput: the harness (--workers 2, sandbox on) vs plain serial `nbgrader autograde`.

Both grade the same N submissions of the fixture assignment (tests/fixtures/course, hw1) in
separate copies of the course, in one run. Set-up (release, gradebook creation, collecting) is not
timed; each timing is the wall time of one command, as an instructor would run it:

    python -m autograder --course C1 grade hw1 --workers 2 --force
    nbgrader autograde hw1 --force            (in C2, serial, no sandbox)

Usage: python benchmarks/grade_throughput.py [--n 20] [--workers 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "harness"))
sys.path.insert(0, str(REPO))

import harness_cases as subs  # noqa: E402

# Plain nbgrader reads the same layout the harness uses: the repository's own config.
NBGRADER_CONFIG = (REPO / "nbgrader_config.py").read_text()


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    e.pop("JPY_PARENT_PID", None)
    return e


def run(cmd, cwd) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env())
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="submissions (default 20)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    a = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as t:
        tmp = Path(t)
        c1, c2 = tmp / "harness", tmp / "nbgrader"
        shutil.copytree(REPO / "tests" / "fixtures" / "course", c1)
        print(f"set-up: releasing the fixture assignment and building {a.n} submissions ...", flush=True)
        run([py, "-m", "autograder", "--course", c1, "release", "hw1"], REPO)
        shutil.copytree(c1, c2)
        (c2 / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
        shutil.rmtree(c2 / "build", ignore_errors=True)
        (c2 / "build" / "grading").mkdir(parents=True)
        run([py, "-m", "nbgrader", "generate_assignment", "hw1", "--force"], c2)
        release = c1 / "assignments" / "hw1" / "hw1.ipynb"
        kinds = [subs.build(release), subs.build(release, subs.Q1_OK, subs.Q2_WRONG), release.read_bytes()]
        incoming = tmp / "incoming"
        for i in range(a.n):
            d = incoming / f"s{i:03d}"
            d.mkdir(parents=True)
            (d / "hw1.ipynb").write_bytes(kinds[i % len(kinds)])
            nbdir = c2 / "build" / "grading" / "submitted" / f"s{i:03d}" / "hw1"
            nbdir.mkdir(parents=True)
            (nbdir / "hw1.ipynb").write_bytes(kinds[i % len(kinds)])
        run([py, "-m", "autograder", "--course", c1, "collect", "hw1", incoming], REPO)
        # warm-up (file caches, bytecode) so neither side pays first-run costs
        run([py, "-m", "autograder", "--course", c1, "grade", "hw1", "--student", "s000",
             "--workers", "1"], REPO)

        print(f"harness: grade hw1 --workers {a.workers} --force (sandboxed) ...", flush=True)
        t_h = run([py, "-m", "autograder", "--course", c1, "grade", "hw1", "--workers",
                   str(a.workers), "--force"], REPO)
        print("nbgrader: autograde hw1 --force (serial, unsandboxed) ...", flush=True)
        t_n = run([py, "-m", "nbgrader", "autograde", "hw1", "--force"], c2)

        res = {json.loads(p.read_text())["student"]: json.loads(p.read_text())
               for p in (c1 / "build" / "grading" / "results" / "hw1").glob("*.json")}
        sandboxed = all(r.get("sandbox") for r in res.values())
        db = sqlite3.connect(c2 / "build" / "grading" / "gradebook.db")
        nb_scores = dict(db.execute(
            "select student.id, sum(coalesce(grade.auto_score, 0)) from grade "
            "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
            "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
            "join student on submitted_assignment.student_id = student.id group by student.id"))
        agree = all(abs(nb_scores.get(s, -1) - r["score"]) < 1e-9 for s, r in res.items())
    ratio = t_n / t_h
    print()
    print(f"submissions:               {a.n}")
    print(f"harness (--workers {a.workers}, sandbox {'on' if sandboxed else 'OFF'}): {t_h:7.1f} s"
          f"  ({t_h / a.n:.2f} s/submission)")
    print(f"plain nbgrader (serial):   {t_n:7.1f} s  ({t_n / a.n:.2f} s/submission)")
    print(f"speed-up:                  {ratio:7.2f}x  (target >= 1.6x)")
    print(f"same scores:               {'yes' if agree else 'NO'}")
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "workers": a.workers, "harness_s": t_h,
                                            "nbgrader_s": t_n, "ratio": ratio,
                                            "sandbox": sandboxed, "same_scores": agree}, indent=1))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
