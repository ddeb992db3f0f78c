"""Course layout, nbgrader configuration and gradebook access.

A *course* is any directory laid out like this repository: ``solutions/HW/`` (nbgrader source,
master notebooks), ``assignments/HW/`` (nbgrader release, student versions) and optionally an
``nbgrader_config.py``. The grading workspace (submitted, autograded, feedback, results, reports and
the gradebook) lives under ``build/grading/`` unless told otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = Path("build") / "grading"
SOURCE_ONLY = "variants.yml"   # in solutions/HW only (see variants.py)


class UsageError(Exception):
    """Bad input: the CLI prints the message on one line and exits non-zero."""


def fix_path() -> None:
    """nbgrader's Gradebook shells out to ``alembic`` when it creates a database.

    Make the interpreter's own ``bin/`` (where ``alembic`` is installed) come first on PATH, so the
    harness never depends on the caller's PATH (e.g. ``.venv/bin/python -m autograder`` without an
    activated virtualenv).
    """
    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in parts if p and p != bindir])


fix_path()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(root: Path) -> str:
    """Content hash of every regular file below ``root`` (names and bytes)."""
    h = hashlib.sha256()
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.is_symlink():
                h.update(str(p.relative_to(root)).encode() + b"\0")
                h.update(sha256_file(p).encode())
    return h.hexdigest()


def looks_like_course(path: Path) -> bool:
    return (path / "assignments").is_dir() or (path / "solutions").is_dir()


def default_root() -> Path:
    """The current directory when it looks like a course (a student's clone), else this repository."""
    cwd = Path.cwd()
    return cwd if looks_like_course(cwd) else REPO_ROOT


class Course:
    """A course directory. A student's checkout has ``assignments/`` but no ``solutions/``: the
    student verbs work there (``has_solutions`` is False); the instructor verbs need the masters."""

    def __init__(self, root: str | Path | None = None, workspace: str | Path | None = None,
                 db_url: str | None = None):
        self.root = Path(root or default_root()).resolve()
        if not self.root.is_dir():
            raise UsageError(f"course directory not found: {self.root}")
        if not looks_like_course(self.root):
            raise UsageError(f"not a course directory (no solutions/ or assignments/ folder): {self.root}")
        self.solutions = self.root / "solutions"
        self.assignments = self.root / "assignments"
        self.has_solutions = self.solutions.is_dir()
        ws = Path(workspace) if workspace else self.root / WORKSPACE
        self.workspace = ws if ws.is_absolute() else (Path.cwd() / ws)
        self.workspace = self.workspace.resolve()
        self.db_url = db_url or f"sqlite:///{self.workspace / 'gradebook.db'}"
        self.course_id = "default_course"

    # ------------------------------------------------------------------ layout
    def require_solutions(self) -> None:
        if not self.has_solutions:
            raise UsageError(f"not a course directory (no solutions/ folder): {self.root} "
                             "(students: only `validate` and `submit` work in a checkout)")

    @property
    def source(self) -> Path:
        """Where the assignments are listed: the masters, or the releases in a student checkout."""
        return self.solutions if self.has_solutions else self.assignments

    def assignment_ids(self) -> list[str]:
        return sorted(p.name for p in self.source.iterdir()
                      if p.is_dir() and not p.name.startswith((".", "_")))

    def check_assignment(self, hw: str) -> None:
        if not hw or "/" in hw or hw.startswith("."):
            raise UsageError(f"invalid assignment name: {hw!r}")
        if not (self.source / hw).is_dir():
            known = ", ".join(self.assignment_ids()) or "none"
            raise UsageError(f"unknown assignment {hw!r} (known: {known})")
        if not self.notebooks(hw):
            raise UsageError(f"assignment {hw!r} has no notebooks in {self.source / hw}")

    def notebooks(self, hw: str) -> list[str]:
        """Notebook names (without .ipynb) of an assignment, from its master (else release) folder."""
        return sorted(p.stem for p in (self.source / hw).glob("*.ipynb"))

    def release_dir(self, hw: str) -> Path:
        return self.assignments / hw

    def data_files(self, hw: str) -> list[Path]:
        """Files students get besides the notebooks (from the release, else the source)."""
        base = self.release_dir(hw) if self.release_dir(hw).is_dir() else self.solutions / hw
        out = []
        for p in sorted(base.rglob("*")):
            rel = p.relative_to(base)
            if (any(part.startswith(".") for part in rel.parts) or "__pycache__" in rel.parts
                    or rel.name == SOURCE_ONLY):
                continue
            if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb":
                out.append(p)
        return out

    def ws(self, *parts: str) -> Path:
        return self.workspace.joinpath(*parts)

    def submitted(self, hw: str | None = None, student: str | None = None) -> Path:
        return self.ws("submitted", student, hw) if student else self.ws("submitted")

    def autograded(self, hw: str, student: str) -> Path:
        return self.ws("autograded", student, hw)

    def feedback_dir(self, hw: str, student: str) -> Path:
        return self.ws("feedback", student, hw)

    def results_dir(self, hw: str) -> Path:
        return self.ws("results", hw)

    def reports_dir(self, hw: str) -> Path:
        return self.ws("reports", hw)

    def students(self, hw: str) -> list[str]:
        base = self.submitted(hw)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / hw).is_dir())

    def load_result(self, hw: str, student: str) -> dict | None:
        p = self.results_dir(hw) / f"{student}.json"
        if p.is_file():
            try:
                return json.loads(p.read_text())
            except (OSError, ValueError):
                return None
        return None

    # ------------------------------------------------------------------ nbgrader
    def nbgrader_config(self, release_directory: str | Path | None = None):
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        cfg = Config()
        cfg_file = self.root / "nbgrader_config.py"
        if cfg_file.is_file():
            with contextlib.suppress(Exception):
                cfg.merge(PyFileConfigLoader(cfg_file.name, path=str(self.root)).load_config())
        ws_rel = os.path.relpath(self.workspace, self.root)
        cfg.CourseDirectory.root = str(self.root)
        cfg.CourseDirectory.source_directory = "solutions"
        # the variant suite holds correct answers: never part of a release
        cfg.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                                      SOURCE_ONLY]
        cfg.CourseDirectory.release_directory = str(release_directory or "assignments")
        cfg.CourseDirectory.submitted_directory = os.path.join(ws_rel, "submitted")
        cfg.CourseDirectory.autograded_directory = os.path.join(ws_rel, "autograded")
        cfg.CourseDirectory.feedback_directory = os.path.join(ws_rel, "feedback")
        cfg.CourseDirectory.db_url = self.db_url
        cfg.CourseDirectory.course_id = self.course_id
        cfg.Exchange.root = str(self.workspace / "exchange")
        return cfg

    def api(self, release_directory: str | Path | None = None):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        cfg = self.nbgrader_config(release_directory)
        coursedir = CourseDirectory(config=cfg)
        return NbGraderAPI(coursedir=coursedir, config=cfg)

    def gradebook(self):
        from nbgrader.api import Gradebook

        self.workspace.mkdir(parents=True, exist_ok=True)
        return Gradebook(self.db_url, self.course_id)

    def master_hash(self, hw: str) -> str:
        return sha256_tree(self.solutions / hw)
