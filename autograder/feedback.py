"""``feedback HW``: one HTML page per student and notebook, safe to send and safe to open.

nbgrader's own feedback shows hidden tests. Here every page is built from the autograded notebook
after redaction:

* hidden tests never ran before anything the page shows: they run in a *hidden tail* after the
  whole notebook (``notebook.normalise``), whose cells are dropped here;
* test cells: hidden-test regions replaced by a note; outputs replaced by the verdict (pass/fail,
  points, the assertion message of a visible test; only "a hidden test failed" for hidden ones;
  no tracebacks, which quote source lines);
* any other output that contains a line of a hidden test or of the master's solutions, verbatim or
  disguised (``text.hidden_text_in``: zero-width characters, case, reversal, base64, hex), is
  removed; a final check scans the page and withholds it (placeholder page, recorded) if one is
  still there;
* everything a student wrote or printed is hostile: the body is sanitised (``sanitise``), the page
  forbids scripts by CSP, and each page renders in a forked child under a deadline; a page that
  fails or overruns falls back to escaped plain text. One bad page never stops the batch.
"""

from __future__ import annotations

import copy
import html
import json
import multiprocessing
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

from . import sanitise
from .course import Course, UsageError
from .grade import references
from .notebook import HIDDEN_BEGIN, HIDDEN_END, is_hidden_tail, nbg, strip_region
from .text import folded_secrets, hidden_text_in, safe_json, safe_text

NOTE = "# [hidden tests: not shown]"
RENDER_SECONDS = 20.0
REMOVED_OUTPUT = "[output removed: it showed hidden test or solution text]\n"
STATUS_FILE = "feedback_status.json"


class LeakError(RuntimeError):
    pass


def _texts(output) -> list[str]:
    out = []
    if "text" in output:
        out.append(output["text"] if isinstance(output["text"], str) else "".join(output["text"]))
    for v in (output.get("data") or {}).values():
        out.append(v if isinstance(v, str) else json.dumps(v))
    out += output.get("traceback", []) or []
    return [safe_text(t) for t in out]


def _leaks(text: str, secrets: list[str]) -> bool:
    return any(s in text or html.escape(s) in text for s in secrets)


def _safe_metadata(cell, keep_passed: bool) -> dict:
    """Only the metadata the page needs: nothing a student wrote reaches the template."""
    md = {}
    if nbg(cell):
        md["nbgrader"] = {k: v for k, v in nbg(cell).items()
                          if k in ("grade", "solution", "locked", "points", "grade_id")}
    if keep_passed and "feedback_passed" in cell.get("metadata", {}):
        md["feedback_passed"] = bool(cell.metadata["feedback_passed"])
    return md


def _verdict(t: dict) -> str:
    verdict = ("PASSED" if t.get("passed") else "FAILED") + \
        f"  ({t.get('score', 0):g} / {t.get('points', 0):g} points)"
    if t.get("message"):
        verdict += "\n" + safe_text(t["message"])
    return verdict


def _redact_outputs(cell, secrets: list[str], folded: list[str]) -> None:
    kept = []
    for o in cell.get("outputs", []):
        texts = _texts(o)
        if any(_leaks(t, secrets) or hidden_text_in(t, folded) for t in texts):
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=REMOVED_OUTPUT))
        else:
            kept.append(o)
    cell.outputs = kept


