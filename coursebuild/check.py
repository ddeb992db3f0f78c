"""Run a notebook and check what it glued: the one path shared by `make test`, `make test-full`
and `make run`, so that the site and the tests can never disagree about what passed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .catalog import REPO
from .expectations import check_scraps, timeout_for
from .runner import RunResult, execute


@dataclass
class CheckedRun:
    """One executed notebook and every way it fell short of its expectations (empty: passed)."""

    result: RunResult
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def unlisted(notebook: str) -> str:
    return (f"{notebook} has no entry in tests/notebook_expectations.yml: declare the values it must "
            "glue in smoke and full mode (see CONTRIBUTING.md)")


def run_and_check(notebook: str, mode: str, expectations: dict, *, repo: Path = REPO,
                  out_dir: Path | None = None) -> CheckedRun:
    """Execute ``notebook`` in ``mode`` and compare its glued values with its declared entry.

    A notebook missing from the expectations still runs (its page is still built) but fails.
    """
    entry = expectations.get(notebook)
    result = execute(notebook, mode, repo=repo, out_dir=out_dir, timeout=timeout_for(entry or {}, mode))
    if entry is None:
        return CheckedRun(result, [unlisted(notebook)] + ([result.error] if result.error else []))
    if result.error:
        return CheckedRun(result, [result.error])
    return CheckedRun(result, check_scraps(notebook, mode, result.scraps, entry.get(mode) or {}))
