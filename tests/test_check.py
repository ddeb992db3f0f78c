"""The one run-and-check path of `make test`, `make test-full` and `make run` (coursebuild.check)."""

from __future__ import annotations

from pathlib import Path

from coursebuild import catalog, check
from coursebuild.expectations import load_expectations

FIXTURE_REPO = Path(__file__).parent / "fixtures" / "notebook_ci"
EXPECTED = load_expectations(FIXTURE_REPO / "tests" / "notebook_expectations.yml")


def test_catalog_lists_lectures_then_masters_and_skips_checkpoints(tmp_path):
    for name in ("notebooks/02-b.ipynb", "notebooks/01-a.ipynb", "solutions/hw1/hw1.ipynb",
                 "notebooks/.ipynb_checkpoints/01-a-checkpoint.ipynb", "assignments/hw1/hw1.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert catalog.discover(tmp_path) == ["notebooks/01-a.ipynb", "notebooks/02-b.ipynb",
                                          "solutions/hw1/hw1.ipynb"]


def test_a_wrong_glued_value_fails_the_run(tmp_path):
    checked = check.run_and_check("notebooks/wrong_value.ipynb", "smoke", EXPECTED, repo=FIXTURE_REPO,
                                  out_dir=tmp_path)
    assert not checked.passed and checked.result.error is None
    assert len(checked.problems) == 1 and "expected 0.5" in checked.problems[0]


def test_an_unlisted_notebook_runs_but_fails(tmp_path):
    checked = check.run_and_check("notebooks/unlisted.ipynb", "smoke", EXPECTED, repo=FIXTURE_REPO,
                                  out_dir=tmp_path)
    assert checked.result.output.is_file(), "the page of an unlisted notebook is still built"
    assert checked.problems == [check.unlisted("notebooks/unlisted.ipynb")]


def test_a_good_notebook_passes(tmp_path):
    checked = check.run_and_check("notebooks/good.ipynb", "smoke", EXPECTED, repo=FIXTURE_REPO,
                                  out_dir=tmp_path)
    assert checked.passed, checked.problems
