"""Small helpers shared by the lecture notebooks.

Kept deliberately tiny: anything a student should read to understand a lecture lives in the
notebook itself. What lives here hides library noise students cannot act on.
"""

from __future__ import annotations

import os
import warnings

import matplotlib.pyplot as plt
import networkx as nx


def smoke_mode(smoke: bool) -> bool:
    """True when the notebook should run its quick variant.

    Papermill sets the `SMOKE` parameter; people running a notebook by hand can set
    `COURSE_SMOKE=1` in the environment instead.
    """
    return bool(smoke) or os.environ.get("COURSE_SMOKE", "") not in ("", "0", "false", "False")


def load_bundled_network(name: str):
    """Load a bnlearn network that ships inside pgmpy (asia, cancer, sachs, alarm, ...), offline.

    `pgmpy.utils.get_example_model` reads the `.bif.gz` bundled in the package but warns that it
    will be removed in pgmpy 1.3; its suggested replacement `pgmpy.example_models.load_model`
    downloads from a hub and fails offline. The course pins pgmpy 1.1.2, so the bundled loader is
    the right one here and the warning is noise a student cannot act on.
    """
    from pgmpy.utils import get_example_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return get_example_model(name)


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
