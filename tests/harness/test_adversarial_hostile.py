"""Hostile submissions against the verbs after the kernel: every string a student controls is an attack.

A batch of the fixture hw1 (legacy asserts with hidden tests) is collected and graded once per
session through the real CLI (under a file lock, shared by the xdist workers), then ``feedback``,
``export`` and ``report`` run on it. The batch holds lone surrogates (grade ids, metadata, Markdown,
printed output, a student folder whose name is not UTF-8), bytes that are not UTF-8 in outputs,
pathological Markdown, XSS in every channel (Markdown, text/html, SVG, Markdown and JavaScript
outputs, cell and notebook metadata, attachments), and hooks that read each test cell's source
and print it base64-encoded, with zero-width joiners, reversed, in hex, from a thread, and through
a display update. Every verb completes for everybody; no feedback page holds active content or a
hidden test, however encoded.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock
from harness_helpers import fresh_course, run_cli

from autograder.feedback import REMOVED_OUTPUT, redact
from autograder.text import folded_secrets, hidden_text_in, safe_json, safe_text

Q1_OK = "def sample_mean(x):\n    return float(np.mean(np.asarray(x, dtype=float)))"
Q2_OK = ("def diff_in_means(y, t):\n    y, t = np.asarray(y, dtype=float), np.asarray(t)\n"
         "    return float(y[t == 1].mean() - y[t == 0].mean())")
SURROGATE = "\ud800"
ODD_SID = os.fsdecode(b"odd\xffname")   # a folder name that is not UTF-8 (surrogate-escaped)

XSS_MARKDOWN = (
    "# Notes <script>alert('md-script')</script>\n\n"
    "<img src=x onerror=alert('md-onerror')> <a href=\"javascript:alert('md-js')\">click</a>\n\n"
    "<svg onload=alert('md-svg')><script>alert('svg-script')</script></svg>\n\n"
    "<iframe src=\"https://evil.example\"></iframe><form action=\"https://evil.example\">"
    "<input name=q></form><object data=x></object>\n\n"
    "[link](javascript:alert('md-link')) ![img](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)\n\n"
    "<a href=\"data:text/html,<script>alert(1)</script>\">data</a> <div onclick=alert(1)>div</div>")
XSS_OUTPUTS = (
    "\n\nfrom IPython.display import HTML, SVG, Markdown, Javascript, display\n"
    "display(HTML(\"<script>alert('out-script')</script><img src=x onerror=alert('out-img')>"
    "<a href='javascript:alert(1)'>x</a>\"))\n"
    "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\">"
    "<script>alert(2)</script></svg>'))\n"
    "display(Markdown(\"<img src=x onerror=alert('out-md')>\"))\n"
    "display(Javascript(\"alert('out-js')\"))\n"
    "display({'text/html': '<iframe src=https://evil.example></iframe>'}, raw=True)\n")
LEAK_HOOKS = (
    "\n\nimport base64, threading, time\nfrom IPython.display import display, update_display\n"
    "SEEN = []\n"
    "def _leak(info):\n"
    "    SEEN.append(info.raw_cell)\n"
    "    for src in SEEN:   # every cell seen so far, printed again in each later cell\n"
    "        print(base64.b64encode(src.encode()).decode())\n"
    "        print('\\u200d'.join(src))\n"
    "        print(src[::-1])\n"
    "        print(src.encode().hex())\n"
    "    try:\n"
    "        update_display(base64.b64encode(SEEN[-1].encode()).decode(), display_id='leak')\n"
    "    except Exception:\n"
    "        pass\n"
    "def _after(result):\n"
    "    print(base64.b64encode(result.info.raw_cell.encode()).decode())\n"
    "get_ipython().events.register('pre_run_cell', _leak)\n"
    "get_ipython().events.register('post_run_cell', _after)\n"
    "display('placeholder', display_id='leak')\n"
    "def _spy():\n"
    "    for _ in range(300):\n"
    "        if SEEN:\n"
    "            print(base64.b64encode(SEEN[-1].encode()).decode()[::-1], flush=True)\n"
    "        time.sleep(0.1)\n"
    "threading.Thread(target=_spy, daemon=True).start()\n")
PATHOLOGICAL = "[" * 100_000 + "\n\n" + "*a " * 30_000 + "b" + " a*" * 30_000


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _nb(release: Path, q1: str = Q1_OK, q2: str = Q2_OK, edit=None) -> bytes:
    nb = copy.deepcopy(nbformat.read(str(release), as_version=4))
    for c in nb.cells:
        if _gid(c) == "q1_answer":
            c.source = q1
        if _gid(c) == "q2_answer":
            c.source = q2
    if edit:
        edit(nb)
    # ensure_ascii: lone surrogates travel as \\ud800 escapes (valid JSON, valid UTF-8 file)
    return json.dumps(nb, ensure_ascii=True, indent=1).encode()


def _surrogates(nb):
    extra = nbformat.v4.new_code_cell("x_sur = 1")
    extra.metadata["nbgrader"] = {"grade_id": "bad" + SURROGATE, "grade": True, "points": 1,
                                  "solution": False, "locked": False}
    nb.cells.insert(3, extra)
    nb.cells.insert(4, nbformat.v4.new_markdown_cell("lone " + SURROGATE + " surrogate"))
    nb.metadata["title"] = "t" + SURROGATE
    nb.cells[0].metadata["tags"] = ["tag" + SURROGATE]


def _xss(nb):
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(XSS_MARKDOWN))
    att = nbformat.v4.new_markdown_cell("![a](attachment:a.svg)")
    svg = "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><script>alert(2)</script></svg>"
    att["attachments"] = {"a.svg": {"image/svg+xml": base64.b64encode(svg.encode()).decode()}}
    nb.cells.insert(2, att)
    nb.metadata["title"] = "</title><script>alert('meta-title')</script>"
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "\"><script>alert(1)</script>"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0, "x": "</script><script>alert(3)</script>"}}
    for c in nb.cells:
        c.metadata["tags"] = ["\"><script>alert('tag')</script>", "x onmouseover=alert(1)"]


def _pathological(nb):
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(PATHOLOGICAL))


CASES = {
    "correct": lambda r: _nb(r),
    "surrogates": lambda r: _nb(r, Q1_OK + "\nprint('out " + SURROGATE + "')\n"
                                "import sys\nsys.stdout.write(b'bad \\xff\\xfe utf8'.decode('utf-8', 'surrogateescape'))\n",
                                edit=_surrogates),
    "xss": lambda r: _nb(r, Q1_OK + XSS_OUTPUTS, edit=_xss),
    "pathological": lambda r: _nb(r, edit=_pathological),
    "leak_hooks": lambda r: _nb(r, Q1_OK + LEAK_HOOKS),
    "leak_hooks_wrong": lambda r: _nb(r, "def sample_mean(x):\n    return float(np.median(x))" + LEAK_HOOKS),
}
SCORES = {"correct": 6, "surrogates": 6, "xss": 6, "pathological": 6, "leak_hooks": 6,
          "leak_hooks_wrong": 4, ODD_SID: 6}


@pytest.fixture(scope="session")
def hostile(shared_dir):
    root = shared_dir / "hostile"
    done = root / "done.json"
    with FileLock(str(shared_dir / "hostile.lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            course = fresh_course(root / "course")
            release = course / "assignments" / "hw1" / "hw1.ipynb"
            for sid, make in CASES.items():
                (root / "in" / sid).mkdir(parents=True)
                (root / "in" / sid / "hw1.ipynb").write_bytes(make(release))
            run_cli("--course", course, "collect", "hw1", root / "in")
            submitted = course / "build" / "grading" / "submitted"
            shutil.copytree(submitted / "correct", submitted / ODD_SID)
            procs = {"grade": run_cli("--course", course, "grade", "hw1", "--workers", "2",
                                      "--timeout", "20", "--memory", "1024", "--wall", "180")}
            procs["feedback"] = run_cli("--course", course, "feedback", "hw1", "--render-timeout", "30")
            procs["export"] = run_cli("--course", course, "export", "hw1")
            procs["canvas"] = run_cli("--course", course, "export", "hw1", "--format", "canvas")
            procs["report"] = run_cli("--course", course, "report", "hw1")
            info = {"course": str(course), "out": {k: p.stdout for k, p in procs.items()},
                    "err": {k: p.stderr[-3000:] for k, p in procs.items()}}
            done.write_text(json.dumps(info, ensure_ascii=True))
    return json.loads(done.read_text())


def _pages(hostile) -> dict[str, str]:
    fb = Path(hostile["course"]) / "build" / "grading" / "feedback"
    return {p.parent.parent.name: p.read_text(encoding="utf-8") for p in fb.glob("*/hw1/hw1.html")}


class _Markup(HTMLParser):
    """Every element and attribute of a page (what a browser would act on)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _active_content(page: str) -> list[str]:
    parser = _Markup()
    parser.feed(page)
    bad = []
    for tag, attrs in parser.tags:
        if tag in ("script", "iframe", "object", "embed", "form", "input", "svg", "math", "link",
                   "base", "frame", "frameset", "applet"):
            bad.append(tag)
        for name, value in attrs.items():
            v = "".join(value.split()).lower()
            if name.startswith("on"):
                bad.append(f"{tag} {name}=")
            if name in ("href", "src", "action", "formaction", "xlink:href", "srcset", "background"):
                ok = (v.startswith(("https://", "http://", "mailto:", "#")) if name == "href"
                      else name == "src" and tag == "img" and v.startswith(
                          ("data:image/png", "data:image/jpeg", "data:image/gif")))
                if not ok:
                    bad.append(f"{tag} {name}={value[:40]}")
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            bad.append("meta refresh")
    return bad


