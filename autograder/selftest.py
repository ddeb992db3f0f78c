"""``selftest HW``: prove an assignment is gradeable, through the real grading path.

1. nbgrader generates the student version from ``solutions/HW`` (into a scratch folder) and, if
   ``assignments/HW`` exists, it must match (cell sources of every nbgrader cell);
2. the master notebook(s) must score full marks on every autograded test;
3. the released version must score zero without crashing (status ``graded``);
4. every graded test cell must fail on the released stub;
5. the committed ``assignments/HW/.autograder/visible_checks.json`` equals a fresh one (what the
   master observes for visible checks) and names no hidden check;
6. every variant of ``solutions/HW/variants.yml`` earns exactly its declared points per test.

The master runs first (its observations are the expected side of every check); then the master,
the release and the variants are graded two at a time.

Runs in a scratch workspace: the course's gradebook is not touched. Exit status 1 with a table of
what failed otherwise.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import variants
from .course import Course, UsageError
from .expected import VISIBLE_FILE, attach, dump_visible, expected_checks, visible_checks
from .grade import references
from .notebook import nbg, read_notebook
from .release import _generate
from .sandbox import Limits
from .worker import grade_submission

INFO_FLAGS = ("in_kernel_verdict:",)   # facts about the assignment, not about the submission


def _job(hw, label, files: dict, refs, data, limits, use_bwrap, tmp: Path) -> dict:
    sub = tmp / label
    sub.mkdir()
    for name, src in files.items():
        (sub / f"{name}.ipynb").write_bytes(Path(src).read_bytes())
    return {"student": label, "hw": hw, "hash": "", "submission_dir": str(sub),
            "autograded_dir": str(tmp / f"{label}-out"), "refs": refs, "data_files": data,
            "limits": limits.to_dict(), "use_bwrap": use_bwrap}


def _release_rows(course: Course, hw: str, rel: Path, names: list[str]) -> list:
    rows = []
    for name in names:
        committed = course.release_dir(hw) / f"{name}.ipynb"
        if not committed.is_file():
            rows.append((f"assignments/{hw}/{name}.ipynb exists", "yes", "missing", False))
            continue
        a = [(nbg(c).get("grade_id"), c.cell_type, c.source) for c in read_notebook(committed).cells]
        b = [(nbg(c).get("grade_id"), c.cell_type, c.source) for c in read_notebook(rel / f"{name}.ipynb").cells]
        rows.append((f"assignments/{hw}/{name}.ipynb up to date", "same as generated",
                     "same" if a == b else "differs: run `release " + hw + "`", a == b))
    return rows


def _visible_rows(course: Course, hw: str, records: dict) -> list:
    """The committed visible_checks.json equals a fresh one and holds no hidden check."""
    path = course.release_dir(hw) / VISIBLE_FILE
    label = f"assignments/{hw}/{VISIBLE_FILE}"
    if not path.is_file():
        return [(f"{label} exists", "yes", f"missing: run `release {hw}`", False)]
    fresh = dump_visible(visible_checks(records))
    committed = path.read_text()
    try:
        shipped = {n for nb in json.loads(committed)["notebooks"].values() for n in nb["checks"]}
    except (ValueError, KeyError, TypeError, AttributeError):
        shipped = set()
    hidden = sorted(r["name"] for by in records.values() for recs in by.values() for r in recs
                    if r.get("hidden") and r["name"] in shipped)
    return [(f"{label} up to date", "same as the master's", "same" if committed == fresh
             else f"differs: run `release {hw}`", committed == fresh),
            (f"{label} has no hidden check", "none", ", ".join(hidden)[:80] or "none", not hidden)]


def _score_rows(master: dict, released: dict, refs: dict, names: list[str]) -> list:
    auto_max = sum(c["points"] for r in refs.values() for c in r["cells"] if c["kind"] == "test")
    rows = [("master: status", "graded", master["status"] + (f" ({master['reason']})" if master["reason"] else ""),
             master["status"] == "graded"),
            ("master: autograded score", f"{auto_max:g}", f"{master['score']:g}", master["score"] == auto_max),
            ("released: status", "graded", released["status"] + (f" ({released['reason']})" if released["reason"] else ""),
             released["status"] == "graded"),
            ("released: score", "0", f"{released['score']:g}", released["score"] == 0)]
    for name in names:
        for gid, t in master["notebooks"].get(name, {}).get("tests", {}).items():
            if not t["passed"]:
                rows.append((f"master passes {name}:{gid}", "pass", "fail: " + t["message"][:80], False))
        for gid, t in released["notebooks"].get(name, {}).get("tests", {}).items():
            rows.append((f"stub fails {name}:{gid}", "fail", "fail" if not t["passed"] else "PASSES", not t["passed"]))
    for label, res in (("master", master), ("released", released)):
        flags = [f for f in res["flags"] if not f.startswith(INFO_FLAGS)]
        if flags:
            rows.append((f"{label}: no grader flags", "none", ";".join(flags)[:80], False))
    return rows


def _variant_jobs(course, hw, rel, refs, data, limits, use_bwrap, tmp):
    """(variant, notebook name, job) for every variant of solutions/HW/variants.yml."""
    path = course.solutions / hw / variants.FILE
    if not path.is_file():
        return []
    names = course.notebooks(hw)
    cells = {n: read_notebook(rel / f"{n}.ipynb").cells for n in names}
    name, suite = variants.load(path, names, cells)
    out = []
    for i, v in enumerate(suite):
        src = tmp / f"variant-{i}.ipynb"
        src.write_bytes(variants.patched_notebook(rel / f"{name}.ipynb", v))
        files = {n: (src if n == name else rel / f"{n}.ipynb") for n in names}
        out.append((v, name, _job(hw, f"variant-{i}", files, refs, data, limits, use_bwrap, tmp)))
    return out


def _variant_rows(vjobs: list, results: list[dict]) -> list:
    rows = []
    for (v, name, _), res in zip(vjobs, results, strict=True):
        tests = res["notebooks"].get(name, {}).get("tests", {})
        for gid, want in v.expect.items():
            t = tests.get(gid, {})
            got = float(t.get("score", 0.0))
            note = f"{got:g}" + ("" if got == want else f" ({t.get('message', res['reason'])[:60]})")
            rows.append((f"variant {v.name} ({v.kind}): {name}:{gid}", f"{want:g}", note, got == want))
    return rows


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
            rows += _release_rows(course, hw, rel, names)
        refs = references(course, hw, release_root=rel)
        data = [[str(p), str(p.relative_to(rel))] for p in sorted(rel.rglob("*"))
                if p.is_file() and p.suffix != ".ipynb"]
        try:
            records = expected_checks(scratch, hw, refs, data, limits, use_bwrap, cache=False)
        except UsageError as e:   # an authoring error: one row, and the rest of the table
            rows.append(("master observations", "clean", str(e)[:120], False))
            records = {}
        attach(refs, records)
        if course.release_dir(hw).is_dir():
            rows += _visible_rows(course, hw, records)
        jobs = [_job(hw, "master", {n: course.solutions / hw / f"{n}.ipynb" for n in names},
                     refs, data, limits, use_bwrap, tmp),
                _job(hw, "released", {n: rel / f"{n}.ipynb" for n in names},
                     refs, data, limits, use_bwrap, tmp)]
        vjobs = _variant_jobs(course, hw, rel, refs, data, limits, use_bwrap, tmp)
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(grade_submission, jobs + [j for _, _, j in vjobs]))
    master, released = results[:2]
    rows += _score_rows(master, released, refs, names)
    rows += _variant_rows(vjobs, results[2:])
    ok = all(r[3] for r in rows)
    return ok, format_table(rows)


def format_table(rows) -> str:
    head = ("check", "expected", "actual", "")
    body = [(a, b, c, "ok" if d else "FAIL") for a, b, c, d in rows]
    w = [max(len(str(r[i])) for r in [head] + body) for i in range(4)]
    return "\n".join("  ".join(str(r[i]).ljust(w[i]) for i in range(4)).rstrip() for r in [head] + body)
