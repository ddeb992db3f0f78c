"""Shared pytest set-up: the --full switch, the notebook repository, and the timings table."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import notebook_ci  # noqa: E402

# One thread per process: pytest-xdist runs two workers on two cores.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

TIMINGS_DIR = notebook_ci.REPO / "build" / "timings"


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="execute notebooks in full mode and check the full-mode expectations")
    parser.addoption("--notebook-repo", default=str(notebook_ci.REPO),
                     help="repository whose notebooks and tests/notebook_expectations.yml to use")


@pytest.fixture(scope="session")
def mode(request) -> str:
    return "full" if request.config.getoption("--full") else "smoke"


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionstart(session):
    if _is_controller(session.config):
        for stale in TIMINGS_DIR.glob("*.json"):
            stale.unlink()


@pytest.fixture
def record_timing():
    """Each notebook test leaves one JSON record; the controller merges them at the end."""
    def record(entry: dict) -> None:
        TIMINGS_DIR.mkdir(parents=True, exist_ok=True)
        name = entry["notebook"].replace("/", "__") + f".{entry['mode']}.json"
        (TIMINGS_DIR / name).write_text(json.dumps(entry))
    return record


def pytest_terminal_summary(terminalreporter, config):
    if not _is_controller(config):
        return
    records = [json.loads(p.read_text()) for p in sorted(TIMINGS_DIR.glob("*.json"))]
    if not records:
        return
    notebook_ci.write_timings(records, notebook_ci.REPO / "build" / "timings.json")
    terminalreporter.section("notebook timings (also in build/timings.json)")
    terminalreporter.write_line(notebook_ci.timings_table(records))
