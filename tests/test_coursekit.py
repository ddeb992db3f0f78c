"""Tests for the coursekit package: Meek's rules and equivalence classes against brute force,
the optimal adjustment set, and the vendored networks against pgmpy's bundled copies."""

from __future__ import annotations

import gzip
import itertools
import random
import warnings
from importlib.resources import files

import networkx as nx
import pytest

import coursekit

# ---------------------------------------------------------------------------------------------
# Oracles: brute-force Markov equivalence classes (no pruning, no rules; just the definition).
# ---------------------------------------------------------------------------------------------


def random_dag(rng: random.Random, num_nodes: int, p_edge: float):
    """A random DAG: edges only from earlier to later nodes of a shuffled order."""
    order = [f"v{i}" for i in range(num_nodes)]
    rng.shuffle(order)
    return [(u, v) for i, u in enumerate(order) for v in order[i + 1:] if rng.random() < p_edge]


def v_structures(edges):
    adjacent = {frozenset(e) for e in edges}
    return {(frozenset((a, c)), b) for (a, b), (c, d) in itertools.product(edges, edges)
            if b == d and a != c and frozenset((a, c)) not in adjacent}


def brute_force_class(edges):
    """Markov equivalence class by definition: same skeleton, same v-structures, acyclic."""
    skeleton = sorted(tuple(sorted(e)) for e in edges)
    target = v_structures(edges)
    members = []
    for flips in itertools.product((False, True), repeat=len(skeleton)):
        dag = [(v, u) if flip else (u, v) for (u, v), flip in zip(skeleton, flips, strict=True)]
        if nx.is_directed_acyclic_graph(nx.DiGraph(dag)) and v_structures(dag) == target:
            members.append(frozenset(dag))
    return members


def compelled(members):
    """Edges with the same direction in every member (the directed part of the CPDAG)."""
    return set.intersection(*(set(m) for m in members))


def pattern(edges):
    """Skeleton with only the v-structures oriented: the input to Meek's rules."""
    directed = {(a, b) for pair, b in v_structures(edges) for a in pair}
    undirected = {frozenset(e) for e in edges if tuple(e) not in directed}
    return directed, undirected


def random_dags(count: int, seed: int):
    rng = random.Random(seed)
    dags = []
    while len(dags) < count:
        dag = random_dag(rng, rng.randint(3, 6), rng.choice([0.3, 0.5, 0.7]))
        if 0 < len(dag) <= 11:           # keep the 2^m brute force fast
            dags.append(dag)
    return dags


RANDOM_DAGS = random_dags(250, seed=20261123)

# ---------------------------------------------------------------------------------------------
# Meek's rules
# ---------------------------------------------------------------------------------------------


def test_meek_rules_give_the_cpdag_of_random_dags():
    for dag in RANDOM_DAGS:
        members = brute_force_class(dag)
        directed, undirected = coursekit.meek_orient(*pattern(dag))
        assert directed == compelled(members), f"DAG {dag}: rules oriented {directed}"
        assert undirected == {frozenset(e) for e in dag} - {frozenset(e) for e in directed}


def test_meek_rules_with_background_knowledge_orient_exactly_what_the_knowledge_forces():
    """With true directions added as knowledge, R1-R4 are complete (Meek 1995)."""
    rng = random.Random(7)
    fired_r4_somewhere = False
    for dag in RANDOM_DAGS:
        knowledge = {e for e in dag if rng.random() < 0.3}
        consistent = [m for m in brute_force_class(dag) if knowledge <= m]
        start_directed, start_undirected = pattern(dag)
        start_undirected -= {frozenset(e) for e in knowledge}
        directed, _ = coursekit.meek_orient(start_directed | knowledge, start_undirected)
        assert directed == compelled(consistent), f"DAG {dag}, knowledge {knowledge}"
        without_r4, _ = coursekit.meek_orient(start_directed | knowledge, start_undirected, use_r4=False)
        fired_r4_somewhere |= without_r4 != directed
    assert fired_r4_somewhere, "no random case needed rule R4: the test would not catch an R4 bug"


