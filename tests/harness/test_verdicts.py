"""The grader's half of a check: the strict decoder and every checker's decision (pure, no kernel)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import warnings

import networkx as nx
import pytest

from autograder import verdicts as v
from autograder.verdicts import BadObservation, Verdict, decide, decode_observation

NAN, INF = {"$float": "nan"}, {"$float": "inf"}


def rec(kind, value, name="q", **spec):
    return {"name": name, "kind": kind, "value": value, "spec": spec, "line": 3}


def check(kind, expected_value, observed_value, **spec) -> Verdict:
    return decide(rec(kind, expected_value, **spec), rec(kind, observed_value))


def arr(*data, shape=None):
    return {"shape": [len(data)] if shape is None else shape, "data": list(data)}


# ------------------------------------------------------------------------------------ decoder

def test_decoder_accepts_text_bytes_and_parsed_objects_and_fills_defaults():
    raw = {"name": "p", "kind": "close", "value": arr(1.5)}
    for form in (raw, json.dumps(raw), json.dumps(raw).encode()):
        assert decode_observation(form) == {**raw, "spec": {}, "line": None}


def nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("raw, reason", [
    ({"name": "p", "kind": "equal", "value": nested(25)}, "nested deeper than 20"),
    ('{"name": "p", "kind": "equal", "value": ' + "[" * 100_000 + "]" * 100_000 + "}", "not JSON"),
    ({"name": "p", "kind": "equal", "value": "x" * 100_001}, "longer than 100000"),
    ({"name": "p", "kind": "equal", "value": ["ab" * 20_000] * 30}, "too large"),
    ("[" * 1_100_000, "too large"),
    ({"name": "p", "kind": "equal", "value": [0] * 100_001}, "more than 100000 values"),
    ({"name": "p", "kind": "equal", "value": [[]] * 100_001}, "more than 100000 lists"),
    ({"name": "p", "kind": "equal", "value": (1, 2)}, "not a JSON type: tuple"),
    ({"name": "p", "kind": "equal", "value": {1, 2}}, "not a JSON type: set"),
    ({"name": "p", "kind": "equal", "value": {1: 2}}, "object key of type int"),
    ({"name": "p", "kind": "equal", "value": float("nan")}, "non-finite"),
    ('{"name": "p", "kind": "equal", "value": NaN}', "not JSON: NaN"),
    ({"name": "p", "kind": "equal", "value": 2 ** 5000}, "integer of more than"),
    ('{"name": "p", "kind": "equal", "value": ' + "9" * 5000 + "}", "not JSON"),
    ({"name": "p", "kind": "equal", "value": "\ud800"}, "surrogate"),
    ({"name": "p", "kind": "equal", "value": {"\udfff": 1}}, "surrogate"),
    ('{"name": "p", "kind": "equal", "value": "\\ud800"}', "surrogate"),
    (b'{"name": "\xff"}', "not JSON"),
    ("{'name': 'p'}", "not JSON"),
    ([1, 2], "is an object, got list"),
    ({"kind": "equal", "value": 1}, "missing keys: name"),
    ({"name": "p", "kind": "equal", "value": 1, "hidden": True}, "unknown keys: hidden"),
    ({"name": "p", "kind": "eval", "value": 1}, "unknown kind"),
    ({"name": "", "kind": "equal", "value": 1}, "non-empty string"),
    ({"name": "p" * 201, "kind": "equal", "value": 1}, "at most 200"),
    ({"name": 7, "kind": "equal", "value": 1}, "non-empty string"),
    ({"name": "p", "kind": "equal", "value": 1, "spec": []}, "spec must be an object"),
    ({"name": "p", "kind": "equal", "value": 1, "line": True}, "line must be an integer"),
    ({"name": "p", "kind": "equal", "value": object()}, "not a JSON type: object"),
])
def test_decoder_refuses_with_a_reason(raw, reason):
    with pytest.raises(BadObservation) as info:
        decode_observation(raw)
    assert reason in info.value.reason and str(info.value) == info.value.reason
    assert isinstance(info.value, ValueError)


def test_decoder_limits_are_inclusive():
    decode_observation({"name": "p", "kind": "equal", "value": nested(19)})
    decode_observation({"name": "p", "kind": "equal", "value": [0] * 99_000})
    decode_observation({"name": "p" * 200, "kind": "equal", "value": "x" * 100_000})


# ------------------------------------------------------------------------------------ verdict

def test_verdict_is_frozen_and_unpacks():
    verdict = Verdict(False, "q: no")
    passed, message = verdict
    assert (passed, message) == (False, "q: no")
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.passed = True


def test_every_kind_has_a_decider():
    assert set(v.DECIDERS) == set(v.KINDS)


def test_message_teaches_with_the_masters_hint_and_ignores_the_students_spec():
    expected = rec("close", arr(0.0287, shape=[]), name="p_evidence", rtol=1e-6,
                   hint="multiply the CPT entries")
    observed = {**rec("close", arr(0.04, shape=[])), "spec": {"rtol": 10.0, "hint": "forged"}}
    assert decide(expected, observed) == Verdict(
        False, "p_evidence: expected 0.0287 (rtol 1e-06), got 0.04 Hint: multiply the CPT entries")
    observed["kind"] = "equal"   # the student's kind is ignored too
    assert not decide(expected, observed).passed


def test_long_messages_are_cut_before_the_hint():
    long = "N" * 400
    verdict = check("same_set", {"items": [long]}, {"items": []}, hint="think")
    assert verdict.message.endswith("... Hint: think")
    assert len(verdict.message) <= v.MAX_MESSAGE + len(" Hint: think")


def test_an_error_record_fails_with_its_message():
    verdict = check("close", arr(1.0), {"error": "cannot compare a Foo: return a float"})
    assert verdict == Verdict(False, "q: cannot compare a Foo: return a float")
    assert "master" in check("close", {"error": "boom"}, arr(1.0)).message


HOSTILE = [None, True, 0, "x", [], {}, [[1]], {"data": "x"}, {"shape": "x", "data": [1]},
           {"shape": [2], "data": [1]}, {"shape": [-1], "data": []}, {"data": [{"$float": "x"}]},
           {"items": [1, [2]]}, {"items": "abc"}, {"raised": "ValueError"}, {"raised": [1]},
           {"edges": [["A"]]}, {"edges": [[1.5, "B"]]}, {"edges": [[None, "B"]]},
           {"edges": "AB"}, {"directed": [["A", "B"]]}, {"statements": [["A", "B"]]},
           {"statements": [[["A"], ["B"], "C"]]}, {"nodes": "Z"}, {"nodes": [["Z"]]},
           {"nodes": [True]}, {"error": 3}, {"shape": [1e9], "data": []}]
GOOD = {
    "close": (arr(1.0), {}),
    "equal": ({"data": [1, "a"]}, {}),
    "same_set": ({"items": [1, 2]}, {}),
    "raises": ({"raised": ["builtins.ValueError"]}, {}),
    "same_graph": ({"edges": [["A", "B"]]}, {}),
    "markov_equivalent": ({"edges": [["A", "B"]]}, {}),
    "same_cpdag": ({"directed": [["A", "B"]], "undirected": []}, {}),
    "independences": ({"statements": [[["A"], ["B"], []]]}, {}),
    "adjustment_set": ({"nodes": []}, {"graph": {"edges": [["T", "Y"]]}, "treatment": "T",
                                         "outcome": "Y"}),
    "separating_set": ({"nodes": []}, {"graph": {"edges": [["X", "Z"]], "nodes": ["Y"]},
                                       "x": "X", "y": "Y"}),
}


@pytest.mark.parametrize("kind", v.KINDS)
def test_hostile_values_fail_without_crashing(kind):
    value, spec = GOOD[kind]
    assert check(kind, value, value, **spec).passed, "the good value must pass"
    for hostile in HOSTILE:
        verdict = decide(rec(kind, value, **spec), decode_observation(rec(kind, hostile)))
        assert not verdict.passed, (kind, hostile)
        assert verdict.message.startswith("q: ") and len(verdict.message) <= v.MAX_MESSAGE


# -------------------------------------------------------------------------------------- close

@pytest.mark.parametrize("expected, observed, spec, passed", [
    (arr(1.0), arr(1.0 + 1e-8), {}, True),
    (arr(1.0), arr(1.0 + 1e-6), {}, False),
    (arr(1.0), arr(1.1), {"rtol": 0.2}, True),
    (arr(0.0), arr(0.001), {"atol": 0.01}, True),
    (arr(0.0), arr(1e-12), {}, False),                   # rtol alone: zero must be exact
    (arr(NAN), arr(NAN), {}, True),
    (arr(NAN), arr(1.0), {"rtol": 1e9}, False),
    (arr(1.0), arr(NAN), {"rtol": 1e9}, False),
    (arr(INF), arr(INF), {}, True),
    (arr(INF), arr({"$float": "-inf"}), {}, False),
    (arr(1.0), arr(INF), {"rtol": 1e9}, False),
    (arr(1, 2), arr(1, 2), {}, True),                      # ints are numbers
    (arr(1.0, 2.0), arr(1.0, 2.0, 3.0), {}, False),
    (arr(1.0, 2.0, shape=[2, 1]), arr(1.0, 2.0, shape=[1, 2]), {}, False),
    (arr(1.0, shape=[]), arr(1.0), {}, False),             # a float is not a 1-element array
])
def test_close(expected, observed, spec, passed):
    assert check("close", expected, observed, **spec).passed is passed


def test_close_messages_say_where_and_how_much():
    assert check("close", arr(1.0, 2.0), arr(1.0, 2.0, 3.0)).message == \
        "q: expected shape (2,), got shape (3,)"
    message = check("close", arr(1, 2, 3, 4, shape=[2, 2]), arr(1, 2, 9, 9, shape=[2, 2]),
                    rtol=0, atol=0.1).message
    assert message == "q: 2 of 4 elements differ; at [1, 0]: expected 3 (atol 0.1), got 9"
    assert "(rtol 0.001, atol 0.5)" in check("close", arr(1.0), arr(5.0), rtol=1e-3,
                                              atol=0.5).message
    assert "got nan" in check("close", arr(1.0), arr(NAN)).message


# -------------------------------------------------------------------------------------- equal

@pytest.mark.parametrize("expected, observed, passed", [
    ([1, "a", None], [1, "a", None], True),
    ({"a": 1, "b": [2]}, {"b": [2], "a": 1}, True),
    (2, 2.0, True),                     # integral floats equal ints
    (True, 1, False),                   # bool is not int
    (False, 0, False),
    (0.3, 0.30000000000000004, False),  # floats compared exactly
    (NAN, NAN, True),
    ("1", 1, False),
    ([1, 2], [2, 1], False),
    ({"$set": [1, 2]}, {"$set": [2, 1, 2.0]}, True),  # tagged sets: order and duplicates
])
def test_equal(expected, observed, passed):
    assert check("equal", {"data": expected}, {"data": observed}).passed is passed


def test_equal_message_shows_values_as_python():
    assert check("equal", {"data": [1, NAN, {"$$k": True}]}, {"data": [1]}).message == \
        "q: expected [1, nan, {'$k': True}], got [1]"


# ---------------------------------------------------------------------------- same_set, raises

def test_same_set_ignores_order_and_duplicates_and_names_the_difference():
    assert check("same_set", {"items": [["A", "B"], "C"]}, {"items": ["C", ["A", "B"], "C"]}).passed
    verdict = check("same_set", {"items": [["A", "B"], "C"]}, {"items": [["B", "A"], "C", "D"]})
    assert verdict.message == "q: missing ['A', 'B']; extra 'D', ['B', 'A']"


ERR_MRO = ["builtins.KeyError", "builtins.LookupError", "builtins.Exception",
           "builtins.BaseException", "builtins.object"]


@pytest.mark.parametrize("observed, message", [
    (ERR_MRO, None),
    (["__main__.MyError", *ERR_MRO[:]], None),                       # a subclass passes
    (["builtins.IndexError", *ERR_MRO[1:]], "expected KeyError to be raised, got IndexError"),
    (["__main__.KeyError", "builtins.Exception"], "got __main__.KeyError"),  # a namesake fails
    (None, "expected KeyError to be raised, got no exception"),
])
def test_raises(observed, message):
    verdict = check("raises", {"raised": ERR_MRO}, {"raised": observed})
    assert verdict.passed is (message is None)
    assert message is None or message in verdict.message


# ------------------------------------------------------------------------------------- graphs

def edges(*pairs):
    return {"edges": [list(p) for p in pairs]}


def test_same_graph_directed_and_undirected():
    assert check("same_graph", edges("AB", "CD"), edges("CD", "AB", "AB")).passed
    assert check("same_graph", edges("AB", "CD"), edges("AB", "DC")).message == \
        "q: missing edges C->D; extra edges D->C"
    assert check("same_graph", edges("AB", "CD"), edges("BA", "DC"), directed=False).passed
    assert check("same_graph", edges("AB"), edges("AB", "CA"), directed=False).message == \
        "q: extra edges A-C"


def test_markov_equivalent_accepts_every_member_of_the_class():
    chain = edges("AB", "BC", "CD")
    for member in (edges("DC", "CB", "BA"), edges("BA", "BC", "CD"), edges("CB", "BA", "CD")):
        assert check("markov_equivalent", chain, member).passed, member
    collider = edges("AC", "BC", "CD")
    assert check("markov_equivalent", chain, edges("AB", "CB", "CD")).message == \
        "q: 1 v-structure differs: extra A->B<-C"
    assert check("markov_equivalent", collider, edges("CA", "BC", "CD")).message == \
        "q: 1 v-structure differs: missing A->C<-B"
    assert check("markov_equivalent", chain, edges("AB", "BC", "CD", "DB")).message == \
        "q: not a DAG: cycle B->C->D->B"
    assert "self-loop on A" in check("markov_equivalent", chain, edges("AA")).message
    assert check("markov_equivalent", chain, edges("AB", "BC")).message == \
        "q: missing adjacencies C-D"


def test_markov_equivalence_agrees_with_enumerating_the_class():
    """Oracle: two DAGs are equivalent iff they have the same d-separations (all triples)."""
    rng = random.Random(0)
    nodes = "ABCD"
    for _ in range(40):
        a, b = random_dag(rng, nodes, 0.5), random_dag(rng, nodes, 0.5)
        same = all(nx.is_d_separator(a, {x}, {y}, set(z)) == nx.is_d_separator(b, {x}, {y}, set(z))
                   for x, y in itertools.combinations(nodes, 2)
                   for k in range(3) for z in itertools.combinations(set(nodes) - {x, y}, k))
        assert check("markov_equivalent", edges(*a.edges), edges(*b.edges)).passed is same


def test_same_cpdag():
    expected = {"directed": [["A", "C"], ["B", "C"]], "undirected": [["C", "D"]]}
    assert check("same_cpdag", expected,
                 {"directed": [["B", "C"], ["A", "C"]], "undirected": [["D", "C"]]}).passed
    verdict = check("same_cpdag", expected,
                    {"directed": [["A", "C"], ["B", "C"], ["C", "D"]], "undirected": []})
    assert verdict.message == "q: extra directed edges C->D; missing undirected edges C-D"


def test_independences_ignore_order_of_sides_and_conditioning_sets():
    expected = {"statements": [[["A"], ["B"], []], [["A"], ["D"], ["B", "C"]]]}
    assert check("independences", expected,
                 {"statements": [[["D"], ["A"], ["C", "B"]], [["B"], ["A"], []],
                                 [["A"], ["B"], []]]}).passed
    verdict = check("independences", expected, {"statements": [[["A"], ["B"], ["C"]]]})
    assert verdict.message == ("q: missing A ⟂ B | {}, A ⟂ D | {B, C}; "
                               "extra A ⟂ B | {C}")


# --------------------------------------------------------------------------- adjustment sets

# T <- A -> C <- B -> Y, T -> M -> Y, U -> T, U -> Y (U latent), A -> Y
DAG = {"edges": [list(e) for e in ("AT", "AC", "BC", "BY", "TM", "MY", "UT", "UY", "AY")]}
DAG_SPEC = {"graph": DAG, "treatment": "T", "outcome": "Y"}
M_BIAS = {"graph": {"edges": [list(e) for e in ("AT", "AC", "BC", "BY", "TY")]},
          "treatment": "T", "outcome": "Y"}


@pytest.mark.parametrize("spec, zset, message", [
    (M_BIAS, [], None),
    (M_BIAS, ["A"], None),
    (M_BIAS, ["B"], None),                     # another valid set
    (M_BIAS, ["A", "C"], None),
    (M_BIAS, ["C"], "{C} opens the back-door path T <- A -> C <- B -> Y "
                    "(conditioning on the collider C)"),
    (DAG_SPEC, ["A", "U"], None),
    (DAG_SPEC, ["A"], "{A} leaves open the back-door path T <- U -> Y"),
    (DAG_SPEC, ["A", "U", "M"], "contains a descendant of T: {M}"),
    (DAG_SPEC, ["A", "U", "T"], "must not contain the treatment T or the outcome Y"),
    (DAG_SPEC, ["A", "U", "Q"], "not in the graph: Q"),
    ({**DAG_SPEC, "latent": ["U"]}, ["A", "U"], "contains unobserved {U}"),
])
def test_adjustment_set(spec, zset, message):
    verdict = check("adjustment_set", {"nodes": ["A"]}, {"nodes": zset}, **spec)
    assert verdict.passed is (message is None), verdict
    assert message is None or message in verdict.message


def test_separating_set():
    spec = {"graph": {"edges": [list(e) for e in ("XA", "AY", "XC", "YC", "CD")]}, "x": "X",
            "y": "Y"}
    assert check("separating_set", {"nodes": ["A"]}, {"nodes": ["A"]}, **spec).passed
    assert check("separating_set", {"nodes": ["A"]}, {"nodes": []}, **spec).message == \
        "q: {} leaves open the path X -> A -> Y"
    assert check("separating_set", {"nodes": ["A"]}, {"nodes": ["A", "D"]}, **spec).message == \
        "q: {A, D} opens the path X -> C <- Y (conditioning on D, a descendant of the collider C)"
    assert "must not contain X or Y" in check("separating_set", {"nodes": []}, {"nodes": ["X"]},
                                              **spec).message


def random_dag(rng: random.Random, nodes: str, p: float) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:] if rng.random() < p)
    return g


def test_backdoor_agrees_with_pgmpy_on_random_dags():
    """pgmpy tests only the blocking half; the descendant half is ours (checked separately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.base import DAG as PgmpyDAG
        from pgmpy.inference import CausalInference

        rng = random.Random(1)
        outcomes, disagreements = [], 0
        for _ in range(25):
            g = random_dag(rng, "ABCDEFG", 0.4)
            t, y = rng.sample("ABCDE", 1)[0], "G"
            dag = PgmpyDAG()
            dag.add_nodes_from(g.nodes)
            dag.add_edges_from(g.edges)
            inference = CausalInference(dag)
            others = [n for n in g if n not in (t, y)]
            for k in range(len(others) + 1):
                for z in itertools.combinations(others, k):
                    ours = v.backdoor_problem(g, t, y, set(z)) is None
                    if nx.descendants(g, t) & set(z):
                        assert not ours
                        continue
                    theirs = inference.is_valid_backdoor_adjustment_set(t, y, list(z))
                    outcomes.append(theirs)
                    disagreements += ours != theirs
    assert disagreements == 0
    assert len(outcomes) > 400 and 50 < sum(outcomes) < len(outcomes) - 50   # both answers occur
