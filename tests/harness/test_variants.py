"""Strict validation of variants.yml (autograder/variants.py): no kernel."""

from __future__ import annotations

import nbformat
import pytest

from autograder import variants
from autograder.course import UsageError


def cells():
    def cell(gid, **md):
        c = nbformat.v4.new_code_cell("pass")
        c.metadata["nbgrader"] = {"grade_id": gid, **md}
        return c
    return [cell("q1_answer", solution=True), cell("q1_test", grade=True, points=2),
            cell("q2_test", grade=True, points=1), cell("setup", locked=True)]


GOOD = """
variants:
  - name: ok
    kind: correct
    patches: {q1_answer: "x = 1"}
    expect: {q1_test: 2, q2_test: 1}
"""


def load(tmp_path, text):
    p = tmp_path / "variants.yml"
    p.write_text(text)
    return variants.load(p, ["hw"], {"hw": cells()})


def test_a_good_suite_loads(tmp_path):
    name, suite = load(tmp_path, GOOD)
    assert name == "hw" and suite[0].expect == {"q1_test": 2.0, "q2_test": 1.0}


@pytest.mark.parametrize("edit, words", [
    (("variants:", "colour: red\nvariants:"), "unknown key.*colour"),
    (("kind: correct", "kind: correct\n    colour: red"), "unknown key.*colour"),
    (("q1_answer:", "q9_answer:"), "not an answer cell.*q9_answer"),
    (("q1_answer:", "setup:"), "not an answer cell.*setup"),
    ((", q2_test: 1", ""), "missing test.*q2_test"),
    (("q2_test: 1}", "q2_test: 1, q3_test: 0}"), "unknown test.*q3_test"),
    (("q1_test: 2", "q1_test: 1"), "correct variant must expect full marks"),
    (("q1_test: 2", "q1_test: 5"), r"not a number in \[0, 2\]"),
    (("kind: correct", "kind: great"), "kind must be one of"),
    (("variants:", "notebook: other\nvariants:"), "notebook 'other'"),
    (("    kind: correct\n", ""), "missing key.*kind"),
])
def test_bad_suites_are_refused_with_the_reason(tmp_path, edit, words):
    with pytest.raises(UsageError, match=words):
        load(tmp_path, GOOD.replace(*edit))


def test_duplicate_names_and_bad_yaml(tmp_path):
    with pytest.raises(UsageError, match="used twice"):
        load(tmp_path, GOOD + GOOD.split("variants:\n")[1])
    with pytest.raises(UsageError, match="not valid YAML"):
        load(tmp_path, "variants: [")