REVIEW_COUNTEREXAMPLE = {"directed": {("c", "b"), ("d", "b"), ("c", "d")},
                         "undirected": {frozenset(("a", "b")), frozenset(("a", "c")), frozenset(("a", "d"))}}


def test_r3_needs_non_adjacent_parents_on_the_review_counterexample():
    directed, undirected = coursekit.meek_orient(**REVIEW_COUNTEREXAMPLE)
    assert frozenset(("a", "b")) in undirected
    members = coursekit.dag_extensions(**REVIEW_COUNTEREXAMPLE)
    assert {("b", "a"), ("c", "d"), ("c", "b"), ("d", "b"), ("c", "a"), ("d", "a")} in members
    assert any(("a", "b") in m for m in members) and any(("b", "a") in m for m in members)
    assert directed == compelled(members)


def test_pgmpy_r3_defect_is_still_present():
    """Documents why the course does not use pgmpy's rules. If this fails, pgmpy fixed R3."""
    from pgmpy.base import PDAG

    pdag = PDAG(directed_ebunch=sorted(REVIEW_COUNTEREXAMPLE["directed"]),
                undirected_ebunch=[tuple(sorted(e)) for e in REVIEW_COUNTEREXAMPLE["undirected"]])
    assert ("a", "b") in pdag.apply_meeks_rules(apply_r4=True).directed_edges


def test_meek_rejects_an_edge_given_with_two_marks():
    with pytest.raises(ValueError, match="twice"):
        coursekit.meek_orient({("a", "b")}, {("a", "b")})
    with pytest.raises(ValueError):
        coursekit.meek_orient({("a", "b"), ("b", "a")}, set())

# ---------------------------------------------------------------------------------------------
# Equivalence-class enumeration
# ---------------------------------------------------------------------------------------------


def test_dag_extensions_of_the_cpdag_are_the_equivalence_class():
    for dag in RANDOM_DAGS:
        directed, undirected = coursekit.meek_orient(*pattern(dag))
        assert sorted(map(sorted, coursekit.dag_extensions(directed, undirected))) == \
            sorted(map(sorted, brute_force_class(dag))), f"DAG {dag}"


def test_dag_extensions_of_the_sachs_network():
    """A complete triangle has 6 orientations; the class of the Sachs network is a product."""
    triangle = coursekit.dag_extensions(set(), {("a", "b"), ("b", "c"), ("a", "c")})
    assert len(triangle) == 6
    model = coursekit.load_bundled_network("sachs")
    members = coursekit.dag_extensions(set(), set(model.edges()))   # its CPDAG is undirected
    assert frozenset(model.edges()) in members
    assert all(v_structures(sorted(m)) == set() for m in members)
    assert len(members) == 336


def test_dag_extensions_of_a_cyclic_input_is_empty():
    assert coursekit.dag_extensions({("a", "b"), ("b", "a")}, set()) == []

# ---------------------------------------------------------------------------------------------
# Optimal adjustment set
# ---------------------------------------------------------------------------------------------


def backdoor_valid(edges, x, y, z):
    g = nx.DiGraph(list(edges))
    if set(z) & (nx.descendants(g, x) | {x, y}):
        return False
    g.remove_edges_from(list(g.out_edges(x)))
    return nx.is_d_separator(g, {x}, {y}, set(z))


def test_optimal_adjustment_set_hand_example():
    # z1 -> x -> m -> y, z2 -> y (precision variable), z3 -> m, w -> x only (treatment predictor).
    edges = [("z1", "x"), ("w", "x"), ("z1", "y"), ("x", "m"), ("m", "y"), ("z2", "y"), ("z3", "m")]
    assert coursekit.optimal_adjustment_set(edges, "x", "y") == {"z1", "z2", "z3"}


def test_optimal_adjustment_set_is_a_valid_backdoor_set_on_random_dags():
    checked = 0
    for dag in RANDOM_DAGS:
        g = nx.DiGraph(dag)
        for x, y in itertools.permutations(g.nodes(), 2):
            if y in nx.descendants(g, x):
                o_set = coursekit.optimal_adjustment_set(dag, x, y)
                assert backdoor_valid(dag, x, y, o_set), f"DAG {dag}: O({x}, {y}) = {o_set}"
                checked += 1
    assert checked > 500