def redact(nb, ref: dict, nbres: dict) -> nbformat.NotebookNode:
    """The notebook a student may see: no hidden tail, no hidden text, no student metadata."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_hidden_tail(c)]
    nb.metadata = nbformat.from_dict({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    secrets = ref["hidden_lines"] + ref["solution_lines"]
    folded = folded_secrets(ref["hidden_lines"])
    tests = nbres.get("tests", {})
    ref_cells = {c["grade_id"]: c for c in ref["cells"]}
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        kind = ref_cells[gid]["kind"] if gid in ref_cells else None
        if kind == "test":   # the released view of the master's cell, whatever was executed
            cell.source = strip_region(ref_cells[gid]["source_full"], HIDDEN_BEGIN, HIDDEN_END, NOTE)
            t = tests.get(gid, {})
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=_verdict(t) + "\n")]
            cell.metadata["feedback_passed"] = bool(t.get("passed"))
        if cell.cell_type == "code":
            _redact_outputs(cell, secrets, folded)
        elif kind is None and (_leaks(cell.source, secrets) or hidden_text_in(cell.source, folded)):
            cell.source = "[cell removed: it contained hidden test or solution text]"
        if kind in ("solution", "manual") and _leaks(cell.source, secrets):
            cell.source = "[answer removed: it contained the reference solution]"
        cell.metadata = nbformat.from_dict(_safe_metadata(cell, kind == "test"))
    return nbformat.from_dict(safe_json(nb))


# ------------------------------------------------------------------------------- rendering

def _summary_html(res: dict, name: str) -> str:
    e = lambda v: html.escape(safe_text(v))  # noqa: E731
    nbres = res.get("notebooks", {}).get(name, {})
    rows = []
    for gid, t in nbres.get("tests", {}).items():
        ok = t.get("passed")
        rows.append(f"<tr><td>{e(gid)}</td><td style='color:{'#080' if ok else '#b00'}'>"
                    f"{'pass' if ok else 'fail'}</td><td>{t['score']:g} / {t['points']:g}</td>"
                    f"<td>{e(t.get('message', ''))}</td></tr>")
    for gid, m in nbres.get("manual", {}).items():
        rows.append(f"<tr><td>{e(gid)}</td><td>graded by hand</td>"
                    f"<td>? / {m['points']:g}</td><td></td></tr>")
    flags = ", ".join(map(safe_text, res.get("flags", []))) or "none"
    return (f"<div style='font-family:sans-serif;margin:1em'><h1>Feedback: {e(res['assignment'])}"
            f" / {e(name)}</h1><p>Student: <b>{e(res['student'])}</b> &nbsp; "
            f"Autograded score: <b>{res['score']:g} / {res['max_score']:g}</b> (written answers are "
            f"graded by hand) &nbsp; Status: <b>{e(res['status'])}</b></p>"
            f"<p>{e(res.get('reason', ''))}</p><p>Notes from the grader: {e(flags)}</p>"
            "<table border=1 cellpadding=4 style='border-collapse:collapse'><tr><th>test</th>"
            "<th>result</th><th>points</th><th>message</th></tr>" + "".join(rows) + "</table></div>")


_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


_EXPORTER = []


def _exporter():
    """One nbconvert exporter per process, made before forking (the children inherit it)."""
    if not _EXPORTER:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(template_name="classic")
        exporter.from_notebook_node(nbformat.v4.new_notebook())   # loads the templates once
        _EXPORTER.append(exporter)
    return _EXPORTER[0]


def render_body(nb) -> tuple[str, str]:
    """(the harness's CSS, the sanitised body) of the notebook rendered by nbconvert."""
    full, _ = _exporter().from_notebook_node(nb)
    style = "\n".join(_STYLE.findall(full.split("<body", 1)[0])).replace("</", "<\\/")
    m = _BODY.search(full)
    return style, sanitise.clean_html(m.group(1) if m else "")


def _render_child(nb, path: str) -> None:   # runs in the forked child
    try:
        style, body = render_body(nb)
        Path(path).write_text(json.dumps({"style": style, "body": body}), encoding="utf-8")
        os._exit(0)
    except BaseException:
        os._exit(3)


def render_guarded(nb, seconds: float = RENDER_SECONDS) -> tuple[str, str] | str:
    """(style, body), or why rendering failed: runs in a forked child killed at the deadline."""
    _exporter()
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="ag-fb-") as tmp:
        out = os.path.join(tmp, "page.json")
        proc = ctx.Process(target=_render_child, args=(nb, out), daemon=True)
        proc.start()
        proc.join(seconds)
        if proc.is_alive():
            proc.kill()
            proc.join()
            return f"rendering took longer than {seconds:g} s"
        if proc.exitcode != 0 or not os.path.isfile(out):
            return f"rendering failed (exit code {proc.exitcode})"
        data = json.loads(Path(out).read_text(encoding="utf-8"))
        return data["style"], data["body"]


