"""The student verbs work in this repository without solutions, and the docs' links resolve.

`validate` runs each released notebook with its visible tests (read from
`assignments/HW/.autograder/visible_checks.json`); the released stubs fail them, with a report and
no crash. `submit` packages each assignment into a zip.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RELEASED = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("assignments/*/*.ipynb"))
ASSIGNMENTS = sorted({Path(p).parent.name for p in RELEASED})
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def autograder(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def test_this_is_a_student_repository():
    assert RELEASED, "no released notebooks in assignments/"
    assert not (ROOT / "solutions").exists()


@pytest.mark.parametrize("notebook", RELEASED)
def test_validate_reports_the_visible_tests_of_the_released_stub(notebook):
    done = autograder("validate", notebook)
    assert "error:" not in done.stderr, done.stderr
    assert done.returncode == 1, f"the unanswered notebook should fail its visible tests:\n{done.stdout}"
    assert re.search(r"0/\d+ test cells pass their visible tests", done.stdout), done.stdout
    assert "Some tests fail" in done.stdout


@pytest.mark.parametrize("hw", ASSIGNMENTS)
def test_submit_packages_the_released_notebooks(hw, tmp_path):
    out = tmp_path / f"{hw}_1001.zip"
    done = autograder("submit", hw, "--student", "1001", "--output", str(out))
    assert done.returncode == 0, done.stderr
    expected = sorted(p.name for p in (ROOT / "assignments" / hw).glob("*.ipynb"))
    assert sorted(zipfile.ZipFile(out).namelist()) == expected


def test_validate_explains_a_missing_notebook():
    done = autograder("validate", "assignments/no-such/no-such.ipynb")
    assert done.returncode == 2 and "notebook not found" in done.stderr


@pytest.mark.parametrize("doc", ["README.md", "syllabus.md"])
def test_relative_links_resolve(doc):
    targets = [t.split("#")[0] for t in LINK.findall((ROOT / doc).read_text())
               if not t.startswith(("http://", "https://", "#", "mailto:"))]
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert not missing, f"{doc} links to missing files: {missing}"