def test_optimal_adjustment_set_for_mek_on_erk_in_sachs_is_pka():
    model = coursekit.load_bundled_network("sachs")
    assert coursekit.optimal_adjustment_set(model.edges(), "Mek", "Erk") == {"PKA"}
    with pytest.raises(ValueError, match="not a descendant"):
        coursekit.optimal_adjustment_set(model.edges(), "Erk", "Mek")

# ---------------------------------------------------------------------------------------------
# Vendored networks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["survey", "sachs"])
def test_vendored_network_equals_pgmpy_bundled_copy(name):
    from pgmpy.readwrite import BIFReader

    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # the course loader must be silent
        ours = coursekit.load_bundled_network(name)
    bundled_text = gzip.decompress((files("pgmpy") / f"utils/example_models/{name}.bif.gz").read_bytes())
    assert (coursekit.NETWORKS_DIR / f"{name}.bif").read_bytes() == bundled_text
    theirs = BIFReader(string=bundled_text.decode("utf-8")).get_model()
    assert sorted(ours.edges()) == sorted(theirs.edges())
    for cpd in theirs.get_cpds():
        mine = ours.get_cpds(cpd.variable)
        assert mine.state_names == cpd.state_names and mine.variables == cpd.variables
        assert (mine.get_values() == cpd.get_values()).all()


def test_unknown_network_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="available: .*sachs"):
        coursekit.load_bundled_network("no-such-network")

# ---------------------------------------------------------------------------------------------
# PC with a perfect independence oracle, and the evaluation metrics
# ---------------------------------------------------------------------------------------------


class DSeparationOracle:
    """A CI 'test' that answers by d-separation in a known DAG (PC's idealised input)."""

    def __init__(self, edges, nodes):
        self.graph = nx.DiGraph(edges)
        self.graph.add_nodes_from(nodes)
        self.p_value_ = None

    def __call__(self, x, y, z, significance_level):
        independent = nx.is_d_separator(self.graph, {x}, {y}, set(z))
        self.p_value_ = 1.0 if independent else 0.0
        return independent


def test_pc_with_a_d_separation_oracle_returns_the_cpdag():
    import pandas as pd

    for dag in RANDOM_DAGS:
        nodes = sorted({v for e in dag for v in e})
        oracle = DSeparationOracle(dag, nodes)
        directed, undirected = coursekit.learn_pc(pd.DataFrame(columns=nodes), oracle, alpha=0.01)
        assert directed == compelled(brute_force_class(dag)), f"DAG {dag}"
        assert {frozenset(e) for e in directed} | undirected == {frozenset(e) for e in dag}


def test_metrics_on_a_hand_example():
    # Truth A -> B <- C, B -> D (its own CPDAG). Learned: A -> B right, B - C undirected,
    # D -> B reversed, A - D extra.
    true_marks = coursekit.edge_marks({("A", "B"), ("C", "B"), ("B", "D")})
    learned = coursekit.edge_marks({("A", "B"), ("D", "B")}, {("B", "C"), ("A", "D")})
    m = coursekit.evaluate_graph(learned, true_marks, true_marks)
    assert m["SHD vs CPDAG"] == 3 and m["SHD vs DAG"] == 3 and m["edges"] == 4 and m["directed"] == 2
    assert m["skeleton precision"] == pytest.approx(3 / 4) and m["skeleton recall"] == 1.0
    assert m["skeleton F1"] == pytest.approx(6 / 7)
    assert m["oriented precision"] == 0.5 and m["oriented recall"] == pytest.approx(1 / 3)
    assert m["oriented F1"] == pytest.approx(0.4)
    empty = coursekit.evaluate_graph({}, true_marks, true_marks)
    assert empty["skeleton F1"] == 0.0 and empty["SHD vs DAG"] == 3
