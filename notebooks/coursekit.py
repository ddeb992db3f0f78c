"""Small helpers shared by the lecture notebooks.

Kept deliberately tiny: anything a student should read to understand a lecture lives in the
notebook itself. What lives here hides library noise students cannot act on.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx

NETWORKS_DIR = Path(__file__).resolve().parent.parent / "data" / "networks"


def smoke_mode(smoke: bool) -> bool:
    """True when the notebook should run its quick variant.

    Papermill sets the `SMOKE` parameter; people running a notebook by hand can set
    `COURSE_SMOKE=1` in the environment instead.
    """
    return bool(smoke) or os.environ.get("COURSE_SMOKE", "") not in ("", "0", "false", "False")


def load_bundled_network(name: str):
    """Load a bnlearn network vendored under `data/networks/<name>.bif` (survey, sachs), offline.

    The `.bif` files are exact copies of the ones bundled in pgmpy 1.1.2 (see
    `data/networks/README.md`). Reading our own copy with `BIFReader` avoids
    `pgmpy.utils.get_example_model`, which is deprecated (removal in pgmpy 1.3) and whose
    replacement downloads from a hub; an upgrade of pgmpy therefore cannot take the data away.
    """
    from pgmpy.readwrite import BIFReader

    path = NETWORKS_DIR / f"{name}.bif"
    if not path.is_file():
        available = sorted(p.stem for p in NETWORKS_DIR.glob("*.bif"))
        raise FileNotFoundError(f"no vendored network {name!r} in {NETWORKS_DIR}; available: {available}")
    return BIFReader(path=str(path)).get_model()


def draw_dag(graph, ax=None, pos=None, title=None, node_color="#cfe2f3", highlight=(), **kwargs):
    """Draw a DAG with networkx + matplotlib (no system graphviz needed).

    `graph` is anything with `.nodes()` and `.edges()` (networkx, pgmpy models).
    Nodes in `highlight` are drawn in orange (e.g. an intervened or conditioned node).
    """
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes())
    g.add_edges_from(graph.edges())
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    if pos is None:
        pos = _layered_layout(g)
    colors = ["#f6b26b" if n in set(highlight) else node_color for n in g.nodes()]
    nx.draw_networkx(
        g, pos=pos, ax=ax, node_color=colors, node_size=1400, arrowsize=18,
        edgecolors="black", font_size=9, **kwargs,
    )
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _layered_layout(g: nx.DiGraph) -> dict:
    """Top-to-bottom layout by topological generation: causes above their effects."""
    if not nx.is_directed_acyclic_graph(g):
        return nx.spring_layout(g, seed=0)
    pos = {}
    generations = list(nx.topological_generations(g))
    for depth, layer in enumerate(generations):
        layer = sorted(layer, key=str)
        for i, node in enumerate(layer):
            pos[node] = (i - (len(layer) - 1) / 2, -depth)
    return pos


# ------------------------------------------------------------------------------------------------
# Causal discovery (lecture 03): Meek's rules, equivalence-class enumeration, the optimal
# adjustment set. Pure functions on plain edge sets; tests/test_coursekit.py checks them against
# brute-force enumeration. Why not pgmpy: in pgmpy 1.1.2, `PDAG.apply_meeks_rules` applies rule R3
# without checking that the two parents are non-adjacent, so it orients edges that are not
# compelled (e.g. a - b in c -> b <- d, c -> d, a - b, a - c, a - d).
# ------------------------------------------------------------------------------------------------


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


def pc_skeleton(df, ci_test, alpha, max_cond_vars=5):
    """PC-stable skeleton search (Colombo & Maathuis 2014).

    `ci_test(x, y, z, significance_level=alpha)` returns True for independence and exposes
    `.p_value_` (pgmpy's tests do). Returns adjacency sets, separating sets {frozenset: set}, a log
    of every deletion and a per-level summary (lists of dicts).
    """
    nodes = list(df.columns)
    adj = {v: set(nodes) - {v} for v in nodes}
    sepsets, log, level_summary = {}, [], []
    level = 0
    while level <= max_cond_vars and any(len(adj[v]) - 1 >= level for v in nodes):
        frozen = {v: set(adj[v]) for v in nodes}      # PC-stable: neighbourhoods fixed for this level
        num_tests, deleted = 0, 0
        for x, y in itertools.combinations(nodes, 2):
            if y not in adj[x]:
                continue
            candidates = sorted(set(itertools.combinations(sorted(frozen[x] - {y}), level))
                                | set(itertools.combinations(sorted(frozen[y] - {x}), level)))
            for s in candidates:
                num_tests += 1
                if ci_test(x, y, list(s), significance_level=alpha):
                    adj[x].discard(y)
                    adj[y].discard(x)
                    sepsets[frozenset((x, y))] = set(s)
                    log.append({"level": level, "pair": f"{x} - {y}", "sepset": "{" + ", ".join(s) + "}",
                                "p-value": float(ci_test.p_value_)})
                    deleted += 1
                    break
        num_edges = sum(len(a) for a in adj.values()) // 2
        level_summary.append({"level (|S|)": level, "CI tests": num_tests, "edges deleted": deleted,
                              "edges left": num_edges})
        level += 1
    return adj, sepsets, log, level_summary


def orient_colliders(adj, sepsets):
    """Phase 2 of PC: x -> z <- y for each unshielded x - z - y with z not in sepset(x, y).

    Triples are visited in sorted order; a collider that contradicts an earlier one is skipped
    (first wins, as in pgmpy). Returns (directed, undirected, colliders as strings).
    """
    directed, colliders = set(), []
    for x, y in itertools.combinations(sorted(adj), 2):
        if y in adj[x]:
            continue
        for z in sorted(adj[x] & adj[y]):
            if z in sepsets[frozenset((x, y))] or (z, x) in directed or (z, y) in directed:
                continue
            directed |= {(x, z), (y, z)}
            colliders.append(f"{x} -> {z} <- {y}")
    pairs = {frozenset((a, b)) for a in adj for b in adj[a]}
    undirected = {e for e in pairs if not any(d in directed for d in itertools.permutations(e))}
    return directed, undirected, colliders


def learn_pc(df, ci_test, alpha):
    """The whole PC algorithm: skeleton, colliders, Meek's rules. Returns (directed, undirected)."""
    adj, sepsets, _, _ = pc_skeleton(df, ci_test, alpha)
    directed, undirected, _ = orient_colliders(adj, sepsets)
    return meek_orient(directed, undirected)


def edge_marks(directed, undirected=()):
    """{frozenset({u, v}): mark}; the mark is (u, v) for u -> v and "-" for an undirected edge."""
    marks = {frozenset(e): "-" for e in undirected}
    marks.update({frozenset((u, v)): (u, v) for u, v in directed})
    return marks


def structural_hamming_distance(est_marks, true_marks) -> int:
    """Pairs whose marks differ: missing, extra, reversed, directed-vs-undirected each count 1."""
    return sum(est_marks.get(p) != true_marks.get(p) for p in set(est_marks) | set(true_marks))


def precision_recall_f1(predicted, truth):
    """Precision (NaN if nothing predicted), recall and F1 (0 if no true positive) of two sets."""
    tp = len(set(predicted) & set(truth))
    precision = tp / len(predicted) if predicted else float("nan")
    recall = tp / len(truth) if truth else float("nan")
    f1 = 2 * tp / (len(predicted) + len(truth)) if tp > 0 else 0.0
    return precision, recall, f1


def evaluate_graph(est_marks, true_dag_marks, true_cpdag_marks=None):
    """SHD (vs CPDAG and DAG), skeleton and oriented-edge precision/recall/F1 of a learned graph."""
    skel_p, skel_r, skel_f1 = precision_recall_f1(set(est_marks), set(true_dag_marks))
    est_dir = {m for m in est_marks.values() if m != "-"}
    or_p, or_r, or_f1 = precision_recall_f1(est_dir, {m for m in true_dag_marks.values() if m != "-"})
    cpdag_shd = (structural_hamming_distance(est_marks, true_cpdag_marks)
                 if true_cpdag_marks is not None else float("nan"))
    return {"SHD vs CPDAG": cpdag_shd, "SHD vs DAG": structural_hamming_distance(est_marks, true_dag_marks),
            "edges": len(est_marks), "directed": len(est_dir),
            "skeleton precision": skel_p, "skeleton recall": skel_r, "skeleton F1": skel_f1,
            "oriented precision": or_p, "oriented recall": or_r, "oriented F1": or_f1}


def draw_learned(marks, true_dag_marks, pos, ax, title, judge_directions=False, true_cpdag_marks=None):
    """Draw a learned graph's edge marks against the truth.

    Green: adjacency of the true DAG; red: extra edge; dotted grey: true edge missed. Arrows are
    judged only when `judge_directions` (runs with knowledge or interventions): solid if right,
    dashed if reversed. For observational runs every arrow the true CPDAG leaves undirected is drawn
    in orange, "unwarranted": its direction is not supported by the data, right or wrong.
    """
    g = nx.DiGraph()
    g.add_nodes_from(pos)
    style = dict(ax=ax, node_size=1100, width=2.0)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color="#cfe2f3", node_size=1100, edgecolors="black")
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
    for pair, mark in marks.items():
        true_mark = true_dag_marks.get(pair)
        color = "tab:green" if true_mark is not None else "tab:red"
        if mark == "-":
            nx.draw_networkx_edges(g, pos, edgelist=[tuple(sorted(pair))], arrows=False, edge_color=color, **style)
            continue
        line = "solid"
        if judge_directions and true_mark is not None and true_mark != mark:
            line = "dashed"
        elif not judge_directions and (true_cpdag_marks or {}).get(pair, "-") == "-":
            color = "tab:orange"
        nx.draw_networkx_edges(g, pos, edgelist=[mark], arrows=True, arrowsize=16, edge_color=color,
                               style=line, **style)
    missed = [tuple(sorted(p)) for p in true_dag_marks if p not in marks]
    nx.draw_networkx_edges(g, pos, edgelist=missed, ax=ax, arrows=False, edge_color="grey", style="dotted",
                           width=1.5, node_size=1100)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
