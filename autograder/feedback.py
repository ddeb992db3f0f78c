"""``feedback HW``: one HTML page per student and notebook, safe to send.

nbgrader's own feedback shows hidden tests. Here every page is built from the autograded notebook
after redaction:

* test cells: hidden-test regions replaced by a note; outputs replaced by the verdict (pass/fail,
  points, the assertion message of a visible test; only "a hidden test failed" for hidden ones;
  no tracebacks, which quote source lines);
* any other output that contains a line of a hidden test or of the master's solutions is removed
  (a student could print ``In`` or read the notebook);
* a final check scans the rendered HTML for every hidden-test and solution line and refuses to
  write a page that still contains one.
"""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path

import nbformat

from .course import Course, UsageError
from .grade import references
from .notebook import HIDDEN_BEGIN, HIDDEN_END, nbg, strip_region

NOTE = "# [hidden tests: not shown]"


class LeakError(RuntimeError):
    pass


def _texts(output) -> list[str]:
    out = []
    if "text" in output:
        out.append(output["text"] if isinstance(output["text"], str) else "".join(output["text"]))
    for v in (output.get("data") or {}).values():
        out.append(v if isinstance(v, str) else json.dumps(v))
    out += output.get("traceback", []) or []
    return out


def _leaks(text: str, secrets: list[str]) -> bool:
    return any(s in text or html.escape(s) in text for s in secrets)


def redact(nb, ref: dict, nbres: dict) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    secrets = ref["hidden_lines"] + ref["solution_lines"]
    tests = nbres.get("tests", {})
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        kind = next((c["kind"] for c in ref["cells"] if c["grade_id"] == gid), None)
        if kind == "test":
            cell.source = strip_region(cell.source, HIDDEN_BEGIN, HIDDEN_END, NOTE)
            t = tests.get(gid, {})
            verdict = ("PASSED" if t.get("passed") else "FAILED") + \
                f"  ({t.get('score', 0):g} / {t.get('points', 0):g} points)"
            if t.get("message"):
                verdict += "\n" + t["message"]
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict + "\n")]
            cell.metadata["feedback_passed"] = bool(t.get("passed"))
        if cell.cell_type == "code":
            kept = []
            for o in cell.get("outputs", []):
                if any(_leaks(t, secrets) for t in _texts(o)):
                    kept.append(nbformat.v4.new_output(
                        "stream", name="stdout",
                        text="[output removed: it showed hidden test or solution text]\n"))
                else:
                    kept.append(o)
            cell.outputs = kept
        elif kind is None and _leaks(cell.source, secrets):
            cell.source = "[cell removed: it contained hidden test or solution text]"
        if kind in ("solution", "manual") and _leaks(cell.source, secrets):
            cell.source = "[answer removed: it contained the reference solution]"
    return nb


def _summary_html(res: dict, name: str) -> str:
    nbres = res.get("notebooks", {}).get(name, {})
    rows = []
    for gid, t in nbres.get("tests", {}).items():
        ok = t.get("passed")
        rows.append(f"<tr><td>{html.escape(gid)}</td><td style='color:{'#080' if ok else '#b00'}'>"
                    f"{'pass' if ok else 'fail'}</td><td>{t['score']:g} / {t['points']:g}</td>"
                    f"<td>{html.escape(t.get('message', ''))}</td></tr>")
    for gid, m in nbres.get("manual", {}).items():
        rows.append(f"<tr><td>{html.escape(gid)}</td><td>graded by hand</td>"
                    f"<td>? / {m['points']:g}</td><td></td></tr>")
    flags = ", ".join(res.get("flags", [])) or "none"
    return (f"<div style='font-family:sans-serif;margin:1em'><h1>Feedback: {html.escape(res['assignment'])}"
            f" / {html.escape(name)}</h1><p>Student: <b>{html.escape(res['student'])}</b> &nbsp; "
            f"Autograded score: <b>{res['score']:g} / {res['max_score']:g}</b> (written answers are "
            f"graded by hand) &nbsp; Status: <b>{html.escape(res['status'])}</b></p>"
            f"<p>{html.escape(res.get('reason', ''))}</p><p>Notes from the grader: {html.escape(flags)}</p>"
            "<table border=1 cellpadding=4 style='border-collapse:collapse'><tr><th>test</th>"
            "<th>result</th><th>points</th><th>message</th></tr>" + "".join(rows) + "</table></div>")


def feedback(course: Course, hw: str, students: list[str] | None = None, progress: bool = True) -> list[Path]:
    from nbconvert import HTMLExporter
    from tqdm import tqdm

    course.check_assignment(hw)
    refs = references(course, hw)
    results = {s: course.load_result(hw, s) for s in (students or course.students(hw))}
    results = {s: r for s, r in results.items() if r}
    if not results:
        raise UsageError(f"no graded submissions for {hw}: run `grade {hw}` first")
    exporter = HTMLExporter(template_name="classic")
    written = []
    for sid, res in tqdm(sorted(results.items()), desc=f"feedback {hw}", disable=not progress,
                         file=__import__("sys").stderr):
        out_dir = course.feedback_dir(hw, sid)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, ref in refs.items():
            secrets = ref["hidden_lines"] + ref["solution_lines"]
            nbres = res.get("notebooks", {}).get(name, {})
            src = course.autograded(hw, sid) / f"{name}.ipynb"
            if src.is_file() and nbres.get("status") not in ("invalid", "missing"):
                nb = redact(nbformat.read(str(src), as_version=4), ref, nbres)
                body, _ = exporter.from_notebook_node(nb)
            else:
                body = "<html><body></body></html>"
            page = body.replace("<body", "<body", 1)
            idx = page.find(">", page.find("<body")) + 1
            page = page[:idx] + _summary_html(res, name) + page[idx:]
            if _leaks(page, secrets):
                raise LeakError(f"refusing to write feedback for {sid}/{name}: hidden text found")
            target = out_dir / f"{name}.html"
            target.write_text(page, encoding="utf-8")
            written.append(target)
    return written
