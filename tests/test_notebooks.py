"""Execute every lecture notebook and assignment master with papermill; check what it glues.

Smoke mode runs on every change (`make test`); `--full` (`make test-full`) runs the real sizes.
A notebook without an entry in tests/notebook_expectations.yml fails: nothing is skipped silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coursebuild import catalog, check
from coursebuild.expectations import MODES, load_expectations


def pytest_generate_tests(metafunc):
    if "notebook" in metafunc.fixturenames:
        repo = Path(metafunc.config.getoption("--notebook-repo")).resolve()
        metafunc.parametrize("notebook", catalog.discover(repo))


@pytest.fixture(scope="module")
def repo(request) -> Path:
    return Path(request.config.getoption("--notebook-repo")).resolve()


@pytest.fixture(scope="module")
def expectations(repo) -> dict:
    return load_expectations(repo / "tests" / "notebook_expectations.yml")


@pytest.mark.notebook
def test_notebook(notebook, mode, repo, expectations, record_timing):
    if notebook not in expectations:   # fail before spending minutes on a run that cannot pass
        pytest.fail(check.unlisted(notebook), pytrace=False)
    checked = check.run_and_check(notebook, mode, expectations, repo=repo)
    record_timing(checked.result.timing_record())
    if checked.problems:
        pytest.fail("\n".join(checked.problems), pytrace=False)


def test_every_expectation_names_an_existing_notebook(repo, expectations):
    stale = sorted(set(expectations) - set(catalog.discover(repo)))
    assert not stale, f"tests/notebook_expectations.yml lists notebooks that do not exist: {stale}"


def test_every_notebook_declares_checks_for_both_modes(repo, expectations):
    incomplete = [nb for nb in catalog.discover(repo) if nb in expectations
                  and not all(expectations[nb].get(m) for m in MODES)]
    assert not incomplete, f"these notebooks declare no checks for smoke or full mode: {incomplete}"
