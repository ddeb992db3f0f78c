"""The kernel's half of a check: values become plain records (graded) or local verdicts (interactive).

Pure and fast: no kernel. Grading mode is tested by patching ``publish_display_data``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from autograder import checks as check
from autograder.verdicts import MIME, decide, decode_observation

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def published(monkeypatch):
    """Grading mode: the records a test cell publishes, in order."""
    records = []

    def publish(data, metadata=None, **kwargs):
        assert list(data) == [MIME], "an observation carries no text/plain (nothing shows)"
        records.append(data[MIME])

    monkeypatch.setenv("COURSE_GRADING", "1")
    monkeypatch.setattr("IPython.display.publish_display_data", publish)
    return records


def observe(published, call, *args, **kwargs) -> dict:
    """Run one checker in grading mode; the record exactly as the grader will decode it."""
    assert call(*args, **kwargs) is None
    return decode_observation(json.dumps(published.pop(), allow_nan=False))


class Forger:
    """The adversarial answer: equal to everything, and no number."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

    def __float__(self):
        raise TypeError("I am not a number")


class FakeTensor:
    """Duck-typed like a torch tensor that requires grad (np.asarray on it would fail)."""

    dtype = "float32"

    def __init__(self, data):
        self.data = data

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return np.asarray(self.data, dtype=np.float32)

    def __array__(self, *args, **kwargs):
        raise RuntimeError("Can't call numpy() on Tensor that requires grad")


# --------------------------------------------------------------------------- grading mode

def test_record_has_name_kind_value_spec_and_the_callers_line(published):
    line = sys._getframe().f_lineno + 1
    check.close("p", 0.25, rtol=1e-6, hint="think")
    assert published == [{"name": "p", "kind": "close", "value": {"shape": [], "data": [0.25]},
                          "spec": {"rtol": 1e-6, "atol": 0.0, "hint": "think"}, "line": line}]


def test_nan_and_inf_are_encoded_as_json(published):
    rec = observe(published, check.close, "p", [np.nan, np.inf, -np.inf, 1.0])
    assert rec["value"]["data"] == [{"$float": "nan"}, {"$float": "inf"}, {"$float": "-inf"}, 1.0]
    assert decide(rec, rec).passed
    rec = observe(published, check.equal, "e", {"x": float("nan")})
    assert rec["value"] == {"data": {"x": {"$float": "nan"}}}


@pytest.mark.parametrize("value, shape", [
    (np.float32(0.5), []),
    (np.arange(6).reshape(2, 3), [2, 3]),
    ([[1, 2], [3, 4]], [2, 2]),
    (pd.Series([1.0, 2.0]), [2]),
    (pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}), [2, 2]),
    (FakeTensor([0.5, 1.5]), [2]),
    (True, []),
])
def test_close_reads_numbers_arrays_and_tensors(published, value, shape):
    rec = observe(published, check.close, "p", value)
    assert rec["value"]["shape"] == shape and all(type(x) is float for x in rec["value"]["data"])


@pytest.mark.parametrize("call, value, error", [
    (check.close, Forger(), "cannot compare a Forger: return a float"),
    (check.close, "0.5", "cannot compare a str"),
    (check.close, None, "cannot compare a NoneType"),
    (check.close, [[1, 2], [3]], "of one shape"),
    (check.close, 1 + 2j, "cannot compare an array of complex128"),
    (check.close, np.zeros(20_001), "too many to compare"),
    (check.equal, Forger(), "cannot compare a Forger: return plain data"),
    (check.equal, [Forger()], "cannot compare a Forger"),
    (check.equal, {1: "a"}, "a dict with int keys: use str keys"),
    (check.equal, 2 ** 5000, "integer this large"),
    (check.same_set, Forger(), "cannot compare a Forger: return a collection"),
    (check.same_set, "AB", "cannot compare a str"),
    (check.same_graph, [("A", "B", "C")], "an edge is a pair (u, v), got 3 items"),
    (check.same_graph, ["AB"], "an edge is a pair"),
    (check.same_graph, [("A", 1.5)], "cannot use a float as a node name"),
    (check.independences, [("A", "B")], "a statement is a triple"),
])
def test_bad_values_become_error_records_and_never_raise(published, call, value, error):
    rec = observe(published, call, "q", value)
    assert error in rec["value"]["error"], rec["value"]
    assert not decide(rec, rec).passed   # even against itself: an error never passes


def test_a_self_containing_list_is_an_error_not_a_crash(published):
    loop = []
    loop.append(loop)
    assert "nested this deeply" in observe(published, check.equal, "q", loop)["value"]["error"]