def test_every_verb_completes_for_everybody(hostile):
    pages = _pages(hostile)
    assert set(pages) == set(SCORES), sorted(pages)
    course = Path(hostile["course"])
    results = {p.stem: json.loads(p.read_text()) for p in (course / "build/grading/results/hw1").glob("*.json")}
    assert {safe_text(s) for s in results} == {safe_text(s) for s in SCORES}
    for sid, res in results.items():
        assert res["score"] == SCORES[sid], (sid, res["status"], res["reason"], res["flags"])
    for sid in SCORES:
        assert safe_text(sid) in hostile["out"]["grade"]
        assert safe_text(sid) in hostile["out"]["export"]
    assert "wrote" in hostile["out"]["feedback"] and "report:" in hostile["out"]["report"]
    summary = (course / "build/grading/reports/hw1/summary.md").read_text(encoding="utf-8")
    assert "unknown\\_nbgrader\\_cell" in summary and "<script" not in summary


def test_surrogates_are_recorded_not_fatal(hostile):
    course = Path(hostile["course"])
    res = json.loads((course / "build/grading/results/hw1/surrogates.json").read_text())
    assert "unknown_nbgrader_cell:bad\ufffd" in res["flags"]
    assert "unencodable_text" in res["flags"]
    page = _pages(hostile)["surrogates"]
    assert "bad\ufffd" in page and SURROGATE not in page


