"""``selftest HW``: prove an assignment is gradeable, through the real grading path.

1. nbgrader generates the student version from ``solutions/HW`` (into a scratch folder) and, if
   ``assignments/HW`` exists, it must match (cell sources of every nbgrader cell);
2. the master notebook(s) must score full marks on every autograded test;
3. the released version must score zero without crashing (status ``graded``);
4. every graded test cell must fail on the released stub.

Runs in a scratch workspace: the course's gradebook is not touched. Exit status 1 with a table of
what failed otherwise.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .course import Course
from .grade import references
from .notebook import nbg, read_notebook
from .release import _generate
from .sandbox import Limits
from .worker import grade_submission


def _job(hw, label, files: dict, refs, data, limits, use_bwrap, tmp: Path) -> dict:
    sub = tmp / label
    sub.mkdir()
    for name, src in files.items():
        (sub / f"{name}.ipynb").write_bytes(Path(src).read_bytes())
    return {"student": label, "hw": hw, "hash": "", "submission_dir": str(sub),
            "autograded_dir": str(tmp / f"{label}-out"), "refs": refs, "data_files": data,
            "limits": limits.to_dict(), "use_bwrap": use_bwrap}


def selftest(course: Course, hw: str, limits: Limits | None = None, use_bwrap: bool = True):
    course.check_assignment(hw)
    limits = limits or Limits()
    rows: list[tuple[str, str, str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="ag-selftest-") as t:
        tmp = Path(t)
        scratch = Course(course.root, workspace=tmp / "ws")
        _generate(scratch, hw, tmp / "release")
        rel = tmp / "release" / hw
        names = course.notebooks(hw)
        if course.release_dir(hw).is_dir():
            for name in names:
                committed = course.release_dir(hw) / f"{name}.ipynb"
                if not committed.is_file():
                    rows.append((f"assignments/{hw}/{name}.ipynb exists", "yes", "missing", False))
                    continue
                a = [(nbg(c).get("grade_id"), c.cell_type, c.source) for c in read_notebook(committed).cells]
                b = [(nbg(c).get("grade_id"), c.cell_type, c.source) for c in read_notebook(rel / f"{name}.ipynb").cells]
                rows.append((f"assignments/{hw}/{name}.ipynb up to date", "same as generated",
                             "same" if a == b else "differs: run `release " + hw + "`", a == b))
        refs = references(course, hw, release_root=rel)
        data = [[str(p), str(p.relative_to(rel))] for p in sorted(rel.rglob("*"))
                if p.is_file() and p.suffix != ".ipynb"]
        jobs = [_job(hw, "master", {n: course.solutions / hw / f"{n}.ipynb" for n in names},
                     refs, data, limits, use_bwrap, tmp),
                _job(hw, "released", {n: rel / f"{n}.ipynb" for n in names},
                     refs, data, limits, use_bwrap, tmp)]
        with ThreadPoolExecutor(2) as pool:
            master, released = pool.map(grade_submission, jobs)
    auto_max = sum(c["points"] for r in refs.values() for c in r["cells"] if c["kind"] == "test")
    rows.append(("master: status", "graded", master["status"] + (f" ({master['reason']})" if master["reason"] else ""),
                 master["status"] == "graded"))
    rows.append(("master: autograded score", f"{auto_max:g}", f"{master['score']:g}", master["score"] == auto_max))
    rows.append(("released: status", "graded", released["status"] + (f" ({released['reason']})" if released["reason"] else ""),
                 released["status"] == "graded"))
    rows.append(("released: score", "0", f"{released['score']:g}", released["score"] == 0))
    for name in names:
        for gid, t in master["notebooks"].get(name, {}).get("tests", {}).items():
            if not t["passed"]:
                rows.append((f"master passes {name}:{gid}", "pass", "fail: " + t["message"][:80], False))
        for gid, t in released["notebooks"].get(name, {}).get("tests", {}).items():
            rows.append((f"stub fails {name}:{gid}", "fail", "fail" if not t["passed"] else "PASSES", not t["passed"]))
    for label, res in (("master", master), ("released", released)):
        flags = [f for f in res["flags"] if f not in ENVIRONMENT_FLAGS]
        if flags:
            rows.append((f"{label}: no grader flags", "none", ";".join(flags)[:80], False))
    ok = all(r[3] for r in rows)
    return ok, format_table(rows)


ENVIRONMENT_FLAGS = ("no_cgroup",)   # about the grading machine, not the notebook


def format_table(rows) -> str:
    head = ("check", "expected", "actual", "")
    body = [(a, b, c, "ok" if d else "FAIL") for a, b, c, d in rows]
    w = [max(len(str(r[i])) for r in [head] + body) for i in range(4)]
    return "\n".join("  ".join(str(r[i]).ljust(w[i]) for i in range(4)).rstrip() for r in [head] + body)