def test_the_forger_cannot_pass_any_checker(published):
    for call in (check.close, check.equal, check.same_set, check.same_graph,
                 check.markov_equivalent, check.independences):
        assert "error" in observe(published, call, "q", Forger())["value"], call.__name__
    forged = observe(published, check.adjustment_set, "q", Forger(), graph=[("T", "Y")],
                     treatment="T", outcome="Y")
    assert "error" in forged["value"]


def test_equal_canonicalises_and_keeps_bool_apart_from_int(published):
    rec = observe(published, check.equal, "e",
                  {"t": (1, np.int64(2), np.bool_(True)), "$x": {3, 1}, "a": np.array([0.5])})
    assert rec["value"]["data"] == {"t": [1, 2, True], "$$x": {"$set": [1, 3]}, "a": [0.5]}
    one, true = (observe(published, check.equal, "e", v) for v in (1, True))
    assert not decide(one, true).passed and decide(one, one).passed


def test_raises_observes_the_exception_classes(published):
    rec = observe(published, check.raises, "r", int, "x", hint="h")
    assert rec["value"]["raised"][:2] == ["builtins.ValueError", "builtins.Exception"]
    assert rec["spec"] == {"hint": "h"}
    kwargs = observe(published, check.raises, "r", sorted, [3, 1], key=len)   # kwargs reach func
    assert kwargs["value"]["raised"][0] == "builtins.TypeError"
    assert observe(published, check.raises, "r", abs, -1)["value"] == {"raised": None}
    assert "cannot call a NoneType" in observe(published, check.raises, "r", None)["value"]["error"]