@pytest.mark.parametrize("sid", sorted(CASES))
def test_no_active_content_and_a_strict_csp(hostile, sid):
    page = _pages(hostile)[sid]
    assert _active_content(page) == []
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_xss_page_keeps_the_text_but_no_markup(hostile):
    page = _pages(hostile)["xss"]
    assert "Notes" in page and "click" in page            # the prose survives, inert
    assert "meta-title" not in page and "svg-script" not in page
    assert page.count("out-script") == 1   # in the escaped source of the cell, not as its output


def test_pathological_markdown_falls_back_to_plain_text(hostile):
    course = Path(hostile["course"])
    status = json.loads((course / "build/grading/feedback/hw1_feedback_status.json").read_text())
    assert "pathological/hw1" in status and "plain text" in status["pathological/hw1"]
    assert set(status) == {"pathological/hw1"}, status
    page = _pages(hostile)["pathological"]
    assert "PASSED" in page and "[[[[" in page


@pytest.mark.parametrize("sid", ["leak_hooks", "leak_hooks_wrong"])
def test_hidden_tests_never_reach_feedback_however_encoded(hostile, sid):
    from autograder.course import Course
    from autograder.grade import references

    ref = references(Course(hostile["course"]), "hw1")["hw1"]
    page = _pages(hostile)[sid]
    folded = folded_secrets(ref["hidden_lines"])
    assert folded and not hidden_text_in(page, folded)
    for marker in ("HIDDEN_Q1_SECRET", "HIDDEN_Q2_SECRET", "2.5375"):
        for form in (marker, marker[::-1], marker.encode().hex(), "\u200d".join(marker),
                     *(base64.b64encode((pad + marker).encode()).decode()[4:16] for pad in ("", "x", "xx"))):
            assert form not in page, (marker, form)
    # structural, not pattern matching: the visible outputs never saw hidden code to redact
    assert REMOVED_OUTPUT.strip() not in page
    assert "HIDDEN_Q1_SECRET" not in page and "BEGIN HIDDEN" not in page
    assert page.count("PASSED") >= (3 if sid == "leak_hooks" else 2)


