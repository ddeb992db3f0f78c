"""The notebook CI must be able to fail: tiny fixture notebooks that raise, glue a wrong value,
run too long, or are missing from the expectations, each with a message that says what broke."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from coursebuild import expectations as notebook_expectations
from coursebuild import runner, timings

FIXTURE_REPO = Path(__file__).parent / "fixtures" / "notebook_ci"


@pytest.fixture(scope="module")
def expectations() -> dict:
    return notebook_expectations.load_expectations(FIXTURE_REPO / "tests" / "notebook_expectations.yml")


def run(notebook: str, expectations: dict, tmp_path: Path, mode: str = "smoke"):
    entry = expectations[notebook]
    return runner.execute(notebook, mode, repo=FIXTURE_REPO, out_dir=tmp_path,
                               timeout=notebook_expectations.timeout_for(entry, mode))


@pytest.mark.parametrize("mode", ["smoke", "full"])
def test_good_notebook_passes_in_both_modes(expectations, tmp_path, mode):
    result = run("notebooks/good.ipynb", expectations, tmp_path, mode)
    assert result.error is None
    assert result.scraps["answer"] == (0.5 if mode == "smoke" else 0.25), "SMOKE was not injected"
    assert notebook_expectations.check_scraps("notebooks/good.ipynb", mode, result.scraps,
                                    expectations["notebooks/good.ipynb"][mode]) == []
    assert result.slowest_cell is not None and result.seconds > 0
    executed = nbformat.read(result.output, as_version=4)
    images = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "plt.show() drew nothing: the kernel must use the inline backend, not Agg"


def test_exception_names_notebook_cell_and_error(expectations, tmp_path):
    result = run("notebooks/raises.ipynb", expectations, tmp_path)
    assert result.error is not None
    for fragment in ("notebooks/raises.ipynb", "[smoke]", "cell 4", "values[10]", "IndexError",
                     "list index out of range"):
        assert fragment in result.error, f"{fragment!r} missing from: {result.error}"


def test_wrong_value_names_value_expected_and_tolerance(expectations, tmp_path):
    result = run("notebooks/wrong_value.ipynb", expectations, tmp_path)
    assert result.error is None
    problems = notebook_expectations.check_scraps("notebooks/wrong_value.ipynb", "smoke", result.scraps,
                                        expectations["notebooks/wrong_value.ipynb"]["smoke"])
    assert len(problems) == 1
    for fragment in ("notebooks/wrong_value.ipynb", "'answer'", "0.7", "expected 0.5", "abs 0.01"):
        assert fragment in problems[0], f"{fragment!r} missing from: {problems[0]}"


def test_runaway_notebook_is_stopped_at_its_limit(expectations, tmp_path):
    started = time.perf_counter()
    result = run("notebooks/slow.ipynb", expectations, tmp_path)
    assert time.perf_counter() - started < 150, "the whole-notebook limit was not enforced"
    assert "exceeded the whole-notebook limit of 60 s" in result.error
    assert "time.sleep(600)" in result.error, "the message should name the running cell"


def test_notebook_missing_from_expectations_fails_the_suite():
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(__file__).parent / "test_notebooks.py"), "-p", "no:cacheprovider",
         "-p", "no:xdist", "--notebook-repo", str(FIXTURE_REPO), "-k", "unlisted", "-q"],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "notebooks/unlisted.ipynb has no entry in tests/notebook_expectations.yml" in completed.stdout


@pytest.mark.parametrize(("value", "spec", "problem"), [
    (3, {"equals": 3}, None),
    ("x", {"equals": "y"}, "expected exactly 'y'"),
    (["Z"], {"equals": ["Z"]}, None),
    (1.05, {"approx": 1.0, "abs": 0.1}, None),
    (1.2, {"approx": 1.0, "abs": 0.1}, "expected 1.0 ± 0.1"),
    (104, {"approx": 100, "rel": 0.05}, None),
    (106, {"approx": 100, "rel": 0.05}, "± 5"),
    (0.3, {"approx": 0.3}, None),
    (0.3001, {"approx": 0.3}, "expected 0.3"),
    (5, {"between": [0, 5]}, None),
    (6, {"between": [0, 5]}, "expected between 0 and 5"),
    (0.5, {"gt": 0, "lt": 1}, None),
    (1, {"gt": 0, "lt": 1}, "expected < 1"),
    (0, {"gt": 0}, "expected > 0"),
    (float("nan"), {"lt": 1}, "expected a number"),
    (True, {"approx": 1.0, "abs": 0.1}, "expected a number"),
    ("0.5", {"between": [0, 1]}, "expected a number"),
])
def test_checks(value, spec, problem):
    found = notebook_expectations.violation(value, spec)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_missing_glued_name_is_reported():
    problems = notebook_expectations.check_scraps("nb.ipynb", "smoke", {"a": 1}, {"b": {"equals": 2}})
    assert problems == ["nb.ipynb [smoke] glued 'b': not glued (expected equals 2); glued names are ['a']"]


@pytest.mark.parametrize("bad", [
    "nb.ipynb:\n  smoke:\n    x: {aprox: 1}\n",
    "nb.ipynb:\n  smok:\n    x: {approx: 1}\n",
    "nb.ipynb:\n  timeout: 30\n",
    "nb.ipynb:\n  smoke:\n    x: 1\n",
])
def test_malformed_expectations_are_rejected(tmp_path, bad):
    path = tmp_path / "e.yml"
    path.write_text(bad)
    with pytest.raises(ValueError, match="nb.ipynb"):
        notebook_expectations.load_expectations(path)


def test_timings_table_lists_each_run():
    table = timings.timings_table([
        {"notebook": "notebooks/a.ipynb", "mode": "smoke", "seconds": 12.3, "slowest_cell": 4,
         "slowest_cell_seconds": 8.0, "slowest_cell_source": "svi.step()", "ok": True},
        {"notebook": "notebooks/b.ipynb", "mode": "smoke", "seconds": 3.0, "slowest_cell": None,
         "slowest_cell_seconds": None, "slowest_cell_source": "", "ok": False}])
    lines = table.splitlines()
    assert lines[0].split() == ["notebook", "mode", "seconds", "slowest", "cell"]
    assert "12.3" in lines[1] and "#4 8.0s svi.step()" in lines[1]
    assert "notebooks/b.ipynb (FAILED)" in lines[2]