def test_graphs_from_edge_lists_networkx_and_pgmpy(published):
    from_list = observe(published, check.same_graph, "g", [("B", "C"), ("A", "B")])
    digraph = observe(published, check.same_graph, "g", nx.DiGraph([("A", "B"), ("B", "C")]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.base import DAG
    pgmpy = observe(published, check.same_graph, "g", DAG([("A", "B"), ("B", "C")]))
    assert from_list["value"] == digraph["value"] == pgmpy["value"] == \
        {"edges": [["A", "B"], ["B", "C"]], "nodes": ["A", "B", "C"]}
    undirected = observe(published, check.same_graph, "g", nx.Graph([("C", "B")]), directed=False)
    assert undirected["spec"] == {"directed": False}


def test_independences_from_triples_and_pgmpy(published):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.independencies import Independencies
    triples = observe(published, check.independences, "i", [("A", "B", ["C", "D"]), ("A", "E", None)])
    pgmpy = observe(published, check.independences, "i",
                    Independencies(["A", "B", ["D", "C"]], ["A", "E", []]))
    assert decide(triples, pgmpy).passed


def test_adjustment_spec_records_the_masters_graph(published):
    rec = observe(published, check.adjustment_set, "z", ("A",), graph=nx.DiGraph([("A", "T")]),
                  treatment="T", outcome="Y", latent="U")
    assert rec["spec"] == {"graph": {"edges": [["A", "T"]], "nodes": ["A", "T"]},
                           "treatment": "T", "outcome": "Y", "latent": ["U"]}
    missing = observe(published, check.separating_set, "s", [], graph=[("X", "Y")])
    assert missing["value"] == {"error": "bad arguments to check.separating_set: "
                                         "ValueError: missing x=, y="}


def test_a_bad_name_is_published_for_the_grader_to_refuse(published):
    check.equal("n" * 300, 1)
    assert len(published.pop()["name"]) == 300


# ------------------------------------------------------------------------------- round trip

GRAPH = [("A", "T"), ("A", "Y"), ("B", "Y"), ("T", "M"), ("M", "Y"), ("T", "C"), ("B", "C")]
CASES = [  # checker, spec, the master's arguments, a passing student's, a failing student's
    (check.close, {}, ([0.1 + 0.2, 1.0],), ([0.3, 1.0],), ([0.3, 1.1],)),
    (check.equal, {}, ((1, "a", None),), ([1, "a", None],), ([1, "a", 0],)),
    (check.same_set, {}, ({("A", "B"), ("C", "D")},), ([("C", "D"), ("A", "B")],),
     ([("A", "B")],)),
    (check.raises, {}, (int, "x"), (float, "x"), (str, "x")),
    (check.same_graph, {}, ([("A", "B"), ("C", "B")],), (nx.DiGraph([("C", "B"), ("A", "B")]),),
     ([("B", "A"), ("C", "B")],)),
    (check.markov_equivalent, {}, ([("A", "B"), ("B", "C")],), ([("C", "B"), ("B", "A")],),
     ([("A", "B"), ("C", "B")],)),
    (check.same_cpdag, {}, ([("A", "C")], [("B", "C")]), ([("A", "C")], [("C", "B")]),
     ([("A", "C"), ("B", "C")], [])),
    (check.independences, {}, ([("A", "B", {"C", "D"})],), ([("B", "A", ["D", "C"])],),
     ([("B", "A", ["D"])],)),
    (check.adjustment_set, {"graph": GRAPH, "treatment": "T", "outcome": "Y"},
     (["A"],), ({"A", "B"},), (["A", "C"],)),
    (check.separating_set, {"graph": GRAPH, "x": "A", "y": "B"}, ([],), ({"T"},), ({"C"},)),
]


@pytest.mark.parametrize("call, spec, master, good, bad", CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_round_trip_record_json_decode_decide(published, call, spec, master, good, bad):
    expected = observe(published, call, "q", *master, **spec)
    assert decide(expected, observe(published, call, "q", *good, **spec)).passed
    verdict = decide(expected, observe(published, call, "q", *bad, **spec))
    assert not verdict.passed and verdict.message.startswith("q: ")


# ---------------------------------------------------------------------------- interactive use

@pytest.fixture
def released(tmp_path, monkeypatch, published):
    """A released assignment folder with visible expectations, as cwd; back to interactive mode."""
    check.close("p", 0.25, rtol=1e-6, hint="think")
    check.adjustment_set("z", ["A"], graph=GRAPH, treatment="T", outcome="Y")
    checks = {r["name"]: {**r, "grade_id": "test_q1"} for r in published}
    doc = {"notebooks": {"hw1": {"checks": checks}, "hw1b": {"checks": {"other": checks["p"]}}}}
    folder = tmp_path / "assignments" / "hw1"
    (folder / ".autograder").mkdir(parents=True)
    (folder / ".autograder" / "visible_checks.json").write_text(json.dumps(doc))
    monkeypatch.chdir(folder)
    monkeypatch.delenv("COURSE_GRADING")
    return folder


def test_interactive_pass_is_silent(released, capsys):
    assert check.close("p", np.float64(0.25)) is None
    # the released spec decides: this call's (wrong) graph is ignored
    assert check.adjustment_set("z", {"A", "B"}, graph=[("B", "T")], treatment="T",
                                outcome="Y") is None
    assert capsys.readouterr() == ("", "")


def test_interactive_failure_raises_the_teaching_message(released):
    with pytest.raises(AssertionError, match=r"^p: expected 0.25 \(rtol 1e-06\), got 0.3 Hint: think$"):
        check.close("p", 0.3)
    with pytest.raises(AssertionError, match="contains a descendant of T: {M}"):
        check.adjustment_set("z", ["A", "M"], graph=GRAPH, treatment="T", outcome="Y")
    with pytest.raises(AssertionError, match="cannot compare a Forger"):
        check.close("p", Forger())


def test_interactive_without_an_expectation_says_how_to_validate(released, monkeypatch, tmp_path):
    with pytest.raises(AssertionError, match="no released expectation.*autograder validate"):
        check.close("hidden_one", 0.25)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match=r"no \.autograder/visible_checks\.json.*validate"):
        check.close("p", 0.25)


def test_interactive_name_in_several_notebooks_uses_the_jupyter_session(released, monkeypatch):
    doc = json.loads((released / ".autograder" / "visible_checks.json").read_text())
    doc["notebooks"]["hw1b"]["checks"]["p"] = {**doc["notebooks"]["hw1"]["checks"]["p"],
                                               "value": {"shape": [], "data": [0.5]}}
    (released / ".autograder" / "visible_checks.json").write_text(json.dumps(doc))
    with pytest.raises(AssertionError, match="several notebooks"):
        check.close("p", 0.25)
    monkeypatch.setenv("JPY_SESSION_NAME", str(released / "hw1b.ipynb"))
    check.close("p", 0.5)


def test_a_master_folder_only_observes(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    (tmp_path / "solutions" / "hw1").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "solutions" / "hw1")
    assert check.close("anything", 1.0) is None


def test_an_authoring_error_is_loud_interactively(released):
    with pytest.raises(ValueError, match="at most 200"):
        check.equal("n" * 300, 1)


# ------------------------------------------------------------------------------ import cost

def test_checks_import_light_in_a_student_kernel():
    code = ("import sys, autograder.checks; heavy = {'numpy', 'networkx', 'torch', 'pgmpy', "
            "'nbformat', 'nbgrader', 'IPython', 'pandas'} & {m.split('.')[0] for m in sys.modules};"
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
