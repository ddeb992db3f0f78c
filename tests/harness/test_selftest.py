"""selftest: the fixture assignment passes; a broken one fails with a clear table."""

from __future__ import annotations

import json

import nbformat
from harness_helpers import FIXTURE_COURSE, run_cli


def test_selftest_fixture_passes(tmp_path):
    import shutil

    shutil.copytree(FIXTURE_COURSE, tmp_path / "c")
    proc = run_cli("--course", tmp_path / "c", "selftest", "hw1", "--timeout", "20")
    assert "selftest hw1: OK" in proc.stdout
    assert "stub fails hw1:q1_test" in proc.stdout
    assert not (tmp_path / "c" / "build" / "grading" / "gradebook.db").exists()


def test_selftest_broken_assignment_fails(tmp_path):
    import shutil

    course = tmp_path / "c"
    shutil.copytree(FIXTURE_COURSE, course)
    path = course / "solutions" / "hw1" / "hw1.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "q3_test":
            c.source = "assert True  # passes on the stub: a useless test"
        if gid == "q1_answer":
            c.source = c.source.replace("/ len(x)", "/ (len(x) + 1)")   # master now wrong
    nbformat.write(nb, str(path))
    proc = run_cli("--course", course, "selftest", "hw1", "--timeout", "20", check=False)
    assert proc.returncode == 1
    assert "selftest hw1: FAILED" in proc.stdout
    assert "stub fails hw1:q3_test" in proc.stdout and "PASSES" in proc.stdout
    assert "master passes hw1:q1_test" in proc.stdout
    json.dumps(proc.stdout)


def test_selftest_grades_the_variant_suite(tmp_path):
    import shutil

    course = tmp_path / "c"
    shutil.copytree(FIXTURE_COURSE, course)
    run_cli("--course", course, "release", "hw2")
    proc = run_cli("--course", course, "selftest", "hw2", "--timeout", "20")
    assert "selftest hw2: OK" in proc.stdout
    assert "variant adversarial-always-equal (adversarial): hw2:q1_test" in proc.stdout
    assert "visible_checks.json has no hidden check" in proc.stdout
    suite = course / "solutions" / "hw2" / "variants.yml"
    suite.write_text(suite.read_text().replace(
        "expect: {q1_test: 2, q2_test: 2, q3_test: 0, q4_test: 1}",
        "expect: {q1_test: 2, q2_test: 2, q3_test: 3, q4_test: 1}"))   # claims the mistake passes
    shipped = course / "assignments" / "hw2" / ".autograder" / "visible_checks.json"
    shipped.write_text(shipped.read_text().replace('"q1_weighted"', '"q1_study"', 1))
    proc = run_cli("--course", course, "selftest", "hw2", "--timeout", "20", check=False)
    assert proc.returncode == 1 and "selftest hw2: FAILED" in proc.stdout
    bad = [ln for ln in proc.stdout.splitlines() if ln.rstrip().endswith("FAIL")]
    assert any("variant mistake-naive-difference (mistake): hw2:q3_test" in ln for ln in bad), bad
    assert any("visible_checks.json up to date" in ln for ln in bad), bad
    assert any("has no hidden check" in ln and "q1_study" in ln for ln in bad), bad
    assert len(bad) == 3, bad
