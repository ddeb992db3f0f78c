"""Execute every lecture notebook and assignment master with papermill; check what it glues.

Smoke mode runs on every change (`make test`); `--full` (`make test-full`) runs the real sizes.
A notebook without an entry in tests/notebook_expectations.yml fails: nothing is skipped silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import notebook_ci


def pytest_generate_tests(metafunc):
    if "notebook" in metafunc.fixturenames:
        repo = Path(metafunc.config.getoption("--notebook-repo")).resolve()
        metafunc.parametrize("notebook", notebook_ci.discover(repo))


@pytest.fixture(scope="module")
def repo(request) -> Path:
    return Path(request.config.getoption("--notebook-repo")).resolve()


@pytest.fixture(scope="module")
def expectations(repo) -> dict:
    return notebook_ci.load_expectations(repo / "tests" / "notebook_expectations.yml")


@pytest.mark.notebook
def test_notebook(notebook, mode, repo, expectations, record_timing):
    entry = expectations.get(notebook)
    if entry is None:
        pytest.fail(f"{notebook} has no entry in tests/notebook_expectations.yml: declare the values "
                    "it must glue in smoke and full mode (see CONTRIBUTING.md)", pytrace=False)
    result = notebook_ci.execute(notebook, mode, repo=repo, timeout=notebook_ci.timeout_for(entry, mode))
    record_timing(result.timing_record())
    if result.error:
        pytest.fail(result.error, pytrace=False)
    problems = notebook_ci.check_scraps(notebook, mode, result.scraps, entry.get(mode) or {})
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_every_expectation_names_an_existing_notebook(repo, expectations):
    stale = sorted(set(expectations) - set(notebook_ci.discover(repo)))
    assert not stale, f"tests/notebook_expectations.yml lists notebooks that do not exist: {stale}"


def test_every_notebook_declares_checks_for_both_modes(repo, expectations):
    incomplete = [nb for nb in notebook_ci.discover(repo) if nb in expectations
                  and not all(expectations[nb].get(m) for m in notebook_ci.MODES)]
    assert not incomplete, f"these notebooks declare no checks for smoke or full mode: {incomplete}"