def test_second_line_catches_disguised_hidden_text():
    secret = 'assert_allclose(float(sample_mean(y)), 2.5375, rtol=1e-9, err_msg="HIDDEN")'
    folded = folded_secrets([secret])
    enc = secret.encode()
    disguised = [secret, base64.b64encode(enc).decode(), base64.urlsafe_b64encode(enc).decode(),
                 "\u200b".join(secret), secret[::-1], enc.hex(), " ".join(f"{b:02x}" for b in enc),
                 secret.upper().replace(" ", "\n  "), "\uff41" + secret[1:]]
    for text in disguised:
        assert hidden_text_in("noise " + text + " noise", folded), text
    assert not hidden_text_in("assert_allclose(float(sample_mean(x)), 2.0)", folded)
    ref = {"hidden_lines": [secret], "solution_lines": [], "cells": []}
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(leak)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text=base64.b64encode(enc).decode() + "\n")]
    nb.cells = [cell]
    assert redact(nb, ref, {}).cells[0].outputs[0]["text"] == REMOVED_OUTPUT


def test_safe_text_and_safe_json():
    assert safe_text("a" + SURROGATE + "b") == "a\ufffdb"
    assert safe_text("\ud83d\ude00") == "\U0001f600"
    assert safe_json({"k" + SURROGATE: ["v" + SURROGATE, 1]}) == {"k\ufffd": ["v\ufffd", 1]}
    json.dumps(safe_json({"x": ODD_SID}), ensure_ascii=False).encode("utf-8")


def test_normalise_runs_hidden_tests_in_a_tail_with_the_master_line_numbers():
    from harness_helpers import FIXTURE_COURSE

    from autograder.notebook import build_reference, hidden_line_ranges, hidden_of, normalise

    master = FIXTURE_COURSE / "solutions" / "hw1" / "hw1.ipynb"
    ref = build_reference(master, None)
    nb, flags = normalise(nbformat.read(str(master), as_version=4), ref)
    assert flags == []
    tails = [(i, hidden_of(c)) for i, c in enumerate(nb.cells) if hidden_of(c)]
    hidden_ids = [c["grade_id"] for c in ref["cells"] if c["kind"] == "test" and c["hidden"]]
    assert [g for _, g in tails] == hidden_ids and tails[0][0] == len(nb.cells) - len(tails)
    for rc in ref["cells"]:
        if not rc["hidden"]:
            continue
        vis = next(c.source for c in nb.cells if _gid(c) == rc["grade_id"])
        tail = next(c.source for c in nb.cells if hidden_of(c) == rc["grade_id"])
        assert "HIDDEN" not in vis and all(s not in vis for s in ref["hidden_lines"])
        full = rc["source_full"].split("\n")
        for a, b in hidden_line_ranges(rc["source_full"]):
            assert tail.split("\n")[a - 1:b] == full[a - 1:b]
        assert len(vis.split("\n")) == len(tail.split("\n")) == len(full)


def test_fold_hidden_tail_needs_both_parts_and_keeps_each_check_where_it_belongs():
    from autograder.execute import fold_hidden_tail
    from autograder.scoring import KernelRun

    def obs(name):
        return {"name": name, "kind": "equal", "line": 1, "value": 1}

    checks = {"t": [{"name": "vis", "hidden": False}, {"name": "hid", "hidden": True}]}
    run = KernelRun(replies={2: {"status": "ok"}, 5: {"status": "error", "ename": "E"}},
                    observations={2: [obs("vis"), obs("hid")], 5: [obs("hid"), obs("vis")]},
                    timed_out={5})
    fold_hidden_tail(run, {"t": 2}, {5: "t"}, checks)
    assert run.replies == {2: {"status": "error", "ename": "E"}}
    assert [o["name"] for o in run.observations[2]] == ["vis", "hid"]
    assert run.timed_out == {2}
    run = KernelRun(replies={2: {"status": "ok"}})          # the tail never ran: not run
    fold_hidden_tail(run, {"t": 2}, {5: "t"}, checks)
    assert run.replies == {}
    run = KernelRun(replies={2: {"status": "ok"}, 5: {"status": "ok"}},
                    observations={2: [obs("vis")], 5: [obs("hid"), obs("extra")]})
    fold_hidden_tail(run, {"t": 2}, {5: "t"}, None)         # the master's run keeps everything
    assert [o["name"] for o in run.observations[2]] == ["vis", "hid", "extra"]
