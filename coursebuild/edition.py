"""The student edition: the repository students clone, built by ``make student-edition DEST=path``.

The edition is chosen by an explicit **allow-list** (``ALLOWED``), not by deleting the secret parts
from a copy: a file that nobody thought about (a new master, a variant suite, a fixture with
solutions, a gradebook, a cache under build/) stays out by default, and leaking needs someone to
name it here; and only files git tracks are shipped. ``tests/test_edition.py`` checks that nothing of ``solutions/`` reaches the edition.

What students get: the lectures (outputs stripped), the released assignments with exactly the file
``validate`` reads at run time (``assignments/HW/.autograder/visible_checks.json``; the expected
values of the visible checks), the data, the harness (``validate`` and ``submit`` grade through the
same sandbox as ``grade``), the course helpers, the notebook CI, the tests that make sense without
solutions (lectures in smoke mode, hygiene, environment, lint, the student verbs), and a README and
Makefile written for students (``coursebuild/edition_files/``). The notebook expectations keep only
the entries of notebooks the edition ships. The result is a fresh git repository with one commit.

The notebook CI ships as the ``coursebuild`` package without the instructors' tools (the full-mode
site build, the grading demo and this module), and the course helpers as the ``coursekit`` package.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
FILES = Path(__file__).resolve().parent / "edition_files"

# Glob patterns relative to the repository root. A path with a hidden part (".git", ".autograder",
# ".ipynb_checkpoints") or a __pycache__ matches only a pattern that names that part itself.
ALLOWED = (
    "syllabus.md", "LICENSE*", ".gitignore",
    "pyproject.toml", "requirements.lock", "environment.yml",
    "notebooks/*.ipynb",                               # the lectures
    "coursekit/**/*.py",                               # the course helpers as a package
    "data/**/*",
    "assignments/*/*",                                 # the released notebooks and their data files
    "assignments/*/.autograder/visible_checks.json",   # what `validate` reads in a student's clone
    "autograder/**/*",                                 # the harness: validate, submit, the sandbox
    "coursebuild/**/*.py",                             # the notebook CI
    "tests/conftest.py", "tests/notebook_expectations.yml",
    "tests/test_notebooks.py", "tests/test_hygiene.py", "tests/test_environment.py",
    "tests/test_lint.py", "tests/test_coursekit.py",
)
# Allowed by a pattern above but of no use to students (the edition's own builder).
NOT_SHIPPED = ("coursebuild/edition.py", "coursebuild/edition_files/**/*", "coursebuild/build.py",
               "coursebuild/demo.py", "coursebuild/demo_batch.py", "coursebuild/site.py")
# Written for students: edition_files/NAME becomes NAME in the edition, replacing the repo's.
REPLACED = ("README.md", "Makefile", "tests/test_student.py")
EXPECTATIONS = "tests/notebook_expectations.yml"
NEVER = ("__pycache__", ".ipynb_checkpoints")


class EditionError(Exception):
    """A student edition cannot be written (destination in use, git missing)."""


def _hidden(pattern: str, rel: Path) -> bool:
    """True when ``rel`` has a hidden or cache part that ``pattern`` does not name."""
    named = set(Path(pattern).parts)
    return any((p.startswith(".") or p in NEVER) and p not in named for p in rel.parts)


def committed_files(repo: Path) -> set[Path] | None:
    """Files git tracks in ``repo`` (None when it is no git checkout): a gradebook, an executed
    notebook or a scratch file lying in the working tree never reaches students."""
    try:
        done = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return {Path(name) for name in done.stdout.split("\0") if name}


def shipped_files(repo: Path = REPO) -> list[Path]:
    """Repository-relative paths of the files the edition copies from ``repo``, sorted."""
    skipped = {p.relative_to(repo) for pat in NOT_SHIPPED for p in repo.glob(pat)}
    tracked = committed_files(repo)
    found = set()
    for pattern in ALLOWED:
        for path in repo.glob(pattern):
            rel = path.relative_to(repo)
            if path.is_file() and rel not in skipped and not _hidden(pattern, rel):
                found.add(rel)
    if tracked is not None:
        found &= tracked
    return sorted(found - {Path(name) for name in REPLACED})


def stripped_notebook(path: Path) -> str:
    """The notebook without outputs or execution counts (lectures are committed so; made sure)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb) + "\n"


def student_expectations(path: Path, shipped: set[str]) -> str:
    """The expectations file reduced to the notebooks the edition ships (no masters' values)."""
    data = yaml.safe_load(path.read_text()) or {}
    kept = {name: entry for name, entry in data.items() if name in shipped}
    header = "# Values the lecture notebooks must glue, in smoke and full mode (see tests/test_notebooks.py).\n"
    return header + yaml.safe_dump(kept, sort_keys=False, width=100)


def _write(dest: Path, rel: Path, repo: Path, shipped: set[str]) -> None:
    source, target = repo / rel, dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if rel.suffix == ".ipynb":
        target.write_text(stripped_notebook(source))
    elif rel.as_posix() == EXPECTATIONS:
        target.write_text(student_expectations(source, shipped))
    else:
        shutil.copy2(source, target)


def _git(dest: Path, *args: str) -> None:
    identity = ("-c", "user.name=Course staff", "-c", "user.email=course@example.invalid")
    try:
        subprocess.run(["git", *identity, *args], cwd=dest, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise EditionError("git is not installed: the edition is a git repository") from None
    except subprocess.CalledProcessError as e:
        raise EditionError(f"git {args[0]} failed: {e.stderr.strip()}") from None


def build(dest: Path, repo: Path = REPO) -> list[Path]:
    """Write the student edition of ``repo`` into ``dest`` (absent or empty) as a fresh git
    repository with one commit; return the repository-relative paths written."""
    dest = Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise EditionError(f"{dest} exists and is not an empty folder: choose a new destination")
    if dest == repo.resolve() or repo.resolve() in dest.parents:
        raise EditionError(f"{dest} is inside the course repository: choose a folder outside it")
    files = shipped_files(repo)
    shipped = {p.as_posix() for p in files}
    dest.mkdir(parents=True, exist_ok=True)
    for rel in files:
        _write(dest, rel, repo, shipped)
    for name in REPLACED:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FILES / name, dest / name)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "Course repository for students")
    return files + [Path(name) for name in REPLACED]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursebuild.edition", description=__doc__.split("\n")[0])
    parser.add_argument("dest", type=Path, help="new folder for the student repository")
    args = parser.parse_args(argv)
    try:
        written = build(args.dest)
    except EditionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote the student edition ({len(written)} files) to {args.dest.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