def plain_body(nb) -> str:
    """The fallback page: every cell's source and text outputs, escaped, in <pre> blocks."""
    parts = []
    for cell in nb.cells:
        parts.append("<pre style='background:#f4f4f4;padding:.5em'>"
                     + html.escape(safe_text(cell.get("source", ""))) + "</pre>")
        for o in cell.get("outputs", []) or []:
            text = o.get("text") or (o.get("data") or {}).get("text/plain") or ""
            text = text if isinstance(text, str) else "".join(text)
            if text:
                parts.append("<pre>" + html.escape(safe_text(text)) + "</pre>")
    return "\n".join(parts)


def _placeholder(why: str) -> str:
    return (f"<p><b>This page is shown without its notebook: {html.escape(why)}.</b> "
            "Your instructor has been told.</p>")


def build_page(res: dict, name: str, ref: dict, src: Path | None, seconds: float) -> tuple[str, str]:
    """(page, problem or ""): never raises on a hostile notebook, never returns a leaking page."""
    nbres = res.get("notebooks", {}).get(name, {})
    style, problem, body = "", "", ""
    if src is not None:
        try:
            nb = redact(nbformat.read(str(src), as_version=4), ref, nbres)
        except Exception as e:
            nb, problem = None, f"the graded notebook could not be read ({type(e).__name__})"
            body = _placeholder(problem)
        if nb is not None:
            got = render_guarded(nb, seconds)
            if isinstance(got, str):
                problem, body = got + "; shown as plain text", plain_body(nb)
            else:
                style, body = got
    title = f"Feedback: {safe_text(res.get('assignment', ''))} / {name}"
    page = sanitise.page(title, style, _summary_html(res, name) + body)
    secrets = ref["hidden_lines"] + ref["solution_lines"]
    if _leaks(page, secrets) or hidden_text_in(html.unescape(re.sub(r"<[^>]*>", "", page)),
                                               folded_secrets(ref["hidden_lines"])):
        problem = "withheld: hidden test or solution text found in the page"
        page = sanitise.page(title, "", _summary_html(res, name) + _placeholder(problem))
        if _leaks(page, secrets):
            raise LeakError(f"refusing to write feedback for {res.get('student')}/{name}")
    return page, problem


def feedback(course: Course, hw: str, students: list[str] | None = None, progress: bool = True,
             seconds: float = RENDER_SECONDS) -> list[Path]:
    """Write every page; a page that cannot be built is recorded in ``feedback_status.json``."""
    from tqdm import tqdm

    course.check_assignment(hw)
    refs = references(course, hw)
    results = {s: course.load_result(hw, s) for s in (students or course.students(hw))}
    results = {s: safe_json(r) for s, r in results.items() if r}
    if not results:
        raise UsageError(f"no graded submissions for {hw}: run `grade {hw}` first")
    written, problems = [], {}
    for sid, res in tqdm(sorted(results.items()), desc=f"feedback {hw}", disable=not progress,
                         file=sys.stderr):
        for name, ref in refs.items():
            try:
                target = _write_page(course, hw, sid, name, ref, res, seconds, problems)
            except Exception as e:   # one student's page never stops the batch
                problems[f"{safe_text(sid)}/{name}"] = f"not written: {type(e).__name__}: {safe_text(e)[:200]}"
                continue
            written.append(target)
    status = course.ws("feedback", f"{hw}_{STATUS_FILE}")
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(json.dumps(problems, indent=1, sort_keys=True), encoding="utf-8")
    for key, why in sorted(problems.items()):
        print(f"feedback {key}: {why}", file=sys.stderr)
    return written


def _write_page(course, hw, sid, name, ref, res, seconds, problems) -> Path:
    nbres = res.get("notebooks", {}).get(name, {})
    src = course.autograded(hw, sid) / f"{name}.ipynb"
    usable = src.is_file() and nbres.get("status") not in ("invalid", "missing")
    page, problem = build_page(res, name, ref, src if usable else None, seconds)
    if problem:
        problems[f"{safe_text(sid)}/{name}"] = problem
    out_dir = course.feedback_dir(hw, sid)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.html"
    target.write_text(page, encoding="utf-8")
    return target
