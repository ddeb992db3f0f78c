"""Write an LMS export (a Canvas-style zip) of a class of fake students, to try the grading verbs.

    python -m coursebuild.demo_batch HW OUT.zip [--course DIR]

The students are the assignment's variant suite (``solutions/HW/variants.yml``): answers written
other ways, classic mistakes and an adversarial answer, each one student. Three more show what the
harness does with trouble: a student whose first answer loops forever, one whose notebook was
truncated on upload, and a zip entry that tries to escape the import folder (``../``). The release
(``assignments/HW/``) must exist: ``python -m autograder release HW`` writes it.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import nbformat

from autograder import variants as suite
from autograder.course import Course

from .catalog import REPO


class DemoBatchError(Exception):
    """The batch cannot be written: no release, or no variant suite, for the assignment."""


def canvas_name(student: str, number: int, hw: str) -> str:
    """Canvas's flat export name: ``lastfirst_USERID_SUBMISSIONID_file``, letters only in the name."""
    letters = re.sub(r"[^a-z]", "", student.lower()) or "student"
    return f"{letters}_{1000 + number}_{5000 + number}_{hw}.ipynb"


def looping(variant: suite.Variant) -> suite.Variant:
    """The variant with an endless loop before its first answer: the cell limit must stop it."""
    first = next(iter(variant.patches))
    patches = {**variant.patches, first: "while True:\n    pass\n" + variant.patches[first]}
    return replace(variant, name="loop", patches=patches)


def students(course: Course, hw: str) -> dict[str, bytes]:
    """Canvas file name -> notebook bytes, for every variant and the three troubled students."""
    release = course.release_dir(hw)
    names = course.notebooks(hw)
    suite_file = course.solutions / hw / suite.FILE
    if not names:
        raise DemoBatchError(f"no assignment {hw!r}: {course.solutions / hw} has no master notebook")
    if not all((release / f"{n}.ipynb").is_file() for n in names):
        raise DemoBatchError(f"{release} has no released notebook: run `python -m autograder release {hw}`")
    if not suite_file.is_file():
        raise DemoBatchError(f"{suite_file} not found: the demo class is the assignment's variant suite")
    cells = {n: nbformat.read(release / f"{n}.ipynb", as_version=4).cells for n in names}
    notebook, variants = suite.load(suite_file, names, cells)
    path = release / f"{notebook}.ipynb"
    batch = {canvas_name(v.name, i, hw): suite.patched_notebook(path, v) for i, v in enumerate(variants)}
    correct = next(v for v in variants if v.kind == "correct")
    batch[canvas_name("loop", 90, hw)] = suite.patched_notebook(path, looping(correct))
    whole = suite.patched_notebook(path, correct)
    batch[canvas_name("truncated", 91, hw)] = whole[: len(whole) // 3]
    batch[f"../../outside_{1092}_{5092}_{hw}.ipynb"] = whole
    return batch


def write_batch(course: Course, hw: str, out: Path) -> int:
    """Write the zip; return the number of entries."""
    batch = students(course, hw)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in batch.items():
            z.writestr(name, data)
    return len(batch)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("hw", help="assignment id, e.g. hw1")
    ap.add_argument("out", type=Path, help="the zip to write")
    ap.add_argument("--course", type=Path, default=REPO, help="course root (default: this repository)")
    a = ap.parse_args(argv)
    try:
        n = write_batch(Course(a.course.resolve()), a.hw, a.out)
    except DemoBatchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}: {n - 1} students and 1 unsafe entry")
    return 0


if __name__ == "__main__":
    sys.exit(main())
