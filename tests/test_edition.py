"""The student edition (coursebuild/edition.py): nothing secret leaks, and it works on its own.

The secrets are derived from every master (``solutions/HW/*.ipynb`` and the grading fixtures'
masters): solution regions, hidden-test regions, written-answer rubrics; new assignments are
covered without a change here. Not secret: lines that students see anyway in the releases, the
lectures and the code the course shares with them (harness, course helpers, build tools), where
idioms such as ``while stack:`` or ``given = set(given)`` recur.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursebuild import edition

REPO = Path(edition.__file__).resolve().parents[1]
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS",
           "=== BEGIN MARK SCHEME ===")
MASTERS = ("solutions/*/*.ipynb", "tests/fixtures/**/solutions/*/*.ipynb")
SEEN_BY_STUDENTS = ("assignments/*/*.ipynb", "notebooks/*.ipynb", "notebooks/*.py", "autograder/**/*.py",
                    "coursekit/**/*.py", "coursebuild/**/*.py")
REGIONS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
MIN_SECRET = 12      # shorter lines ("return x", "pass", "else:") are too common to tell anything


def region_lines(source: str, begin: str, end: str) -> list[str]:
    inside, found = False, []
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            found.append(line.strip())
    return found


def secret_lines(master: Path) -> set[str]:
    """Lines of a master that only the instructors may see: inside a solution or hidden-test
    region, or a whole written-answer cell without regions (its rubric)."""
    found = []
    for cell in nbformat.read(master, as_version=4).cells:
        source = cell.source
        found += [ln for b, e in REGIONS for ln in region_lines(source, b, e)]
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution") and "BEGIN SOLUTION" not in source:
            found += [ln.strip() for ln in source.splitlines()]
    return {ln for ln in found if len(ln) >= MIN_SECRET}


def file_lines(path: Path) -> list[str]:
    """Stripped lines of a file as a reader sees them: a notebook's cell sources, else its text."""
    if path.suffix == ".ipynb":
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    else:
        text = path.read_bytes().decode("utf-8", "replace")
    return [ln.strip() for ln in text.splitlines()]


def all_secrets() -> dict[str, str]:
    """secret line -> master it comes from (see the module docstring for what is no secret)."""
    seen = {ln for pattern in SEEN_BY_STUDENTS for p in REPO.glob(pattern) for ln in file_lines(p)}
    secrets = {}
    for master in sorted(p for pattern in MASTERS for p in REPO.glob(pattern)):
        for line in secret_lines(master) - seen:
            secrets[line] = master.relative_to(REPO).as_posix()
    return secrets


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("edition") / "course"
    edition.build(dest)
    return dest


@pytest.fixture(scope="module")
def edition_lines(student_repo) -> dict[str, list[str]]:
    files = [p for p in student_repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(student_repo).parts]
    return {p.relative_to(student_repo).as_posix(): file_lines(p) for p in files}


def test_the_secrets_are_derived_from_the_masters():
    secrets = all_secrets()
    masters = {m.relative_to(REPO).as_posix() for pattern in MASTERS for m in REPO.glob(pattern)}
    assert set(secrets.values()) == masters, "a master has no secret line: is the derivation broken?"


def test_no_secret_file_or_folder(edition_lines):
    forbidden = [p for p in edition_lines if p.startswith(("solutions/", "build/", "tests/fixtures/", "tests/harness/"))
                 or p.endswith(("variants.yml", ".db", ".sqlite", "gradebook.db"))]
    assert not forbidden, f"the student edition ships instructor files: {forbidden}"


def test_no_solution_or_hidden_test_marker(edition_lines):
    leaks = sorted({(p, ln) for p, lines in edition_lines.items() for ln in lines if ln.startswith(MARKERS)})
    assert not leaks, f"nbgrader markers in the student edition: {leaks[:10]}"


def test_no_line_of_a_solution_hidden_test_or_rubric(edition_lines):
    secrets = all_secrets()
    leaks = sorted({(path, secrets[ln]) for path, lines in edition_lines.items() for ln in lines if ln in secrets})
    assert not leaks, f"(file, master) pairs where a secret line of the master leaks: {leaks[:20]}"


def test_the_edition_is_a_fresh_git_repository(student_repo):
    log = subprocess.run(["git", "log", "--format=%s"], cwd=student_repo, capture_output=True, text=True)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=student_repo, capture_output=True, text=True)
    assert log.stdout.splitlines() == ["Course repository for students"] and status.stdout == ""


def test_build_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(edition.EditionError, match="not an empty folder"):
        edition.build(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_validate_works_on_a_released_notebook(student_repo):
    notebook = sorted(student_repo.glob("assignments/*/*.ipynb"))[0].relative_to(student_repo)
    done = subprocess.run([sys.executable, "-m", "autograder", "validate", str(notebook)],
                          cwd=student_repo, capture_output=True, text=True, timeout=900)
    assert "error:" not in done.stderr, done.stderr
    assert done.returncode == 1 and "test cells pass their visible tests" in done.stdout, done.stdout


def test_the_editions_light_tests_pass(student_repo):
    """Its hygiene, environment and student-verb tests, but not the notebooks (main's suite runs
    them) nor validate on every release (the test above runs one)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_hygiene.py", "tests/test_environment.py", "tests/test_student.py",
                           "-k", "not validate_reports"],
                          cwd=student_repo, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_the_allow_list_takes_the_packages_and_nothing_else(tmp_path):
    """The notebook CI without the instructors' tools, coursekit; hidden files only when named."""
    names = ["notebooks/01-a.ipynb", "notebooks/coursekit.py", "coursekit/__init__.py",
             "coursebuild/__init__.py", "coursebuild/runner.py", "coursebuild/edition.py",
             "coursebuild/edition_files/Makefile", "coursebuild/demo.py", "coursebuild/build.py",
             "tests/notebook_ci.py", "tests/test_hygiene.py",
             "autograder/cli.py", "autograder/kernel/launcher.py", "autograder/__pycache__/cli.pyc",
             "assignments/hw9/hw9.ipynb", "assignments/hw9/data.csv",
             "assignments/hw9/.autograder/visible_checks.json", "assignments/hw9/.autograder/notes.json",
             "assignments/hw9/.ipynb_checkpoints/hw9-checkpoint.ipynb", "solutions/hw9/hw9.ipynb",
             "solutions/hw9/variants.yml", "build/executed/hw9.ipynb", "tests/fixtures/course/x.ipynb",
             "tests/harness/test_flow.py", "docs/grading.md", "gradebook.db", "CONTRIBUTING.md"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    shipped = {p.as_posix() for p in edition.shipped_files(tmp_path)}
    assert shipped == {"notebooks/01-a.ipynb", "coursekit/__init__.py",
                       "coursebuild/__init__.py", "coursebuild/runner.py",
                       "tests/test_hygiene.py", "autograder/cli.py", "autograder/kernel/launcher.py",
                       "assignments/hw9/hw9.ipynb", "assignments/hw9/data.csv",
                       "assignments/hw9/.autograder/visible_checks.json"}
