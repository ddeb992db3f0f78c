"""Student verbs: ``validate NOTEBOOK`` (run the visible tests locally) and ``submit HW``.

``validate`` grades the notebook the way the grader will (same sandbox, same scoring), with the
visible tests only: expectations of visible checks come from the master when ``solutions/`` is
there, else from the release's ``.autograder/visible_checks.json`` (a student's checkout): locked cells are restored, and edits
that the grader would undo are reported. ``submit`` packages the assignment's notebooks into a zip
named for upload (``HW_submission.zip`` or ``HW_STUDENTID.zip``).
"""

from __future__ import annotations

import json
import tempfile
import time
import zipfile
from pathlib import Path

from .course import Course, UsageError
from .expected import VISIBLE_FILE, attach, expected_checks, records_from_visible
from .notebook import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    InvalidNotebook,
    build_reference,
    read_notebook,
    strip_region,
)
from .sandbox import Limits, bwrap_status
from .worker import grade_submission


def _reference(course: Course, path: Path) -> tuple[dict, Path]:
    """(reference with visible tests only, folder with the data files) for a student notebook."""
    hw = path.parent.name
    master = course.solutions / hw / path.name
    release = course.release_dir(hw) / path.name
    if master.is_file():          # structure and tests from the master, hidden tests dropped
        ref = build_reference(master, None)
    elif release.is_file() and release.resolve() != path:
        ref = build_reference(release, release)
    else:                         # only the notebook itself: its own test cells
        ref = build_reference(path, path)
    for c in ref["cells"]:
        if c["kind"] == "test":
            c["source_full"] = strip_region(c["source_full"], HIDDEN_BEGIN, HIDDEN_END)
            c["source_release"] = strip_region(c["source_release"], HIDDEN_BEGIN, HIDDEN_END)
            c["hidden"] = False
    ref["hidden_lines"] = []
    data_dir = course.release_dir(hw) if course.release_dir(hw).is_dir() else path.parent
    return ref, data_dir


def _visible_records(course: Course, path: Path, ref: dict, data: list, limits: Limits) -> dict:
    """Expectations of the visible checks: from the master when ``solutions/`` is there (run once,
    cached in the workspace), else from the release's ``.autograder/visible_checks.json``."""
    hw = path.parent.name
    if (course.solutions / hw / path.name).is_file():
        refs = {n: build_reference(course.solutions / hw / f"{n}.ipynb",
                                   course.release_dir(hw) / f"{n}.ipynb")
                for n in sorted(p.stem for p in (course.solutions / hw).glob("*.ipynb"))}
        rel = course.release_dir(hw)
        base = rel if rel.is_dir() else course.solutions / hw
        mdata = [[str(p), str(p.relative_to(base))] for p in course.data_files(hw) if base in p.parents]
        return expected_checks(course, hw, refs, mdata, limits, bwrap_status()[0])
    shipped = course.release_dir(hw) / VISIBLE_FILE
    if not shipped.is_file():
        shipped = path.parent / VISIBLE_FILE
    if shipped.is_file():
        try:
            return records_from_visible(json.loads(shipped.read_text()))
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {shipped}: {e}") from None
    if any("autograder import checks" in c["source_full"] for c in ref["cells"] if c["kind"] == "test"):
        raise UsageError(f"{VISIBLE_FILE} of {hw} is missing: restore it from the course repository "
                         "(git checkout assignments/) and validate again")
    return {}


def validate(course: Course, notebook: str, limits: Limits | None = None) -> tuple[bool, str]:
    path = Path(notebook).resolve()
    if not path.is_file():
        raise UsageError(f"notebook not found: {notebook}")
    try:
        read_notebook(path)
    except InvalidNotebook as e:
        raise UsageError(f"{path.name}: {e}") from None
    ref, data_dir = _reference(course, path)
    if not any(c["kind"] == "test" for c in ref["cells"]):
        raise UsageError(f"{path.name} has no nbgrader test cells (is it an assignment notebook?)")
    name = ref["name"]
    limits = limits or Limits(cell_timeout=60, wall=600)
    data = [[str(p), str(p.relative_to(data_dir))] for p in sorted(data_dir.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb"
            and not any(s.startswith(".") for s in p.relative_to(data_dir).parts)][:200]
    attach({name: ref}, _visible_records(course, path, ref, data, limits), visible_only=True)
    with tempfile.TemporaryDirectory(prefix="ag-validate-") as t:
        sub = Path(t) / "sub"
        sub.mkdir()
        (sub / f"{name}.ipynb").write_bytes(path.read_bytes())
        job = {"student": "you", "hw": path.parent.name, "hash": "", "submission_dir": str(sub),
               "autograded_dir": str(Path(t) / "out"), "refs": {name: ref},
               "data_files": data, "limits": limits.to_dict(), "use_bwrap": bwrap_status()[0]}
        t0 = time.time()
        res = grade_submission(job)
    nbres = res["notebooks"][name]
    tests = nbres["tests"]
    lines = [f"Validating {path.name} (visible tests only; hidden tests run at grading)", ""]
    for gid, tr in tests.items():
        mark = "PASS" if tr["passed"] else "FAIL"
        lines.append(f"  [{mark}] {gid} ({tr['points']:g} pt)" + (f": {tr['message']}" if not tr["passed"] else ""))
    npass = sum(tr["passed"] for tr in tests.values())
    lines += ["", f"{npass}/{len(tests)} test cells pass their visible tests "
              f"({time.time() - t0:.1f} s, status: {res['status']})."]
    if res["reason"]:
        lines.append("Problem: " + res["reason"])
    notes = [f for f in res["flags"] if not f.startswith(("kernelspec", "in_kernel_verdict:"))]
    if notes:
        lines.append("The grader will undo these changes: " + ", ".join(notes))
    ok = npass == len(tests) and res["status"] == "graded"
    lines.append("All visible tests pass. Remember: hidden tests may still fail." if ok
                 else "Some tests fail: read the messages above.")
    return ok, "\n".join(lines)


def submit(course: Course, hw: str, source: str | None = None, student: str | None = None,
           output: str | None = None) -> Path:
    course.check_assignment(hw)
    src = Path(source) if source else course.release_dir(hw)
    if not src.is_dir():
        raise UsageError(f"folder not found: {src}")
    names = course.notebooks(hw)
    found = {n: src / f"{n}.ipynb" for n in names if (src / f"{n}.ipynb").is_file()}
    if not found:
        raise UsageError(f"no notebooks of {hw} in {src} (expected: {', '.join(n + '.ipynb' for n in names)})")
    for p in found.values():
        try:
            read_notebook(p)
        except InvalidNotebook as e:
            raise UsageError(f"{p.name}: {e}") from None
    if student and not __import__("re").match(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$", student):
        raise UsageError(f"invalid student id: {student!r}")
    out = Path(output) if output else Path.cwd() / (f"{hw}_{student}.zip" if student else f"{hw}_submission.zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, p in found.items():
            zf.write(p, f"{n}.ipynb")
    missing = sorted(set(names) - set(found))
    if missing:
        print(f"warning: not included (not found): {', '.join(m + '.ipynb' for m in missing)}")
    return out
