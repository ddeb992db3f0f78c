"""Equivalence classes and adjustment: Meek's rules R1-R4 (pgmpy 1.1.2's R3 is wrong), the DAGs of a
CPDAG by enumeration, and the optimal adjustment set."""

from __future__ import annotations

import itertools

import networkx as nx


def meek_orient(directed, undirected, use_r4: bool = True):
    """Apply Meek's rules R1-R4 until nothing changes; return (directed, undirected).

    `directed` holds pairs (u, v) meaning u -> v; `undirected` holds pairs {u, v}. From a pattern
    (skeleton plus v-structures) the result is the CPDAG; with background knowledge added as
    directed edges it is the maximally oriented PDAG (Meek 1995); R4 is only ever needed then.
    Returns a set of (u, v) tuples and a set of frozensets.
    """
    directed = {tuple(e) for e in directed}
    undirected = {frozenset(e) for e in undirected}
    clash = {frozenset(e) for e in directed} & undirected
    if clash or any(len(e) != 2 for e in undirected) or any((v, u) in directed for u, v in directed):
        raise ValueError(f"an edge is given twice or with both marks: {sorted(map(sorted, clash))}")
    changed = True
    while changed:
        changed = False
        for edge in sorted(undirected, key=sorted):
            for a, b in itertools.permutations(sorted(edge)):
                if _meek_forces(a, b, directed, undirected, use_r4):
                    undirected.discard(edge)
                    directed.add((a, b))
                    changed = True
                    break
    return directed, undirected


def _meek_forces(a, b, directed, undirected, use_r4: bool) -> bool:
    """True if one of Meek's rules orients the undirected edge a - b as a -> b."""
    def adjacent(u, v):
        return (u, v) in directed or (v, u) in directed or frozenset((u, v)) in undirected

    parents_a = {u for u, v in directed if v == a}
    parents_b = {u for u, v in directed if v == b}
    # R1 (no new v-structure): c -> a - b with c, b non-adjacent.
    if any(not adjacent(c, b) for c in parents_a):
        return True
    # R2 (no cycle): a -> c -> b.
    if any((a, c) in directed for c in parents_b):
        return True
    # R3: a - c -> b <- d - a with c, d NON-adjacent (the check pgmpy 1.1.2 omits).
    spouses = sorted(c for c in parents_b if frozenset((a, c)) in undirected)
    if any(not adjacent(c, d) for c, d in itertools.combinations(spouses, 2)):
        return True
    # R4: c -> d -> b, a adjacent to c and d, c and b non-adjacent.
    for d in parents_b if use_r4 else ():
        parents_d = {u for u, v in directed if v == d}
        if adjacent(a, d) and any(adjacent(a, c) and not adjacent(c, b) for c in parents_d if c != a):
            return True
    return False


def dag_extensions(directed, undirected):
    """Every DAG that keeps `directed`, orients each `undirected` edge and adds no v-structure.

    For a CPDAG these are the members of its Markov equivalence class; for a PDAG carrying
    background knowledge, the members consistent with it. Backtracking with pruning (cycles and new
    colliders are rejected as soon as they appear): exponential in general, instant for the
    dozen-node graphs of a lecture. Returns a list of frozensets of (u, v) edges.
    """
    fixed = {tuple(e) for e in directed}
    todo = sorted(tuple(sorted(e)) for e in undirected)
    adjacent = {frozenset(e) for e in fixed} | {frozenset(e) for e in todo}
    allowed = _colliders(fixed, adjacent)
    if not nx.is_directed_acyclic_graph(nx.DiGraph(list(fixed))):
        return []
    members = []

    def extend(edges, i):
        if i == len(todo):
            members.append(frozenset(edges))
            return
        for u, v in (todo[i], todo[i][::-1]):
            if _reaches(edges, v, u) or _new_collider(edges, u, v, adjacent, allowed):
                continue
            edges.add((u, v))
            extend(edges, i + 1)
            edges.remove((u, v))

    extend(set(fixed), 0)
    return members


def _colliders(edges, adjacent):
    """Unshielded colliders a -> b <- c of an edge set, as (frozenset({a, c}), b)."""
    found = set()
    for a, b in edges:
        for c, d in edges:
            if d == b and c != a and frozenset((a, c)) not in adjacent:
                found.add((frozenset((a, c)), b))
    return found


def _new_collider(edges, u, v, adjacent, allowed) -> bool:
    """Would adding u -> v create an unshielded collider w -> v <- u that is not allowed?"""
    return any(t == v and w != u and frozenset((w, u)) not in adjacent
               and (frozenset((w, u)), v) not in allowed for w, t in edges)


def _reaches(edges, start, goal) -> bool:
    """Is there a directed path start -> ... -> goal along `edges`?"""
    children = {}
    for u, v in edges:
        children.setdefault(u, []).append(v)
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for child in children.get(node, []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return False


def optimal_adjustment_set(edges, x, y):
    """The O-set of Henckel, Perkovic & Maathuis (2022) for the effect of x on y in a DAG.

    O = pa(cn) minus forb, where cn are the nodes on directed paths from x to y (x excluded) and
    forb are the descendants of cn together with x. Under causal sufficiency it is a valid
    adjustment set whose adjusted estimator has the smallest asymptotic variance among all valid
    sets (linear models: Henckel et al.; nonparametric: Rotnitzky & Smucler 2020). It need not be
    minimal: it keeps precision variables (parents of y) and drops treatment-only predictors.
    """
    g = nx.DiGraph(list(edges))
    if x not in g or y not in nx.descendants(g, x):
        raise ValueError(f"{y!r} is not a descendant of {x!r}: the effect is zero, no adjustment needed")
    causal_nodes = nx.descendants(g, x) & (nx.ancestors(g, y) | {y})
    forbidden = {x}.union(*(nx.descendants(g, c) | {c} for c in causal_nodes))
    parents = set().union(*(set(g.predecessors(c)) for c in causal_nodes))
    return parents - forbidden


# ------------------------------------------------------------------------------------------------
# PC and graph evaluation (lecture 03, sections 3-4; reused by the lab 03b). The lecture walks
# through this code; it lives here so that both notebooks run the same, tested implementation.
# Everything is sorted, so results never depend on Python's string-hash order.
# ------------------------------------------------------------------------------------------------
