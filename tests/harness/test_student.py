"""Student verbs (validate, submit) and limits not covered by the batch (wall clock)."""

from __future__ import annotations

import zipfile

import harness_cases as subs
import pytest
from harness_helpers import fresh_course, run_cli


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fresh_course(tmp_path_factory.mktemp("student") / "c")


def test_validate_pass_and_fail(course, tmp_path):
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    good = tmp_path / "hw1" / "hw1.ipynb"
    good.parent.mkdir()
    good.write_bytes(subs.build(release))
    proc = run_cli("--course", course, "validate", good)
    assert "3/3 test cells pass" in proc.stdout
    bad = tmp_path / "hw1" / "hw1_bad.ipynb"
    bad.write_bytes(subs.build(release, subs.Q1_OK, subs.Q2_WRONG))
    proc = run_cli("--course", course, "validate", bad, check=False)
    assert proc.returncode == 1
    assert "[FAIL] q2_test" in proc.stdout and "check which group" in proc.stdout
    assert "HIDDEN_Q2_SECRET" not in proc.stdout


def test_validate_reports_edited_test_cells(course, tmp_path):
    release = course / "assignments" / "hw1" / "hw1.ipynb"

    def edit(nb):
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_test":
                c.source = "pass"

    nb = tmp_path / "hw1" / "hw1.ipynb"
    nb.parent.mkdir()
    nb.write_bytes(subs.build(release, subs.Q1_WRONG, subs.Q2_OK, edit))
    proc = run_cli("--course", course, "validate", nb, check=False)
    assert proc.returncode == 1
    assert "[FAIL] q1_test" in proc.stdout and "edited_locked_cell:q1_test" in proc.stdout


def test_submit_packages_notebooks(course, tmp_path):
    out = tmp_path / "up.zip"
    run_cli("--course", course, "submit", "hw1", "--output", out)
    assert zipfile.ZipFile(out).namelist() == ["hw1.ipynb"]
    proc = run_cli("--course", course, "submit", "hw1", "--student", "s123", cwd=tmp_path)
    assert (tmp_path / "hw1_s123.zip").is_file(), proc.stdout


def test_wall_clock_limit(course):
    from autograder.course import Course
    from autograder.grade import grade_notebook_once, references
    from autograder.sandbox import Limits

    c = Course(course)
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    src = course / "slow.ipynb"
    src.write_bytes(subs.build(release, subs.Q1_OK, subs.Q2_OK + "\nimport time\ntime.sleep(60)"))
    res = grade_notebook_once(c, "hw1", references(c, "hw1"), {"hw1": src},
                              Limits(cell_timeout=100, wall=8))
    assert res["status"] == "timeout" and "wall_timeout" in res["flags"]
    # q1's visible test ran before the limit, its hidden tests (run after the notebook) did not:
    # a test cell counts only when both parts ran
    assert res["score"] == 0
    assert "not run" in res["notebooks"]["hw1"]["tests"]["q1_test"]["message"]
    assert res["duration"] < 30


def test_no_sandbox_fallback_warns_and_keeps_scores(tmp_path):
    course = fresh_course(tmp_path / "c")
    release = course / "assignments" / "hw1" / "hw1.ipynb"
    for sid, data in (("a", subs.build(release)), ("b", subs.build(release, subs.Q1_OK, subs.Q2_WRONG))):
        (tmp_path / "in" / sid).mkdir(parents=True)
        (tmp_path / "in" / sid / "hw1.ipynb").write_bytes(data)
    run_cli("--course", course, "collect", "hw1", tmp_path / "in")
    proc = run_cli("--course", course, "grade", "hw1", "--no-sandbox", "--timeout", "20",
                   "--memory", "1024")
    assert "NO SANDBOX" in proc.stderr
    import json

    scores = {sid: json.loads((course / "build/grading/results/hw1" / f"{sid}.json").read_text())
              for sid in "ab"}
    assert (scores["a"]["score"], scores["b"]["score"]) == (6, 2)
    assert scores["a"]["sandbox"] is False


HW2_OK = {
    "q1_answer": "def weighted_mean(x, w):\n    return float(np.average(x, weights=w))",
    "q2_answer": "def standardize(x):\n    x = np.asarray(x, float)\n    return (x - x.mean()) / x.std()",
    "q3_answer": "def ate_ipw(y, t, e):\n    y, t, e = (np.asarray(a, float) for a in (y, t, e))\n"
                 "    return float(np.mean(t * y / e) - np.mean((1 - t) * y / (1 - e)))",
    "q4_answer": "def treated_ids(t):\n    return [i for i, v in enumerate(t) if v == 1]",
}
NAIVE_Q3 = ("def ate_ipw(y, t, e):\n    y, t = np.asarray(y, float), np.asarray(t)\n"
            "    return float(y[t == 1].mean() - y[t == 0].mean())")


def _hw2(release, answers):
    import nbformat

    nb = nbformat.read(str(release), as_version=4)
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            c.source = answers[gid]
    return nbformat.writes(nb).encode()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A student's clone: released hw1 and hw2, no solutions/."""
    import shutil

    root = fresh_course(tmp_path_factory.mktemp("checkout") / "c", assignments=("hw1", "hw2"))
    shutil.rmtree(root / "solutions")
    return root


def test_validate_in_a_checkout_without_solutions(checkout):
    release = checkout / "assignments" / "hw2" / "hw2.ipynb"
    assert (checkout / "assignments" / "hw2" / ".autograder" / "visible_checks.json").is_file()
    release.write_bytes(_hw2(release, {**HW2_OK, "q3_answer": NAIVE_Q3}))
    proc = run_cli("validate", "assignments/hw2/hw2.ipynb", cwd=checkout)   # no --course
    assert "4/4 test cells pass" in proc.stdout, proc.stdout   # the naive answer fails only hidden checks
    release.write_bytes(_hw2(release, {**HW2_OK, "q4_answer": "def treated_ids(t):\n    return [0]"}))
    proc = run_cli("validate", "assignments/hw2/hw2.ipynb", cwd=checkout, check=False)
    assert proc.returncode == 1 and "[FAIL] q4_test" in proc.stdout
    assert "Positions start at 0" in proc.stdout            # the visible check's hint
    assert "q4_study" not in proc.stdout and "in_kernel_verdict" not in proc.stdout
    proc = run_cli("validate", "assignments/hw1/hw1.ipynb", cwd=checkout, check=False)
    assert proc.returncode == 1 and "[FAIL] q1_test" in proc.stdout   # legacy asserts still work


def test_validate_with_solutions_uses_the_master_visible_checks_only(tmp_path):
    course = fresh_course(tmp_path / "c", assignments=("hw2",))
    nb = tmp_path / "hw2" / "hw2.ipynb"
    nb.parent.mkdir()
    nb.write_bytes(_hw2(course / "assignments" / "hw2" / "hw2.ipynb", {**HW2_OK, "q3_answer": NAIVE_Q3}))
    proc = run_cli("--course", course, "validate", nb)
    assert "4/4 test cells pass" in proc.stdout


def test_submit_in_a_checkout_and_instructor_verbs_refuse(checkout, tmp_path):
    run_cli("submit", "hw2", "--output", tmp_path / "up.zip", cwd=checkout)
    assert zipfile.ZipFile(tmp_path / "up.zip").namelist() == ["hw2.ipynb"]
    proc = run_cli("grade", "hw2", cwd=checkout, check=False)
    assert proc.returncode == 2 and "no solutions/ folder" in proc.stderr
