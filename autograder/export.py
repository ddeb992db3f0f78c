"""``export HW --format csv|canvas``: one row per student.

Scores come from the gradebook (so manual grades entered in formgrader count: a manual score
overrides the automatic one), status and flags from the grading results. Students who are in the
gradebook but have no submission get status ``missing``.

csv columns: student_id, score, max_score, status, flags, reason, then one column per graded cell
(``grade_id``, or ``notebook:grade_id`` when several notebooks are graded), then the late columns
(``score_unpenalised``, ``late_penalty``, ``seconds_late``, ``submitted_at``): ``score`` is after
the late policy of ``course.yml`` (``lateness``), the other scores are before it.
canvas: Canvas' gradebook import format (Student, ID, SIS User ID, SIS Login ID, Section, HW),
with the "Points Possible" row; Canvas ids are the numeric student ids of a Canvas export.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from .course import Course, UsageError
from .grade import references
from .lateness import LATE_COLUMNS, late_fields, late_policy, lms_late, load_config
from .text import safe_json, safe_text


def rows(course: Course, hw: str) -> tuple[list[str], list[dict]]:
    from nbgrader.api import MissingEntry

    course.check_assignment(hw)
    refs = references(course, hw)
    cells = [(name, c) for name, r in refs.items() for c in r["cells"] if c["kind"] in ("test", "manual")]
    multi = len(refs) > 1
    qcols = [f"{n}:{c['grade_id']}" if multi else c["grade_id"] for n, c in cells]
    max_score = sum(c["points"] for _, c in cells)
    policy = late_policy(load_config(course.root))
    # folder names may hold undecodable bytes (surrogates): shown sanitised, looked up raw
    on_disk = {safe_text(s): s for s in course.students(hw)}
    out = []
    with course.gradebook() as gb:
        try:
            gb.find_assignment(hw)
        except MissingEntry:
            raise UsageError(f"{hw} is not in the gradebook yet: run `grade {hw}` first") from None
        students = set(on_disk) | {safe_text(s.id) for s in gb.students}
        for sid in sorted(students):
            try:
                res = safe_json(course.load_result(hw, on_disk.get(sid, sid)))
            except Exception:   # an unreadable result is this student's problem only
                res = None
            row = {"student_id": sid, "max_score": f"{max_score:g}"}
            total = 0.0
            try:
                gb.find_submission(hw, sid)
                has_sub = True
            except MissingEntry:
                has_sub = False
            for (name, c), col in zip(cells, qcols, strict=True):
                val = None
                if has_sub:
                    try:
                        g = gb.find_grade(c["grade_id"], name, hw, sid)
                        val = g.manual_score if g.manual_score is not None else g.auto_score
                    except MissingEntry:
                        val = None
                row[col] = "" if val is None else f"{val:g}"
                total += val or 0.0
            row["score"] = f"{total:g}"
            if has_sub:
                row.update(_late(course, hw, gb, sid, on_disk.get(sid, sid), total, policy))
            if res and has_sub:
                row["status"] = res.get("status", "crashed")
                row["flags"] = ";".join(res.get("flags", []))
                row["reason"] = res.get("reason", "")
            else:
                row["status"] = "missing"
                row["flags"] = ""
                row["reason"] = "no graded submission"
            out.append(row)
    header = ["student_id", "score", "max_score", "status", "flags", "reason"] + qcols + LATE_COLUMNS
    return header, out


def _late(course: Course, hw: str, gb, sid: str, folder: str, total: float, policy) -> dict:
    """The late policy (``course.yml``) applied to one student's total; see ``lateness``."""
    sub = gb.find_submission(hw, sid)
    late = sub.total_seconds_late if sub.timestamp is not None and sub.duedate is not None else None
    return late_fields(policy, total, sub.timestamp, late, lms_late(course.submitted(hw, folder)))


def export(course: Course, hw: str, fmt: str = "csv", output: str | None = None) -> Path | None:
    header, data = rows(course, hw)
    data = [{k: safe_text(v) for k, v in r.items()} for r in data]
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "w", newline="", encoding="utf-8")
    else:
        path = None
        fh = sys.stdout
    try:
        w = csv.writer(fh)
        if fmt == "csv":
            w.writerow(header)
            for r in data:
                w.writerow([r.get(h, "") for h in header])
        elif fmt == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", hw])
            w.writerow(["Points Possible", "", "", "", "", data[0]["max_score"] if data else ""])
            for r in data:
                w.writerow(["", r["student_id"], "", "", "", r["score"]])
        else:
            raise UsageError(f"unknown export format {fmt!r} (csv or canvas)")
    finally:
        if path:
            fh.close()
    return path
