"""Shared pytest set-up: the --full switch, the notebook repository, and the timings table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coursebuild.catalog import REPO
from coursebuild.timings import timings_table, write_timings

# One thread per process: pytest-xdist runs two workers on two cores.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="execute notebooks in full mode and check the full-mode expectations")
    parser.addoption("--notebook-repo", default=str(REPO),
                     help="repository whose notebooks and tests/notebook_expectations.yml to use")


@pytest.fixture(scope="session")
def mode(request) -> str:
    return "full" if request.config.getoption("--full") else "smoke"


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def _build_dir(config) -> Path:
    """build/ of the repository under test (a nested run on a fixture repo keeps its own)."""
    return Path(config.getoption("--notebook-repo")).resolve() / "build"


def pytest_sessionstart(session):
    if _is_controller(session.config):
        for stale in (_build_dir(session.config) / "timings").glob("*.json"):
            stale.unlink()


@pytest.fixture
def record_timing(request):
    """Each notebook test leaves one JSON record; the controller merges them at the end."""
    folder = _build_dir(request.config) / "timings"

    def record(entry: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = entry["notebook"].replace("/", "__") + f".{entry['mode']}.json"
        (folder / name).write_text(json.dumps(entry))
    return record


def pytest_terminal_summary(terminalreporter, config):
    if not _is_controller(config):
        return
    records = [json.loads(p.read_text()) for p in sorted((_build_dir(config) / "timings").glob("*.json"))]
    if not records:
        return
    write_timings(records, _build_dir(config) / "timings.json")
    terminalreporter.section("notebook timings (also in build/timings.json)")
    terminalreporter.write_line(timings_table(records))
