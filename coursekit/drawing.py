"""Figures of graphs: a DAG in readable layers, a learned graph marked against the truth."""

from __future__ import annotations

import matplotlib.pyplot as plt
import networkx as nx


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
