"""``release HW``: generate ``assignments/HW`` (student version) from ``solutions/HW`` with nbgrader.

nbgrader removes solutions and hidden tests, locks the test cells, computes checksums and records
the assignment (cells, points) in the gradebook. The release also gets
``.autograder/visible_checks.json``: what the master observed for every *visible* check (never a
hidden one), so checks can decide locally in a student's own Jupyter and ``validate`` works
without ``solutions/``. ``ensure_gradebook`` does the same into a scratch
release folder when a workspace is fresh (e.g. a clean clone with committed ``assignments/``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .course import Course, UsageError


def _generate(course: Course, hw: str, release_directory: str | Path) -> None:
    import contextlib

    course.workspace.mkdir(parents=True, exist_ok=True)
    api = course.api(release_directory=release_directory)
    # nbgrader's InstantiateTests reads the course-wide autotests.yml from the working directory
    with contextlib.chdir(course.root):
        result = api.generate_assignment(hw, force=True, create=True)
    if not result.get("success"):
        log = (result.get("error") or "") + "\n" + (result.get("log") or "")
        lines = [ln for ln in log.splitlines() if ln.strip()]
        import re

        errs = [ln for ln in lines if re.match(r"\s*[\w.]*(Error|Exception): ", ln)
                and "NbGraderException" not in ln]
        detail = errs[0] if errs else (lines[-1] if lines else "unknown error")
        raise UsageError(f"nbgrader could not generate {hw}: {detail.strip()[:300]}")
    _mark_gradebook(course, hw)


def _state_path(course: Course) -> Path:
    return course.ws("gradebook_state.json")


def _mark_gradebook(course: Course, hw: str) -> None:
    p = _state_path(course)
    state = json.loads(p.read_text()) if p.is_file() else {}
    state[hw] = course.master_hash(hw)
    p.write_text(json.dumps(state, indent=1))


def release(course: Course, hw: str) -> Path:
    course.check_assignment(hw)
    _generate(course, hw, "assignments")
    out = course.release_dir(hw)
    # nbgrader copies everything; drop caches that are never part of a release
    for junk in list(out.rglob("__pycache__")) + list(out.rglob(".ipynb_checkpoints")):
        shutil.rmtree(junk, ignore_errors=True)
    write_visible_checks(course, hw)
    return out


def fresh_visible_checks(course: Course, hw: str, release_root: Path | None = None,
                         use_bwrap: bool = True) -> dict:
    """The visible checks of ``hw`` as the master observes them now (runs the master, cached)."""
    from .expected import expected_checks, visible_checks
    from .grade import references

    rel = release_root or course.release_dir(hw)
    refs = references(course, hw, release_root=rel)
    data = [[str(p), str(p.relative_to(rel))] for p in sorted(rel.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb"
            and not any(s.startswith(".") for s in p.relative_to(rel).parts)]
    return visible_checks(expected_checks(course, hw, refs, data, use_bwrap=use_bwrap))


def write_visible_checks(course: Course, hw: str) -> Path:
    """``assignments/HW/.autograder/visible_checks.json`` (a dot-folder: never a data file)."""
    from .expected import VISIBLE_FILE, dump_visible

    path = course.release_dir(hw) / VISIBLE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_visible(fresh_visible_checks(course, hw)))
    return path


def ensure_gradebook(course: Course, hw: str) -> None:
    """Make sure the gradebook knows ``hw`` as it is in ``solutions/`` now."""
    p = _state_path(course)
    state = json.loads(p.read_text()) if p.is_file() else {}
    if state.get(hw) == course.master_hash(hw) and Path(course.db_url.replace("sqlite:///", "")).exists():
        return
    tmp = course.ws("tmp", "release")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _generate(course, hw, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not course.release_dir(hw).is_dir():
        raise UsageError(f"assignments/{hw} does not exist: run `python -m autograder release {hw}`")
