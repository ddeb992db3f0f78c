"""Small helpers shared by the lecture notebooks and assignment masters (``import coursekit``).

Kept deliberately tiny: anything a student should read to understand a lecture lives in the
notebook itself. What lives here hides library noise students cannot act on, or is an oracle the
lectures check a library against. Installed with the course (``pip install -e .``), so it imports
from any working directory, and the grading sandbox copies it next to the harness.
"""

from __future__ import annotations

from .discovery import (
    edge_marks,
    evaluate_graph,
    learn_pc,
    orient_colliders,
    pc_skeleton,
    precision_recall_f1,
    structural_hamming_distance,
)
from .drawing import draw_dag, draw_learned
from .graphs import dag_extensions, meek_orient, optimal_adjustment_set
from .notebook import NETWORKS_DIR, load_bundled_network, smoke_mode

__all__ = [
    "NETWORKS_DIR",
    "dag_extensions",
    "draw_dag",
    "draw_learned",
    "edge_marks",
    "evaluate_graph",
    "learn_pc",
    "load_bundled_network",
    "meek_orient",
    "optimal_adjustment_set",
    "orient_colliders",
    "pc_skeleton",
    "precision_recall_f1",
    "smoke_mode",
    "structural_hamming_distance",
]
