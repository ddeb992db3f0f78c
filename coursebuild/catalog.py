"""Which notebooks the course has: the one answer every tool asks (notebook CI, site, edition)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def discover(repo: Path = REPO) -> list[str]:
    """Every lecture notebook and every assignment master, as repo-relative POSIX paths."""
    return lectures(repo) + masters(repo)


def lectures(repo: Path = REPO) -> list[str]:
    """The lecture notebooks under notebooks/, in syllabus order (their names sort that way)."""
    return _relative(repo, sorted(repo.glob("notebooks/*.ipynb")))


def masters(repo: Path = REPO) -> list[str]:
    """The assignment masters (with solutions and hidden tests), solutions/HW/*.ipynb."""
    return _relative(repo, sorted(repo.glob("solutions/*/*.ipynb")))


def _relative(repo: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(repo).as_posix() for p in paths if ".ipynb_checkpoints" not in p.parts]
